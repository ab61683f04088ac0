import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// `XGROUP DESTROY` under a running worker: the group is recreated after the last entry the
/// worker acknowledged, so what is already in the lake is not written again (before: the
/// group came back at `0` and the whole stream was written a second time).
@Suite(.serialized) struct WorkerGroupDestroyTests {
    @Test func aDestroyedGroupIsRecreatedAfterTheLastAcknowledgedEntry() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let (stream, group) = ("ev-\(id)", "g-\(id)")
        let lake = try TestEnvironment.temporaryDirectory("destroy").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: \(group), consumer: c-\(id), batch: 10, block: 100ms}
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
        let (n, m) = (35, 25)
        for i in 0..<n { _ = try await client.add(stream: stream, fields: [StreamField("n", "\(i)")]) }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the first entries acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: [stream], group: group)
            }
            _ = try await client.command(["XGROUP", "DESTROY", stream, group])
            var last = StreamID.zero
            for i in n..<(n + m) { last = try await client.add(stream: stream, fields: [StreamField("n", "\(i)")]) }
            // Recreated after an explicit id, the group's lag is unknown: wait for the last entry
            // to be delivered and nothing to be pending.
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the group recreated and the new entries acknowledged") {
                guard let g = try? await client.groups(stream: stream).first(where: { $0.name == group }),
                      g.lastDeliveredID == last else { return false }
                return try await client.pending(stream: stream, group: group).count == 0
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        let rows = try await WorkerTests.duckdb(env, "select count(*), count(distinct _stream_id), min(n), max(n) from read_parquet('\(lake)/ev/**/*.parquet')") as! [[Any]]
        #expect((rows[0][0] as? Int) == n + m && (rows[0][1] as? Int) == n + m, "\(rows)")
        #expect((rows[0][2] as? Int) == 0 && (rows[0][3] as? Int) == n + m - 1, "\(rows)")
        _ = try await client.command(["DEL", stream])
    }
}
