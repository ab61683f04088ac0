@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
import Logging
import NIOCore
import ObjectStore
import Parquet
import RedisStreams
import Testing
import TestSupport

/// File size and streaming: files go out row group by row group (multipart when large), and
/// `max_bytes` cuts files near the target size from the learned encoded-size estimate.
@Suite(.serialized) struct WorkerFileSizeTests {
    typealias W = WorkerTests

    /// Random text snappy cannot shrink much: file sizes then follow the column data.
    static func noise(_ n: Int, _ rng: inout some RandomNumberGenerator) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        return String(decoding: (0..<n).map { _ in alphabet[Int(rng.next() % 64)] }, as: UTF8.self)
    }

    /// `count` clicks within one hour, each with a random `path` of `pathLength` characters.
    static func addClicks(_ client: RedisStreamClient, stream: String, count: Int, pathLength: Int) async throws {
        var rng = SystemRandomNumberGenerator()
        for n in 0..<count {
            _ = try await client.command(["XADD", stream, "*", "ts", "\(1_795_280_400_000 + n)", "user_id", "\(n)",
                                          "path", noise(pathLength, &rng)])
        }
    }

    @Test func aLargeFileIsUploadedRowGroupByRowGroup() async throws {
        let env = try W.env()
        let id = W.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await W.makeStore(env, bucket: bucket)
        let schema = try ParquetSchema([.required("n", .int64), .required("s", .string)])
        var batch = RowBatch(schema)
        var rng = SystemRandomNumberGenerator()
        let rows = 12_000
        var lengths = 0
        for i in 0..<rows {
            let s = Self.noise(900 + i % 200, &rng)
            lengths += s.utf8.count
            batch.columns[0].appendInt64(Int64(i))
            batch.columns[1].appendString(s)
        }
        var props = WriterProperties()
        props.maxRowGroupBytes = 1 << 20
        let upload = ParquetUpload(properties: props, options: ObjectWriterOptions(partSize: 5 << 20, maxConcurrentParts: 2))
        let key = "big/\(id).parquet"
        let result = try await upload.run(batch, key: key, store: store)

        // ~12 MB in 1 MiB row groups: several 5 MiB parts, and never the whole file held encoded.
        #expect(result.bytes > 10 << 20)
        #expect(result.rowGroups >= 10)
        #expect(result.parts >= 2)
        #expect(result.peakPendingBytes < 2 << 20, "peak \(result.peakPendingBytes) of \(result.bytes)")
        let info = try #require(try await store.head(key: key))
        #expect(info.size == Int64(result.bytes))

        let (dir, _) = try await W.download(store, prefix: "big/")
        let path = dir.appendingPathComponent(key).path
        let md = try await ParquetReadback.metadata(path: path)
        #expect(md.num_rows == rows && md.num_row_groups == result.rowGroups)
        let sums = try await W.duckdb(env, "select count(*), sum(n), sum(length(s)) from read_parquet('\(path)')") as! [[Any]]
        #expect(sums[0][0] as? Int == rows)
        #expect(sums[0][1] as? Int == rows * (rows - 1) / 2)
        #expect(sums[0][2] as? Int == lengths)
    }

    @Test func theWorkerStreamsABigBufferAsOneMultipartFile() async throws {
        let env = try W.env()
        let id = W.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await W.makeStore(env, bucket: bucket)
        var config = try W.config(env, id: id, bucket: bucket)
        config.parquet.rowGroupBytes = 1 << 20
        config.storage.partSize = 5 << 20
        config.flush.idle = .seconds(1)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let total = 9000
        try await Self.addClicks(client, stream: "clicks-\(id)", count: total, pathLength: 1000)
        try await W.withWorker(config) { _ in
            try await W.waitUntil(timeout: .seconds(90), "all acknowledged") {
                try await W.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
            }
        }
        let (dir, keys) = try await W.download(store, prefix: "lake/clicks/")
        // One hour, under max_rows and max_bytes: one file of ~9 MB in 1 MiB row groups.
        #expect(keys.count == 1)
        let path = dir.appendingPathComponent(keys[0]).path
        let md = try await ParquetReadback.metadata(path: path)
        #expect(md.num_rows == total)
        #expect(md.num_row_groups >= 8)
        let info = try #require(try await store.head(key: keys[0]))
        #expect(info.size > 9_000_000)
        let ids = try await W.duckdb(env, "select count(distinct _stream_id) from read_parquet('\(path)')") as! [[Any]]
        #expect(ids[0][0] as? Int == total)
    }

    @Test func maxBytesCutsFilesNearTheTargetSize() async throws {
        let env = try W.env()
        let id = W.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await W.makeStore(env, bucket: bucket)
        var config = try W.config(env, id: id, bucket: bucket)
        let target = 256 << 10
        config.flush.maxBytes = Int64(target)
        config.flush.idle = .seconds(2)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let total = 30_000
        try await Self.addClicks(client, stream: "clicks-\(id)", count: total, pathLength: 40)
        try await W.withWorker(config) { _ in
            try await W.waitUntil(timeout: .seconds(90), "all acknowledged") {
                try await W.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
            }
        }
        var sizes: [Int] = []
        var token: String?
        repeat {
            let page = try await store.list(prefix: "lake/clicks/", continuationToken: token, maxKeys: 1000)
            sizes += page.objects.sorted { $0.key < $1.key }.map { Int($0.size) }  // UUIDv7 keys: oldest first
            token = page.nextContinuationToken
        } while token != nil
        // ~2.5 MB of files: about ten near 256 KiB, the last one the idle remainder. A read batch
        // (500 entries, ~40 KB of column data) is the most a file may pass the target by.
        #expect(sizes.count >= 5, "\(sizes)")
        for s in sizes { #expect(s <= target + (64 << 10), "\(sizes)") }
        // Once the estimate has learned the entity's ratio, files are not cut early either.
        for s in sizes.dropFirst().dropLast() { #expect(s >= target * 3 / 4, "\(sizes)") }
        let (dir, _) = try await W.download(store, prefix: "lake/clicks/")
        let count = try await W.duckdb(env, "select count(*), count(distinct _stream_id) from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        #expect(count[0][0] as? Int == total && count[0][1] as? Int == total)
    }
}
