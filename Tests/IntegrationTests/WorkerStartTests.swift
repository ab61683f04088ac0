import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// Log records a test reads back (message and metadata as text).
final class CollectedLogs: Sendable {
    private let records = Mutex<[(level: Logger.Level, message: String, metadata: [String: String])]>([])

    func append(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata) {
        records.withLock { $0.append((level, message, metadata.mapValues(\.description))) }
    }

    func matching(_ message: String) -> [(level: Logger.Level, metadata: [String: String])] {
        records.withLock { $0.filter { $0.message == message }.map { ($0.level, $0.metadata) } }
    }

    struct Handler: LogHandler {
        let sink: CollectedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(level: Logger.Level, message: Logger.Message, metadata extra: Logger.Metadata?, source: String,
                 file: String, function: String, line: UInt) {
            sink.append(level, message.description, metadata.merging(extra ?? [:]) { _, new in new })
        }
    }

    var logger: Logger { Logger(label: "worker-test") { _ in Handler(sink: self) } }
}

/// Runs the worker with `logger` until `body` returns, then drains it.
func withLoggedWorker(_ config: LakewriterConfig, logger: Logger, _ body: () async throws -> Void) async throws {
    let worker = try LakewriterWorker(config: config, logger: logger)
    let group = ServiceGroup(configuration: .init(services: [.init(service: worker)], logger: logger))
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        do {
            try await body()
        } catch {
            await group.triggerGracefulShutdown()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}

/// `redis.start`: where a consumer group the worker creates begins, against a real Redis and
/// store. History is in the stream before the worker ever ran.
@Suite(.serialized) struct WorkerStartTests {
    func run(start: String?, history: Int, later: Int, startAfter: Int? = nil) async throws
        -> (written: Set<String>, history: [String], later: [String], logs: CollectedLogs) {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        var historyIDs: [String] = []
        for i in 0..<history {
            historyIDs.append(try await client.add(stream: "clicks-\(id)", fields: [StreamField("user_id", "\(i)")]).description)
        }
        var startLine = ""
        if let start { startLine = ", start: \"\(start == "ID" ? historyIDs[startAfter!] : start)\"" }
        let yaml = WorkerTests.header(env, id: id, bucket: bucket, flush: "max_rows: 100000, max_age: 60s, idle: 300ms, shutdown_grace: 20s")
            .replacingOccurrences(of: "block: 200ms}", with: "block: 200ms\(startLine)}") + """

            entities:
              clicks:
                stream: clicks-\(id)
                payload: fields
                columns:
                  user_id: int64 not null
            """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        let logs = CollectedLogs()
        var laterIDs: [String] = []
        try await withLoggedWorker(config, logger: logs.logger) {
            try await WorkerTests.waitUntil(timeout: .seconds(20), "group created") {
                (try? await client.groups(stream: "clicks-\(id)"))?.contains { $0.name == "g-\(id)" } ?? false
            }
            for i in 0..<later {
                laterIDs.append(try await client.add(stream: "clicks-\(id)", fields: [StreamField("user_id", "\(1000 + i)")]).description)
            }
            try await WorkerTests.waitUntil(timeout: .seconds(30), "all acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
            }
        }
        let (dir, keys) = try await WorkerTests.download(store, prefix: "lake/clicks/")
        guard !keys.isEmpty else { return ([], historyIDs, laterIDs, logs) }
        let rows = try await WorkerTests.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        let written = rows.map { $0[0] as! String }
        #expect(written.count == Set(written).count)
        return (Set(written), historyIDs, laterIDs, logs)
    }

    @Test func earliestByDefaultWritesTheHistory() async throws {
        let r = try await run(start: nil, history: 5, later: 3)
        #expect(r.written == Set(r.history + r.later))
        let created = r.logs.matching("redis consumer group created")
        #expect(created.count == 1 && created.first?.level == .info, "\(created)")
        #expect(created.first?.metadata["redis.start"] == "earliest")
        #expect(r.logs.matching("worker starting").first?.metadata["start"] == "earliest")
    }

    @Test func latestSkipsTheHistory() async throws {
        let r = try await run(start: "latest", history: 5, later: 3)
        #expect(r.written == Set(r.later))
        #expect(r.logs.matching("redis consumer group created").first?.metadata["redis.start"] == "latest")
    }

    @Test func anEntryIDStartsAfterIt() async throws {
        let r = try await run(start: "ID", history: 5, later: 2, startAfter: 2)
        #expect(r.written == Set(r.history[3...] + r.later))
        #expect(r.logs.matching("redis consumer group created").first?.metadata["redis.start"] == r.history[2])
    }
}

/// `payload: fields` with the default `empty_as_null`: a producer's empty strings for nullable
/// non-string columns land as nulls (not dead letters); strings keep `""`.
@Suite(.serialized) struct WorkerEmptyAsNullTests {
    @Test func emptyFieldValuesAreNulls() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let yaml = WorkerTests.header(env, id: id, bucket: bucket, flush: "max_rows: 100000, max_age: 60s, idle: 300ms, shutdown_grace: 20s") + """

            entities:
              orders:
                stream: orders-\(id)
                payload: fields
                columns:
                  order_id: int64 not null
                  customer_id: int64
                  amount: "decimal(8,2)"
                  placed_at: timestamp(ms, utc)
                  note: string
            """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        #expect(config.entities[0].emptyAsNull)
        let stream = "orders-\(id)"
        try await WorkerTests.withWorker(config) { _ in
            _ = try await client.add(stream: stream, fields: [StreamField("order_id", "1"), StreamField("customer_id", ""),
                                                              StreamField("amount", ""), StreamField("placed_at", ""), StreamField("note", "")])
            _ = try await client.add(stream: stream, fields: [StreamField("order_id", "2"), StreamField("customer_id", "7"),
                                                              StreamField("amount", "12.30"), StreamField("placed_at", "1764582000000"),
                                                              StreamField("note", "gift")])
            _ = try await client.add(stream: stream, fields: [StreamField("order_id", ""), StreamField("note", "no id")])  // required: dead letter
            try await WorkerTests.waitUntil(timeout: .seconds(30), "all acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [stream], group: "g-\(id)")
            }
        }
        let (dir, _) = try await WorkerTests.download(store, prefix: "lake/orders/")
        let rows = try await WorkerTests.duckdb(env, """
            select order_id, customer_id, cast(amount as varchar), epoch_ms(placed_at), note
            from read_parquet('\(dir.path)/lake/orders/**/*.parquet') order by order_id
            """) as! [[Any]]
        #expect(rows.count == 2)
        #expect(rows.first?[0] as? Int == 1 && rows.first?[1] is NSNull && rows.first?[2] is NSNull && rows.first?[3] is NSNull,
                "\(rows)")
        #expect(rows.first?[4] as? String == "")
        #expect(rows.last?[1] as? Int == 7 && rows.last?[2] as? String == "12.30" && rows.last?[4] as? String == "gift", "\(rows)")
        let dead = try await client.command(["XRANGE", stream + ":dlq", "-", "+"])
        func texts(_ v: RedisValue) -> [String] { v.array.map { $0.flatMap(texts) } ?? [v.text ?? ""] }
        let text = texts(dead).joined(separator: " ")
        #expect(text.contains("required field is missing or null") && text.contains("order_id"), "\(text)")
        #expect(!text.contains("not a number"), "\(text)")
    }
}
