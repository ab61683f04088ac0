import Dispatch
import DeltaLake
import Foundation
import LakeModel
import LakeOutput
import ObjectStore
import Parquet
import Synchronization

/// A Hive partition of the output: an hour, or the default partition (a null time), or an
/// entity's partition path (``FilePartition/path``).
package enum OutputPartition: Hashable, Sendable {
    case hour(HourPartition)
    case none
    case nullTime
    case path(String)

    /// `year=…/month=…/day=…/hour=…/` (empty without partitioning).
    package var path: String {
        switch self {
        case .hour(let h): return h.path + "/"
        case .none: return ""
        case .path(let p): return p.isEmpty ? "" : p + "/"
        case .nullTime:
            let d = "__HIVE_DEFAULT_PARTITION__"
            return "year=\(d)/month=\(d)/day=\(d)/hour=\(d)/"
        }
    }
}

/// The files one chunk writes: one open file per partition (at most `maxOpen`; past it the
/// least recently written is finished), each finished when it reaches `maxFileBytes`. A file
/// becomes visible only when finished (multipart completed, or temp file renamed), and every
/// finished file is reported to `onFinished` (the manifest) before the next is opened.
final class ChunkOutput {
    let schema: ParquetSchema
    /// Columns of the written batches left out of the files.
    let dropping: Set<String>
    /// Keeps each file's Delta statistics in the manifest (the run commits to a Delta table).
    let deltaStats: Bool
    let properties: WriterProperties
    let store: any ObjectStore
    let options: ObjectWriterOptions
    /// Key prefix before the partition path (`entity/`, or empty).
    let prefix: String
    let maxFileBytes: Int64
    let maxOpen: Int
    let onFinished: (BackfillManifest.File) throws -> Void
    private var open: [OutputPartition: ParquetFileUpload] = [:]
    private var lastUse: [OutputPartition: Int] = [:]
    private var tick = 0

    init(schema: ParquetSchema, dropping: Set<String> = [], deltaStats: Bool = false, properties: WriterProperties, store: any ObjectStore, options: ObjectWriterOptions,
         prefix: String, maxFileBytes: Int64, maxOpen: Int = 16,
         onFinished: @escaping (BackfillManifest.File) throws -> Void) {
        self.schema = schema
        self.dropping = dropping
        self.deltaStats = deltaStats
        self.properties = properties
        self.store = store
        self.options = options
        self.prefix = prefix
        self.maxFileBytes = maxFileBytes
        self.maxOpen = max(1, maxOpen)
        self.onFinished = onFinished
    }

    /// Appends `batch` (rows of one partition) to that partition's file.
    func write(_ batch: RowBatch, to partition: OutputPartition) throws {
        guard batch.rowCount > 0 else { return }
        let file = try self.file(for: partition)
        try file.appendBlocking(dropping.isEmpty ? batch : try batch.removingTopLevelFields(dropping))
        tick += 1
        lastUse[partition] = tick
        if file.estimatedFileSize >= maxFileBytes { try finish(partition) }
    }

    private func file(for partition: OutputPartition) throws -> ParquetFileUpload {
        if let f = open[partition] { return f }
        if open.count >= maxOpen, let oldest = lastUse.min(by: { $0.value < $1.value })?.key {
            try finish(oldest)
        }
        let key = prefix + partition.path + "\(UUIDv7()).parquet"
        let f = try ParquetFileUpload(schema: schema, properties: properties, key: key, store: store, options: options)
        open[partition] = f
        return f
    }

    private func finish(_ partition: OutputPartition) throws {
        guard let f = open.removeValue(forKey: partition) else { return }
        lastUse[partition] = nil
        let rows = Int(f.rowCount)
        let result = try BlockingWork.wait { try await f.finish() }
        try onFinished(BackfillManifest.File(key: f.key, rows: rows, bytes: result.bytes,
                                             stats: deltaStats ? result.metadata.map { DeltaStats.json(schema: schema, metadata: $0) } : nil))
    }

    /// Finishes every open file (the chunk is complete).
    func finishAll() throws {
        for p in Array(open.keys) { try finish(p) }
    }

    /// Abandons the open files: nothing of them becomes visible.
    func abortAll() {
        let files = Array(open.values)
        open.removeAll()
        lastUse.removeAll()
        for f in files { _ = try? BlockingWork.wait { await f.abort() } }
    }
}

/// Rows the backfill could not convert, as JSON Lines (`{"run", "chunk", "row", "key", "column",
/// "reason"}`), like `convert --rejects`. Written to a temporary file beside the destination and
/// renamed into place when the run ends with rejected rows; removed when nothing was rejected.
/// A run that failed or was cancelled never replaces an existing file: its rejects go to
/// `{path}.partial-{run}` instead (``writtenPath``).
package final class RejectsFile: @unchecked Sendable {
    package let path: String
    private let tmp: String
    private let lock = Mutex<FileHandle?>(nil)
    private let count = Atomic<Int>(0)
    private let run: String
    /// Where the rejects ended up after ``close(replacing:)`` (nil: nothing was rejected).
    package private(set) var writtenPath: String?

    package init(path: String, run: String) {
        self.path = path
        self.run = run
        tmp = path + ".tmp-\(getpid())"
    }

    package var rejected: Int { count.load(ordering: .relaxed) }

    package func add(chunk: Int, row: Int, key: String?, column: String?, reason: String) {
        var line = "{\"run\":" + JSONText.quoted(run) + ",\"chunk\":\(chunk),\"row\":\(row)"
        line += ",\"key\":" + (key.map(JSONText.quoted) ?? "null")
        line += ",\"column\":" + (column.map(JSONText.quoted) ?? "null")
        line += ",\"reason\":" + JSONText.quoted(reason) + "}\n"
        count.add(1, ordering: .relaxed)
        lock.withLock { h in
            if h == nil {
                FileManager.default.createFile(atPath: tmp, contents: nil)
                h = FileHandle(forWritingAtPath: tmp)
            }
            h?.write(Data(line.utf8))
        }
    }

    /// Puts the file in place (rows were rejected) or removes the temporary one. With
    /// `replacing: false` (a failed run) an existing file at ``path`` is kept and the rejects go
    /// beside it.
    package func close(replacing: Bool = true) throws {
        let h = lock.withLock { h -> FileHandle? in
            defer { h = nil }
            return h
        }
        guard let h else { return }
        try h.synchronize()
        try h.close()
        if rejected > 0 {
            let target = !replacing && FileManager.default.fileExists(atPath: path) ? path + ".partial-\(run)" : path
            if rename(tmp, target) != 0 {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target])
            }
            writtenPath = target
        } else {
            try? FileManager.default.removeItem(atPath: tmp)
        }
    }
}
