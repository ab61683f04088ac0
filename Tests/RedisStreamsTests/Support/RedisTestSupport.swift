import Foundation
import Logging
import RedisStreams
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The shared server from scripts/test; tests that need it are disabled outside scripts/test,
/// but run (and fail on the missing URL) under CI.
let sharedRedisAvailable = TestEnvironment.redisURL != nil || TestEnvironment.isCI
/// Tests that start their own redis-server (restart, ACL, SHUTDOWN).
let redisBinaryAvailable = FileManager.default.isExecutableFile(atPath: TestEnvironment.redisServerBinary)
    || TestEnvironment.isCI

func sharedRedis() throws -> RedisConfiguration {
    try RedisConfiguration(url: #require(TestEnvironment.redisURL, "LAKEWRITER_TEST_REDIS_URL is not set"))
}

func unique(_ label: String) -> String { "lw-test-\(label)-\(UUID().uuidString.prefix(8))" }

let testLogger: Logger = {
    var l = Logger(label: "redis-tests")
    l.logLevel = .warning
    return l
}()

/// A redis-server of the test's own, on a free port in a temporary directory, for tests that
/// restart or shut down the server or need a password.
final class RedisServerProcess: @unchecked Sendable {  // used from one test at a time
    let port: Int
    let directory: URL
    let arguments: [String]
    private var process: Process?

    init(_ extra: [String] = []) throws {
        port = try Self.freePort()
        directory = try TestEnvironment.temporaryDirectory("redis")
        arguments = ["--port", "\(port)", "--bind", "127.0.0.1", "--dir", directory.path, "--daemonize", "no",
                     "--logfile", directory.appendingPathComponent("log").path, "--save", ""] + extra
        try start()
    }

    var url: String { "redis://127.0.0.1:\(port)/0" }

    func start() throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestEnvironment.redisServerBinary)
        p.arguments = arguments
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if Self.canConnect(port: port) { return }
            usleep(20_000)
        }
        throw RedisError(.connectionFailed, operation: "start test redis-server", message: "port \(port) never opened")
    }

    /// SIGKILL: no shutdown work at all, as in a crash.
    func kill() {
        guard let p = process else { return }
        Glibc.kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        process = nil
    }

    /// Waits for a server that exits by itself (SHUTDOWN).
    func waitForExit() {
        process?.waitUntilExit()
        process = nil
    }

    deinit {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sp in
                bind(fd, sp, len) == 0 && getsockname(fd, sp, &len) == 0
            }
        }
        guard ok else { throw RedisError(.connectionFailed, operation: "free port", message: "bind failed") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// One received entry, decoded to strings for assertions.
struct ReceivedEntry: Sendable, Equatable {
    var stream: String
    var id: StreamID
    var fields: [String: String]
    var source: StreamBatch.Source
    var deleted: Bool
}

extension StreamBatch {
    var received: [ReceivedEntry] {
        entries.map { e in
            var f: [String: String] = [:]
            for i in e.fieldIndices { f[string(fields[i].name)] = string(fields[i].value) }
            return ReceivedEntry(stream: stream, id: e.id, fields: f, source: source, deleted: e.isDeleted)
        }
    }
}

/// Drains a consumer in a background task (optionally acknowledging every batch), so tests can
/// wait for conditions with a deadline instead of hanging on `next()`.
actor Collector {
    private(set) var entries: [ReceivedEntry] = []
    private(set) var batches = 0
    private(set) var failure: Error?
    private(set) var finished = false
    private var task: Task<Void, Never>?

    func start(_ consumer: StreamConsumer, ackWith client: RedisStreamClient? = nil, group: String = "") {
        task = Task {
            do {
                for try await batch in consumer {
                    if let client {
                        // Keep acknowledging across server restarts.
                        while true {
                            do {
                                try await client.ack(batch, group: group)
                                break
                            } catch {
                                try? await Task.sleep(for: .milliseconds(50))
                            }
                        }
                    }
                    self.add(batch)
                }
            } catch {
                self.fail(error)
            }
            self.end()
        }
    }

    private func add(_ b: StreamBatch) {
        entries.append(contentsOf: b.received)
        batches += 1
    }
    private func fail(_ e: Error) { failure = e }
    private func end() { finished = true }

    func wait() async { await task?.value }
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(timeout: Duration = .seconds(10), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

extension RedisStreamClient {
    /// XADD with text fields, for tests.
    @discardableResult
    func add(_ stream: String, _ fields: [(String, String)]) async throws -> StreamID {
        try await add(stream: stream, fields: fields.map { StreamField($0.0, $0.1) })
    }
}
