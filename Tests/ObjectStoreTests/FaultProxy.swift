import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP proxy in front of SeaweedFS that misbehaves on purpose.
///
/// Each new client connection takes the next fault from the script (then `fallback`):
/// answer 503 SlowDown and close, drop the connection after reading the request, or
/// stall before relaying. Plain blocking sockets on dedicated threads keep it independent
/// of the NIO event loops the client under test uses.
final class FaultProxy: Sendable {
    enum Fault: Sendable {
        case pass
        case serviceUnavailable
        case drop
        case stall(milliseconds: Int)
        /// 200 OK whose body is an S3 `<Error>` (CompleteMultipartUpload does this).
        case okWithError(code: String)
        /// Relay the request head upstream, then close both sides before any body byte: what
        /// the store sees when the client process is killed mid-upload.
        case cutAfterHead
    }

    let port: Int
    private let listenFD: Int32
    private let upstreamPort: Int
    private let script: Mutex<[Fault]>
    private let fallback: Fault
    private let connections = Atomic<Int>(0)

    init(upstream: String, script: [Fault], fallback: Fault = .pass) throws {
        guard let components = URLComponents(string: upstream), let port = components.port else {
            throw POSIXError(.EINVAL)
        }
        self.upstreamPort = port
        self.script = Mutex(script)
        self.fallback = fallback
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(port: 0)
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
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    var endpoint: String { "http://127.0.0.1:\(port)" }
    var connectionCount: Int { connections.load(ordering: .relaxed) }

    func stop() {
        shutdown(listenFD, Int32(SHUT_RDWR))
        close(listenFD)
    }

    private static func loopback(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        return addr
    }

    private func acceptLoop() {
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            connections.add(1, ordering: .relaxed)
            let fault = script.withLock { $0.isEmpty ? fallback : $0.removeFirst() }
            Thread { [self] in handle(client, fault) }.start()
        }
    }

    private func handle(_ client: Int32, _ fault: Fault) {
        switch fault {
        case .serviceUnavailable:
            _ = readHead(client)
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>fault-proxy</RequestId></Error>"
            let response = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            sendAll(client, Array(response.utf8))
            shutdown(client, Int32(SHUT_WR))
            drain(client)
            close(client)
        case .okWithError(let code):
            _ = readHead(client)
            let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\n<Error><Code>\(code)</Code><Message>injected</Message><RequestId>fault-proxy</RequestId></Error>"
            let response = "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
            sendAll(client, Array(response.utf8))
            shutdown(client, Int32(SHUT_WR))
            drain(client)
            close(client)
        case .drop:
            _ = readHead(client)
            var abrupt = linger(l_onoff: 1, l_linger: 0)  // RST: an abrupt connection reset
            setsockopt(client, SOL_SOCKET, SO_LINGER, &abrupt, socklen_t(MemoryLayout<linger>.size))
            close(client)
        case .cutAfterHead:
            let head = readHead(client)
            let upstream = connectUpstream()
            if upstream >= 0 {
                sendAll(upstream, head)
                usleep(200_000)
                close(upstream)
            }
            var abrupt = linger(l_onoff: 1, l_linger: 0)
            setsockopt(client, SOL_SOCKET, SO_LINGER, &abrupt, socklen_t(MemoryLayout<linger>.size))
            close(client)
        case .stall(let ms):
            usleep(useconds_t(ms * 1000))
            relay(client)
        case .pass:
            relay(client)
        }
    }

    /// A connected socket to the upstream, or -1.
    private func connectUpstream() -> Int32 {
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = Self.loopback(port: UInt16(upstreamPort))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else { close(upstream); return -1 }
        return upstream
    }

    private func relay(_ client: Int32) {
        let upstream = connectUpstream()
        guard upstream >= 0 else { close(client); return }
        let done = Counter()
        let finish: @Sendable () -> Void = {
            if done.value.add(1, ordering: .acquiringAndReleasing).newValue == 2 { close(client); close(upstream) }
        }
        Thread { Self.pump(from: client, to: upstream); finish() }.start()
        Thread { Self.pump(from: upstream, to: client); finish() }.start()
    }

    private static func pump(from: Int32, to: Int32) {
        var buffer = [UInt8](repeating: 0, count: 256 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(from, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            if !buffer.withUnsafeBytes({ sendAllRaw(to, $0.baseAddress!, n) }) { break }
        }
        shutdown(to, Int32(SHUT_WR))
        shutdown(from, Int32(SHUT_RD))
    }

    private func readHead(_ fd: Int32) -> [UInt8] {
        var head: [UInt8] = []
        var byte = [UInt8](repeating: 0, count: 4096)
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) {
            let n = byte.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 1, 0) }
            if n <= 0 { break }
            head.append(byte[0])
        }
        return head
    }

    private func drain(_ fd: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { Self.sendAllRaw(fd, $0.baseAddress!, $0.count) }
    }

    private static func sendAllRaw(_ fd: Int32, _ p: UnsafeRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let n = send(fd, p + offset, count - offset, Int32(MSG_NOSIGNAL))
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}

/// Shared counters and logs for closures (Atomic and Mutex cannot be captured directly).
final class Counter: Sendable {
    let value = Atomic<Int>(0)
}

final class EventLog<Element: Sendable>: Sendable {
    private let items = Mutex<[Element]>([])
    func append(_ item: Element) { items.withLock { $0.append(item) } }
    var all: [Element] { items.withLock { $0 } }
}
