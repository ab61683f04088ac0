import LakeModel
import LakeOutput
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// Entry ids whose milliseconds do not fit Int64 microseconds (explicit ids given to XADD) are
/// written, partitioned at the clamped hour, and acknowledged: before, the worker trapped on
/// them, and again at every restart since they stayed pending.
@Suite(.serialized) struct WorkerEntryIDTests {
    @Test func hugeEntryIDsAreWrittenAndAcknowledgedWithAndWithoutATimeColumn() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let config = try ConfigLoader(environment: [:]).load(yaml: WorkerTests.header(env, id: id, bucket: bucket,
            flush: "idle: 300ms, max_age: 5s") + """

        entities:
          raw:
            stream: raw-\(id)
            columns:
              a: string
          timed:
            stream: timed-\(id)
            time: at
            columns:
              at: timestamp(ms, utc)
        """)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let ids = ["9223372036854775-0", "9223372036854776-0", "9223372036854775807-0", "18446744073709551614-0"]
        for (i, sid) in ids.enumerated() {
            _ = try await client.add(stream: "raw-\(id)", fields: [StreamField("a", "v\(i)")], id: sid)
            // The row's time is null: the entry id's time partitions it.
            _ = try await client.add(stream: "timed-\(id)", fields: [StreamField("note", "x")], id: sid)
        }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["raw-\(id)", "timed-\(id)"], group: "g-\(id)")
            }
        }
        let (dir, keys) = try await WorkerTests.download(store, prefix: "lake/")
        // Nothing dead-lettered: every entry is in a file.
        #expect(try await client.command(["XLEN", "raw-\(id):dlq"]).int == 0)
        for entity in ["raw", "timed"] {
            let rows = try await WorkerTests.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/\(entity)/**/*.parquet') order by 1") as! [[Any]]
            #expect(Set(rows.map { $0[0] as! String }) == Set(ids), "\(entity)")
        }
        // Ids up to Int64 milliseconds keep their own hour; beyond it they are clamped to the last one.
        let years = Set(keys.compactMap { k in k.split(separator: "/").first { $0.hasPrefix("year=") }.map { String($0.dropFirst(5)) } })
        #expect(years == ["294247", "292278994"], "\(keys)")
    }
}
