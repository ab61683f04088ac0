import LakeModel
import LakeWorker
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import ObjectStore
import RedisStreams
import Synchronization
import Testing
import TestSupport

/// The dead-letter breaker: an entity whose every entry fails (a wrong column type) is paused
/// after about `breaker_min_entries` dead letters instead of sending the whole stream to the
/// dead-letter stream; its entries stay pending, `/readyz` says why, other entities keep
/// flowing, and a restart with the fixed config writes what was held.
@Suite(.serialized) struct WorkerBreakerTests {
    func yaml(_ env: WorkerTests.Env, id: String, lake: String, countType: String) -> String {
        """
        redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 10, block: 100ms}
        storage: {url: "file://\(lake)"}
        flush: {max_rows: 1000, idle: 200ms, max_age: 1s, shutdown_grace: 30s}
        http: {listen: "127.0.0.1:0"}
        dead_letters: {breaker_ratio: 0.5, breaker_window: 60s, breaker_min_entries: 20}
        entities:
          bad:
            stream: bad-\(id)
            columns:
              count: \(countType)
          good:
            stream: good-\(id)
            columns:
              n: int64 not null
        """
    }

    func get(_ port: Int, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func anEntityThatOnlyFailsIsPausedAndItsEntriesStayPending() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let (bad, good) = ("bad-\(id)", "good-\(id)")
        let lake = try TestEnvironment.temporaryDirectory("breaker").path
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let sent = 100
        // `count` holds words: an int64 column rejects every one of them.
        var lastBad = StreamID.zero
        for i in 0..<sent { lastBad = try await client.add(stream: bad, fields: [StreamField("count", "many-\(i)")]) }
        let broken = try ConfigLoader(environment: [:]).load(yaml: yaml(env, id: id, lake: lake, countType: "int64 not null"))
        try await WorkerTests.withWorker(broken) { worker in
            let port = PortBox()
            let server = try HealthServer(listen: "127.0.0.1:0", metrics: worker.metrics, logger: Logger(label: "test"),
                                      readiness: { await worker.readiness() }, onBound: { port.set($0) })
            let http = Task { try await server.run() }
            defer { http.cancel() }
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the breaker to trip") {
                await worker.readiness()?.contains("entity bad paused") ?? false
            }
            // Good entries of another entity keep flowing while `bad` is paused.
            for i in 0..<30 { _ = try await client.add(stream: good, fields: [StreamField("n", "\(i)")]) }
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the good entity acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [good], group: "g-\(id)")
            }
            try await WorkerTests.waitUntil(timeout: .seconds(60), "every bad entry read") {
                let g = try await client.groups(stream: bad).first { $0.name == "g-\(id)" }
                return g?.lastDeliveredID == lastBad
            }
            try await Task.sleep(for: .seconds(1))
            let dlq = try await client.command(["XLEN", bad + ":dlq"]).int ?? -1
            let pending = try await client.pending(stream: bad, group: "g-\(id)").count
            #expect((15...20).contains(dlq), "dead letters: \(dlq)")
            #expect(pending == sent - dlq, "pending \(pending), dead letters \(dlq)")
            try await WorkerTests.waitUntil(timeout: .seconds(10), "the health server") { port.get() > 0 }
            let (status, body) = try await get(port.get(), "/readyz")
            #expect(status == 503 && body.contains("entity bad paused by the dead-letter breaker")
                    && body.contains("dead_letters.breaker"), "\(status) \(body)")
            let (_, metrics) = try await get(port.get(), "/metrics")
            #expect(metrics.contains(#"lakewriter_entity_paused{entity="bad"} 1"#), "\(metrics)")
            #expect(metrics.contains(#"lakewriter_entity_paused{entity="good"} 0"#))
            // Entries that keep coming stay pending too: the dead-letter stream does not grow.
            for i in 0..<20 { _ = try await client.add(stream: bad, fields: [StreamField("count", "more-\(i)")]) }
            try await Task.sleep(for: .seconds(1))
            #expect(try await client.command(["XLEN", bad + ":dlq"]).int == dlq)
            #expect(try await client.pending(stream: bad, group: "g-\(id)").count == sent + 20 - dlq)
        }
        let goodRows = try await WorkerTests.duckdb(env, "select count(*) from read_parquet('\(lake)/good/**/*.parquet')") as! [[Any]]
        #expect((goodRows[0][0] as? Int) == 30, "\(goodRows)")
        #expect(!FileManager.default.fileExists(atPath: "\(lake)/bad"))

        // Fixed config, restart: the held entries are read again from the pending list and written.
        let dlq = try await client.command(["XLEN", bad + ":dlq"]).int ?? -1
        let fixed = try ConfigLoader(environment: [:]).load(yaml: yaml(env, id: id, lake: lake, countType: "string not null"))
        try await WorkerTests.withWorker(fixed) { worker in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the held entries acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [bad, good], group: "g-\(id)")
            }
            #expect(await worker.readiness() == nil)
            try await Task.sleep(for: .milliseconds(500))
        }
        let badRows = try await WorkerTests.duckdb(env, "select count(*), count(distinct _stream_id) from read_parquet('\(lake)/bad/**/*.parquet')") as! [[Any]]
        #expect((badRows[0][0] as? Int) == sent + 20 - dlq && (badRows[0][1] as? Int) == sent + 20 - dlq, "\(badRows)")
        #expect(try await client.command(["XLEN", bad + ":dlq"]).int == dlq)
        _ = try await client.command(["DEL", bad, good, bad + ":dlq"])
    }

    final class PortBox: Sendable {
        private let value = Mutex(0)
        func set(_ p: Int) { value.withLock { $0 = p } }
        func get() -> Int { value.withLock { $0 } }
    }
}
