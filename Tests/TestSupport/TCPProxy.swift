import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A loopback TCP proxy that can be switched off and on, to take a server "down" for a while
/// without stopping it: while down, new connections are closed at once and open ones are cut.
/// Blocking sockets on plain threads: test code only.
public final class TCPProxy: @unchecked Sendable {
    // State is guarded by `lock`; sockets are closed only under it.
    private let lock = NSLock()
    private var down = false
    private var stalled = false
    private var connections: [Int32] = []
    private var listener: Int32 = -1
    private var stopped = false
    public let port: Int
    let targetPort: Int

    public init(targetPort: Int) throws {
        self.targetPort = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { throw POSIXError(.EADDRINUSE) }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listener = fd
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Refuse and cut connections (true) or pass them through (false).
    public func setDown(_ value: Bool) {
        lock.lock()
        down = value
        if value {
            for c in connections { shutdown(c, Int32(SHUT_RDWR)) }
        }
        lock.unlock()
    }

    /// Hold every byte in both directions (true), as a hung server or network does: connections
    /// stay open, nothing arrives, until it is set back to false.
    public func setStalled(_ value: Bool) {
        lock.lock()
        stalled = value
        lock.unlock()
    }

    private var isStalled: Bool {
        lock.lock(); defer { lock.unlock() }
        return stalled && !down && !stopped
    }

    public func stop() {
        lock.lock()
        stopped = true
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for c in connections { shutdown(c, Int32(SHUT_RDWR)) }
        lock.unlock()
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                lock.lock(); let s = stopped; lock.unlock()
                if s { return }
                continue
            }
            lock.lock()
            let refuse = down || stopped
            lock.unlock()
            if refuse { close(client); continue }
            let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(targetPort).bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(upstream, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if ok != 0 { close(client); close(upstream); continue }
            lock.lock(); connections += [client, upstream]; lock.unlock()
            let pair = (client, upstream)
            Thread.detachNewThread { [self] in pump(pair.0, pair.1) }
            Thread.detachNewThread { [self] in pump(pair.1, pair.0) }
        }
    }

    private func pump(_ from: Int32, _ to: Int32) {
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            while isStalled { usleep(20_000) }
            var off = 0
            while off < n {
                let w = buf.withUnsafeBytes { send(to, $0.baseAddress! + off, n - off, Int32(MSG_NOSIGNAL)) }  // EPIPE, not SIGPIPE, once the other side is shut
                if w <= 0 { break }
                off += w
            }
            if off < n { break }
        }
        shutdown(from, Int32(SHUT_RDWR))
        shutdown(to, Int32(SHUT_RDWR))
        lock.lock()
        if let i = connections.firstIndex(of: from) { connections.remove(at: i); close(from) }
        lock.unlock()
    }
}
