import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A redis-server of the test's own, on a free port in a temporary directory, for tests that
/// restart, kill or shut down the server, or need a password or other options (`extra`).
public final class RedisServerProcess: @unchecked Sendable {  // used from one test task at a time
    public let port: Int
    public let directory: URL
    public let arguments: [String]
    private var process: Process?

    /// Starts the server. Pass `["--appendonly", "yes", "--appendfsync", "always"]` for a server
    /// whose entries and pending lists survive ``kill()`` and ``start()``. `PORT` in `extra` is
    /// replaced by the port (`["--port", "0", "--tls-port", "PORT", …]` for a TLS-only server).
    public init(_ extra: [String] = [], port fixedPort: Int? = nil) throws {
        port = try fixedPort ?? Self.freePort()
        directory = try TestEnvironment.temporaryDirectory("redis")
        arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--daemonize", "no",
                     "--logfile", directory.appendingPathComponent("log").path, "--save", ""]
            + extra.map { [p = port] in $0 == "PORT" ? "\(p)" : $0 }  // `--tls-port PORT --port 0`: the TLS port is `port`
        try start()
    }

    public var url: String { "redis://127.0.0.1:\(port)/0" }

    public struct StartFailure: Error, CustomStringConvertible {
        public var port: Int
        public var description: String { "redis-server never opened port \(port)" }
    }

    /// (Re)starts the server with the same port, directory and options.
    public func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestEnvironment.redisServerBinary)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if Self.canConnect(port: port) { return }
            usleep(20_000)
        }
        throw StartFailure(port: port)
    }

    /// SIGKILL: no shutdown work at all, as in a crash (with `appendfsync always` every
    /// acknowledged write is already on disk). SIGTERM is not used: the test process's blocked
    /// signal mask is inherited by the child, so redis-server would never see it.
    public func kill() {
        guard let p = process else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Whether the process runs (started and not killed).
    public var isRunning: Bool { process?.isRunning ?? false }

    public struct StillRunning: Error, CustomStringConvertible {
        public var port: Int
        public var description: String { "redis-server on port \(port) did not exit: killed" }
    }

    /// Waits (at most `timeout`) for a server that exits by itself (SHUTDOWN); past it the
    /// server is killed and this throws.
    public func waitForExit(timeout: Duration = .seconds(20)) async throws {
        guard let p = process else { return }
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        if p.isRunning {
            kill()
            throw StillRunning(port: port)
        }
        p.waitUntilExit()
        process = nil
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    /// A loopback port nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// True when something accepts connections on the loopback `port`.
    public static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }
}
