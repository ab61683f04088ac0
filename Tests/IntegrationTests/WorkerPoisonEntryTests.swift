import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// `redis.max_deliveries`: an entry delivered again and again without an acknowledgement (an
/// unknown bug that crashes the worker on it) ends in the dead-letter stream with reason
/// `redelivered`, whether it comes back as this consumer's own pending entry or is claimed
/// from another consumer.
@Suite(.serialized) struct WorkerPoisonEntryTests {
    @Test func entriesDeliveredTooOftenAreDeadLetteredAsRedelivered() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let (stream, group, me) = ("ev-\(id)", "g-\(id)", "c-\(id)")
        let lake = try TestEnvironment.temporaryDirectory("poison").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: \(group), consumer: \(me), batch: 10, block: 100ms, claim_idle: 1s,
                    max_deliveries: 3}
            storage: {url: "file://\(lake)"}
            flush: {max_rows: 10, idle: 200ms, max_age: 1s, shutdown_grace: 30s}
            http: {listen: "127.0.0.1:0"}
            entities:
              ev:
                stream: \(stream)
                columns:
                  n: int64 not null
            """)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        _ = try await client.command(["XGROUP", "CREATE", stream, group, "0", "MKSTREAM"])
        // Pending in this consumer: `poison` delivered 4 times (the worker's re-read makes 5),
        // `fine` once (2 after the re-read: below the limit).
        let poison = try await client.add(stream: stream, fields: [StreamField("n", "1")])
        _ = try await client.command(["XREADGROUP", "GROUP", group, me, "COUNT", "1", "STREAMS", stream, ">"])
        for _ in 0..<3 { _ = try await client.command(["XREADGROUP", "GROUP", group, me, "STREAMS", stream, "0"]) }
        let fine = try await client.add(stream: stream, fields: [StreamField("n", "2")])
        _ = try await client.command(["XREADGROUP", "GROUP", group, me, "COUNT", "1", "STREAMS", stream, ">"])
        // Pending in a dead consumer, delivered 3 times (XCLAIM adds one each): the worker's
        // XAUTOCLAIM makes it 4.
        let claimed = try await client.add(stream: stream, fields: [StreamField("n", "3")])
        _ = try await client.command(["XREADGROUP", "GROUP", group, "dead-\(id)", "COUNT", "1", "STREAMS", stream, ">"])
        for _ in 0..<2 { _ = try await client.command(["XCLAIM", stream, group, "dead-\(id)", "0", claimed.description]) }
        let counts = try await client.pendingEntries(stream: stream, group: group, start: .zero, end: claimed, count: 10)
        #expect(counts.map(\.deliveries) == [4, 1, 3], "\(counts)")
        try await Task.sleep(for: .milliseconds(1100))  // `claimed` idle past claim_idle

        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [stream], group: group)
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let dlq = try await client.command(["XRANGE", stream + ":dlq", "-", "+"]).array ?? []
        var letters: [String: [String: String]] = [:]
        for e in dlq {
            let kv = e.array?[1].array?.compactMap(\.text) ?? []
            var f: [String: String] = [:]
            for i in stride(from: 0, to: kv.count - 1, by: 2) { f[kv[i]] = kv[i + 1] }
            letters[f["source_id"] ?? ""] = f
        }
        #expect(Set(letters.keys) == [poison.description, claimed.description], "\(letters)")
        #expect(letters[poison.description]?["reason"] == "redelivered")
        #expect(letters[poison.description]?["error"]?.contains("delivered 5 times, more than redis.max_deliveries (3)") == true,
                "\(letters)")
        #expect(letters[poison.description]?["n"] == "1" && letters[poison.description]?["entity"] == "ev")
        #expect(letters[claimed.description]?["reason"] == "redelivered")
        #expect(letters[claimed.description]?["error"]?.contains("delivered 4 times") == true, "\(letters)")
        let rows = try await WorkerTests.duckdb(env, "select n, _stream_id from read_parquet('\(lake)/ev/**/*.parquet')") as! [[Any]]
        #expect(rows.count == 1 && (rows[0][0] as? Int) == 2 && (rows[0][1] as? String) == fine.description, "\(rows)")
        _ = try await client.command(["DEL", stream, stream + ":dlq"])
    }
}
