@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
import Glibc
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization
import Parquet
import Testing

@Suite struct HealthServerTests {
    final class Flag: Sendable {
        let ready = Mutex<String?>("redis: connecting")
        let hung = Mutex<String?>(nil)
        let port = Mutex<Int>(0)
    }

    func get(_ port: Int, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func servesHealthReadinessAndMetrics() async throws {
        let metrics = WorkerMetrics()
        let flag = Flag()
        let server = try HealthServer(listen: "127.0.0.1:0", metrics: metrics, logger: Logger(label: "test"),
                                      readiness: { flag.ready.withLock { $0 } },
                                      liveness: { flag.hung.withLock { $0 } },
                                      onBound: { p in flag.port.withLock { $0 = p } })
        let task = Task { try await server.run() }
        defer { task.cancel() }
        var port = 0
        for _ in 0..<200 where port == 0 {
            try await Task.sleep(for: .milliseconds(10))
            port = flag.port.withLock { $0 }
        }
        #expect(port > 0)

        metrics.fileWritten(entity: "orders", rows: 120, bytes: 4096, duration: .milliseconds(30), reason: .idle)
        metrics.deadLetter(stream: "events:orders", entity: "orders", reason: "decode")
        metrics.consumerLag(stream: "events:orders", 7)

        let (hs, hb) = try await get(port, "/healthz")
        #expect(hs == 200 && hb == "ok\n")
        flag.hung.withLock { $0 = "the read loop made no progress for 301 s while 9 entries wait" }
        let (hs2, hb2) = try await get(port, "/healthz")
        #expect(hs2 == 503 && hb2.contains("hung: the read loop made no progress"))
        flag.hung.withLock { $0 = nil }
        let (rs, rb) = try await get(port, "/readyz")
        #expect(rs == 503 && rb.contains("redis: connecting"))
        flag.ready.withLock { $0 = nil }
        let (rs2, _) = try await get(port, "/readyz")
        #expect(rs2 == 200)
        let (ms, mb) = try await get(port, "/metrics")
        #expect(ms == 200)
        #expect(mb.contains(#"lakewriter_rows_written_total{entity="orders"} 120"#))
        #expect(mb.contains(#"lakewriter_dead_letters_total{stream="events:orders",entity="orders",reason="decode"} 1"#))
        #expect(mb.contains(#"lakewriter_consumer_lag{stream="events:orders"} 7"#))
        #expect(mb.contains(#"lakewriter_build_info{version="\#(LakewriterVersion.version)"} 1"#))
        #expect(mb.contains("lakewriter_flush_duration_seconds_bucket"))
        let (ns, _) = try await get(port, "/nope")
        #expect(ns == 404)
    }

    @Test func rejectsABadListenAddress() {
        #expect(throws: (any Error).self) {
            try HealthServer(listen: "8083", metrics: WorkerMetrics(), logger: Logger(label: "t"), readiness: { nil })
        }
    }
}

/// Idle or flooding HTTP clients cannot starve the worker: connections are capped, idle ones
/// closed, oversized headers refused.
@Suite struct HealthServerLimitTests {
    func connect(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        return fd
    }

    /// Reads until EOF or `timeout`; true when the server closed the connection.
    func closedByServer(_ fd: Int32, within timeout: Int32 = 3000) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, timeout) == 1 else { return false }
        var b = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fd, &b, b.count)
            if n == 0 || n < 0 { return true }
            if poll(&p, 1, timeout) != 1 { return false }
        }
    }

    @Test func connectionsAreCappedIdleOnesClosedAndHugeHeadersRefused() async throws {
        let port = Mutex(0)
        let server = try HealthServer(listen: "127.0.0.1:0", metrics: WorkerMetrics(), logger: Logger(label: "test"),
                                      readiness: { nil }, onBound: { p in port.withLock { $0 = p } },
                                      maxConnections: 8, idleTimeout: .milliseconds(500))
        let task = Task { try await server.run() }
        defer { task.cancel() }
        var p = 0
        for _ in 0..<200 where p == 0 {
            try await Task.sleep(for: .milliseconds(10))
            p = port.withLock { $0 }
        }
        // 40 idle connections: never more than 8 open on the server side.
        let fds = (0..<40).map { _ in connect(p) }
        defer { for fd in fds { close(fd) } }
        try await Task.sleep(for: .milliseconds(200))
        #expect(server.connections.current <= 8)
        // Idle ones are closed after the timeout; the endpoint answers again.
        #expect(fds.allSatisfy { closedByServer($0) })
        var status = 0
        for _ in 0..<50 where status != 200 {
            status = (try? await HealthServerTests().get(p, "/healthz"))?.0 ?? 0
            if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(status == 200)
        #expect(server.connections.current <= 1)
        // A request with a 20 KB header is refused (the connection ends without a 200).
        let fd = connect(p)
        defer { close(fd) }
        let request = "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: \(String(repeating: "a", count: 20_000))\r\n\r\n"
        _ = request.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }  // the server may close first: EPIPE, not SIGPIPE
        var buffer = [UInt8](repeating: 0, count: 4096)
        var pf = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = poll(&pf, 1, 3000)
        let n = read(fd, &buffer, buffer.count)
        let reply = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
        #expect(!reply.contains("200 OK"), "\(reply)")
    }
}
