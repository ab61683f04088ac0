import LakeModel
import LakeOutput
import LakeWorker
import Foundation
import Logging
import NIOCore
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// A store whose uploads take `delay` to complete (a slow network, a slow schema record).
final class SlowStore: ObjectStore {
    let inner: any ObjectStore
    let delay: Duration
    init(_ inner: any ObjectStore, delay: Duration) {
        self.inner = inner
        self.delay = delay
    }
    var location: String { inner.location }
    func put(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        try await Task.sleep(for: delay)
        return try await inner.put(key: key, body: body)
    }
    func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        try await Task.sleep(for: delay)
        return try await inner.putIfAbsent(key: key, body: body)
    }
    func head(key: String) async throws -> ObjectInfo? { try await inner.head(key: key) }
    func get(key: String) async throws -> ByteBuffer { try await inner.get(key: key) }
    func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage {
        try await inner.list(prefix: prefix, continuationToken: continuationToken, maxKeys: maxKeys)
    }
    func delete(key: String) async throws { try await inner.delete(key: key) }
    func createMultipartUpload(key: String) async throws -> MultipartUpload { try await inner.createMultipartUpload(key: key) }
    func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart {
        try await inner.uploadPart(upload, partNumber: partNumber, body: body)
    }
    func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo {
        try await inner.completeMultipartUpload(upload, parts: parts)
    }
    func abortMultipartUpload(_ upload: MultipartUpload) async throws { try await inner.abortMultipartUpload(upload) }
    func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter {
        SlowWriter(inner.makeWriter(key: key, options: options), delay: delay)
    }
    func shutdown() async throws { try await inner.shutdown() }
}

final class SlowWriter: ObjectWriter {
    let inner: any ObjectWriter
    let delay: Duration
    init(_ inner: any ObjectWriter, delay: Duration) {
        self.inner = inner
        self.delay = delay
    }
    var key: String { inner.key }
    func write(_ buffer: ByteBuffer) async throws { try await inner.write(buffer) }
    func write(_ bytes: [UInt8]) async throws { try await inner.write(bytes) }
    func finish() async throws -> ObjectInfo {
        try await Task.sleep(for: delay)
        return try await inner.finish()
    }
    func abort() async { await inner.abort() }
}

/// A flush slower than `redis.claim_idle` must not make XAUTOCLAIM hand the worker its own
/// in-flight entries again (before: the same rows were written 3–4 times).
@Suite(.serialized) struct WorkerClaimTests {
    @Test func slowFlushesAreNotReclaimedByTheirOwnWorker() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("claim").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 10, block: 100ms, claim_idle: 1s}
            storage: {url: "file://\(lake)"}
            flush: {max_rows: 10, idle: 200ms, max_age: 1s, shutdown_grace: 30s}
            entities:
              ev:
                stream: ev-\(id)
                columns:
                  n: int64 not null
            """)
        let store = SlowStore(try makeObjectStore(url: "file://\(lake)"), delay: .milliseconds(2500))
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        for i in 0..<40 { _ = try await client.add(stream: "ev-\(id)", fields: [StreamField("n", "\(i)")]) }
        try await WorkerTests.withWorker(config, store: store) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        let rows = try await WorkerTests.duckdb(env, "select count(*), count(distinct _stream_id) from read_parquet('\(lake)/ev/**/*.parquet')") as! [[Any]]
        #expect((rows[0][0] as? Int) == 40 && (rows[0][1] as? Int) == 40, "\(rows)")
    }
}
