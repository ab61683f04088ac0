import Foundation
@testable import RedisStreams
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A stream read whose reply is cut short (the server goes away mid-reply) must leave no trace
/// of the flat reader in hiredis: the connection is freed without touching the caller's
/// `FlatReply`, which the next connection reuses.
@Suite struct CutReplyTests {
    /// Answers each accepted connection's first command with the next of `replies`, then closes it.
    final class FakeServer: @unchecked Sendable {  // the listening socket is only used by its thread
        let port: Int
        private let fd: Int32

        init(replies: [String]) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            var len = socklen_t(MemoryLayout<sockaddr_in>.size)
            let fd = self.fd
            let ok = withUnsafeMutablePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, len) == 0 && listen(fd, 4) == 0 && getsockname(fd, $0, &len) == 0
                }
            }
            guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
            port = Int(UInt16(bigEndian: addr.sin_port))
            Thread.detachNewThread {
                for reply in replies {
                    let c = accept(fd, nil, nil)
                    guard c >= 0 else { return }
                    var buffer = [UInt8](repeating: 0, count: 4096)
                    _ = read(c, &buffer, buffer.count)
                    let bytes = Array(reply.utf8)
                    _ = bytes.withUnsafeBytes { send(c, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    close(c)
                }
            }
        }

        deinit { close(fd) }
    }

    func xreadgroup() -> Argv {
        var a = Argv(capacity: 64)
        for s in ["XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "STREAMS", "s", ">"] { a.append(s) }
        return a
    }

    @Test func aReplyCutShortLeavesTheFlatReaderReusable() throws {
        let full = "*1\r\n*2\r\n$1\r\ns\r\n*1\r\n*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nk\r\n$1\r\nv\r\n"
        // The same reply cut inside the entry list, then the connection closes.
        let cut = String(full.prefix(28))
        let server = try FakeServer(replies: [cut, full])
        let config = RedisConfiguration(endpoint: .tcp(host: "127.0.0.1", port: server.port))
        let flat = FlatReply()

        var first: RedisConnection? = try RedisConnection.open(config, socketTimeout: .seconds(5))
        try first!.send(xreadgroup(), operation: "XREADGROUP", stream: "s")
        #expect(throws: RedisError.self) {
            try first!.readFlatReply(into: flat, operation: "XREADGROUP", stream: "s") { _ in () }
        }
        first = nil  // redisFree: must not free what the flat reader handed to hiredis

        let second = try RedisConnection.open(config, socketTimeout: .seconds(5))
        try second.send(xreadgroup(), operation: "XREADGROUP", stream: "s")
        let decoded = try second.readFlatReply(into: flat, operation: "XREADGROUP", stream: "s") { r throws(RedisError) in
            try StreamBatch.decodeRead(r, source: .new, skipThrough: { _ in nil }, operation: "XREADGROUP")
        }
        #expect(decoded.count == 1 && decoded[0].batch.count == 1)
        #expect(decoded[0].batch.string(decoded[0].batch.value(of: "k", inEntry: 0)!) == "v")
    }
}
