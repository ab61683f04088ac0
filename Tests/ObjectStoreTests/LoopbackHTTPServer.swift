import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback HTTP/1.1 server answering each request from a handler (one request per
/// connection, `Connection: close`), recording every request. Plain blocking sockets on their
/// own threads, as ``FaultProxy``: independent of the event loops of the client under test.
/// Used to play the credential endpoints (STS, container credentials, IMDSv2) and an S3 that
/// only records what it was sent.
final class LoopbackHTTPServer: Sendable {
    struct Request: Sendable {
        var method: String
        var path: String
        /// Header names lower-cased.
        var headers: [String: String]
        var body: String

        /// The `application/x-www-form-urlencoded` fields of the body.
        var form: [String: String] {
            var out: [String: String] = [:]
            for pair in body.split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1).map {
                    String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
                }
                out[kv[0]] = kv.count > 1 ? kv[1] : ""
            }
            return out
        }
    }

    struct Response: Sendable {
        var status: Int
        var body: String
        var contentType = "text/plain"

        init(_ status: Int, _ body: String = "", contentType: String = "text/plain") {
            self.status = status
            self.body = body
            self.contentType = contentType
        }

        static func json(_ body: String) -> Response { Response(200, body, contentType: "application/json") }
    }

    let port: Int
    private let listenFD: Int32
    private let handler: @Sendable (Request) -> Response
    private let log = Mutex<[Request]>([])

    init(_ handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &addr) {
            _ = $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        self.port = Int(UInt16(bigEndian: addr.sin_port))
        self.listenFD = fd
        Thread { [self] in acceptLoop() }.start()
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var requests: [Request] { log.withLock { $0 } }
    func requests(path: String) -> [Request] { requests.filter { $0.path == path } }

    /// Stops accepting (connections are refused from now on). The accept thread closes the
    /// socket itself: closing it here could let it accept on a reused descriptor of another server.
    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
    }

    private func acceptLoop() {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                close(listenFD)
                return
            }
            Thread { [self] in serve(client) }.start()
        }
    }

    private func serve(_ fd: Int32) {
        defer { close(fd) }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 << 10)
        var headEnd: Int?
        while headEnd == nil {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            data += buffer[0..<n]
            if let r = Self.find(data, [13, 10, 13, 10]) { headEnd = r }
            if data.count > 1 << 20 { return }
        }
        let head = String(decoding: data[0..<headEnd!], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let start = lines.removeFirst().split(separator: " ")
        guard start.count >= 2 else { return }
        var headers: [String: String] = [:]
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        var body = Array(data[(headEnd! + 4)...])
        while body.count < length {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return }
            body += buffer[0..<n]
        }
        let request = Request(method: String(start[0]), path: String(start[1]), headers: headers,
                              body: String(decoding: body, as: UTF8.self))
        log.withLock { $0.append(request) }
        let response = handler(request)
        let bytes = Array(response.body.utf8)
        let text = "HTTP/1.1 \(response.status) X\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(bytes.count)\r\n"
            + "Connection: close\r\n\r\n"
        let all = Array(text.utf8) + bytes
        var offset = 0
        while offset < all.count {
            let n = all.withUnsafeBytes { send(fd, $0.baseAddress! + offset, all.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
        shutdown(fd, Int32(SHUT_WR))
    }

    private static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}

/// ISO 8601 UTC, as the credential endpoints write `Expiration`.
func iso8601(_ date: Date) -> String {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    return f.string(from: date)
}
