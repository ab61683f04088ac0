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
