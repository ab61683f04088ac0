import Foundation
import LakeOutput
import NIOCore
import ObjectStore

/// The record of one backfill run, `_backfill/RUN_ID.json` under the output prefix: what was read
/// (source, snapshot, schema), every chunk with its state and the files it finished, and the
/// totals. Written when the run starts, after every finished file and chunk, and at the end,
/// so an interrupted run says where it stopped and `--resume RUN_ID` can go on from there.
package struct BackfillManifest: Codable, Sendable, Equatable {
    package var format = 1
    package var runID: String
    /// The table (`"public"."orders"`) or `query`.
    package var source: String
    package var query: String?
    /// The connection string with its password masked.
    package var dsn: String
    /// The exported snapshot every job read (nil: one connection's own transaction).
    package var snapshot: String?
    package var output: String
    package var entity: String?
    package var partitionBy: String?
    /// The Parquet schema, one `path: type` line per column (a resume must write the same).
    package var schema: [String]
    package var startedAt: String
    package var endedAt: String?
    /// running, done, done_with_rejects, failed, cancelled.
    package var state: String
    package var error: String?
    package var chunks: [Chunk]
    /// Previous runs of this id (a resume appends the one it continues from).
    package var resumedFrom: [String] = []

    package struct Chunk: Codable, Sendable, Equatable {
        package var id: Int
        /// The relation read (nil for a query), and its ctid page range (nil bounds: open).
        package var relation: String?
        package var firstPage: Int?
        package var endPage: Int?
        /// pending, running, done, failed, cancelled.
        package var state: String
        package var rows: Int = 0
        package var rejected: Int = 0
        package var files: [File] = []
        package var snapshot: String?
    }

    package struct File: Codable, Sendable, Equatable {
        package var key: String
        package var rows: Int
        package var bytes: Int
        /// The Delta `add` statistics of the file (only when the run commits to a Delta table).
        package var stats: String?

        package init(key: String, rows: Int, bytes: Int, stats: String? = nil) {
            self.key = key
            self.rows = rows
            self.bytes = bytes
            self.stats = stats
        }
    }

    package var rows: Int { chunks.reduce(0) { $0 + $1.rows } }
    package var rejected: Int { chunks.reduce(0) { $0 + $1.rejected } }
    package var files: [File] { chunks.flatMap(\.files) }
    package var bytes: Int { files.reduce(0) { $0 + $1.bytes } }

    package static func key(runID: String) -> String { "_backfill/\(runID).json" }

    package func encoded() throws -> ByteBuffer {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var b = ByteBuffer()
        b.writeBytes(try encoder.encode(Totals(self)))
        return b
    }

    package static func decode(_ data: Data) throws -> BackfillManifest {
        let decoder = JSONDecoder()
        return try decoder.decode(Totals.self, from: data).manifest
    }

    /// The manifest with its totals (rows, rejected, files, bytes) written out for readers.
    private struct Totals: Codable {
        var manifest: BackfillManifest
        var rows: Int
        var rejected: Int
        var fileCount: Int
        var bytes: Int
        init(_ m: BackfillManifest) {
            manifest = m
            rows = m.rows
            rejected = m.rejected
            fileCount = m.files.count
            bytes = m.bytes
        }
        enum CodingKeys: String, CodingKey { case rows, rejected, fileCount, bytes }
        init(from decoder: Decoder) throws {
            manifest = try BackfillManifest(from: decoder)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            rows = try c.decodeIfPresent(Int.self, forKey: .rows) ?? 0
            rejected = try c.decodeIfPresent(Int.self, forKey: .rejected) ?? 0
            fileCount = try c.decodeIfPresent(Int.self, forKey: .fileCount) ?? 0
            bytes = try c.decodeIfPresent(Int.self, forKey: .bytes) ?? 0
        }
        func encode(to encoder: Encoder) throws {
            try manifest.encode(to: encoder)
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(rows, forKey: .rows)
            try c.encode(rejected, forKey: .rejected)
            try c.encode(fileCount, forKey: .fileCount)
            try c.encode(bytes, forKey: .bytes)
        }
    }
}

/// Serialises manifest updates from the job threads and writes each version to the store.
package actor ManifestStore {
    package private(set) var manifest: BackfillManifest
    let store: any ObjectStore

    package init(_ manifest: BackfillManifest, store: any ObjectStore) {
        self.manifest = manifest
        self.store = store
    }

    /// The write of the last update; each write starts after the one before it ended.
    private var lastWrite: Task<Void, any Error>?

    /// Applies `change` and writes the manifest (retried by the store's retry policy). Writes
    /// land in the order of their changes: the actor is free while one is in flight, and two
    /// concurrent PUTs could otherwise land in either order, leaving an older manifest in the
    /// store (a finished file missing from it, which a resume would then not remove).
    package func update(_ change: @Sendable (inout BackfillManifest) -> Void) async throws {
        change(&manifest)
        let body = try manifest.encoded()
        let key = BackfillManifest.key(runID: manifest.runID)
        let previous = lastWrite
        let store = self.store
        let write = Task {
            _ = await previous?.result
            _ = try await store.put(key: key, body: body)
        }
        lastWrite = write
        try await write.value
    }

    /// Reads the manifest of `runID` from `store`.
    package static func load(runID: String, store: any ObjectStore) async throws -> BackfillManifest {
        let body = try await store.get(key: BackfillManifest.key(runID: runID))
        return try BackfillManifest.decode(Data(body.readableBytesView))
    }
}
