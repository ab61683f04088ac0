@testable import Backfill
import Foundation
import NIOCore
import ObjectStore
import Synchronization
import Testing
import TestSupport

/// The run manifest in the store follows the updates in order, even when an earlier write is
/// slower than a later one (two jobs finishing files at once).
@Suite struct ManifestStoreTests {
    /// A local store whose first PUT takes 300 ms and the others none.
    final class FirstPutSlow: ObjectStore, @unchecked Sendable {
        let inner: LocalFileStore
        let puts = Atomic<Int>(0)
        init(_ inner: LocalFileStore) { self.inner = inner }
        var location: String { inner.location }
        func put(key: String, body: ByteBuffer) async throws -> ObjectInfo {
            if puts.add(1, ordering: .relaxed).oldValue == 0 { try await Task.sleep(for: .milliseconds(300)) }
            return try await inner.put(key: key, body: body)
        }
        func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo { try await inner.putIfAbsent(key: key, body: body) }
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
        func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter { inner.makeWriter(key: key, options: options) }
        func shutdown() async throws { try await inner.shutdown() }
    }

    @Test func aSlowEarlierWriteDoesNotLandOverALaterOne() async throws {
        let dir = try TestEnvironment.temporaryDirectory("manifest")
        let store = FirstPutSlow(try LocalFileStore(root: dir.path))
        let chunk = { (id: Int) in BackfillManifest.Chunk(id: id, relation: "\"public\".\"t\"", firstPage: id * 10, endPage: id * 10 + 10,
                                                       state: "pending") }
        let start = BackfillManifest(runID: "r1", source: "\"public\".\"t\"", query: nil, dsn: "host=h", snapshot: nil,
                                     output: "file://" + dir.path, entity: nil, partitionBy: nil, schema: ["a: int64"],
                                     startedAt: "2026-12-02T00:00:00Z", endedAt: nil, state: "running", error: nil,
                                     chunks: [chunk(0), chunk(1)])
        let manifests = ManifestStore(start, store: store)
        // The first job's file: its write is slow. The second's starts meanwhile and is quick.
        async let first: Void = manifests.update { $0.chunks[0].files.append(.init(key: "a.parquet", rows: 5, bytes: 100)) }
        try await Task.sleep(for: .milliseconds(50))
        async let second: Void = manifests.update { $0.chunks[1].files.append(.init(key: "b.parquet", rows: 7, bytes: 200)) }
        _ = try await (first, second)
        let stored = try await ManifestStore.load(runID: "r1", store: store)
        #expect(stored.files.map(\.key) == ["a.parquet", "b.parquet"])
        #expect(stored == (await manifests.manifest))
    }
}
