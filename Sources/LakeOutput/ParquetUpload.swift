import Dispatch
import Foundation
import LakeModel
import NIOCore
import ObjectStore
import Parquet

/// **LakeOutput** — the output path shared by the worker, the commands and the backfill:
/// this upload, ``HourPartition`` and ``ObjectKeys``, ``UUIDv7`` names, schema records, the store
/// opener (``LakeModel/StorageConfig/openStore(url:logger:relativeTo:onRetry:)``) and writer properties.
///
/// Encodes a batch into one Parquet file and streams it to the store row group by row group:
/// each finished row group goes to the object writer (which cuts multipart parts) before the
/// next is encoded, so a flush holds one row group of encoded bytes plus the writer's parts,
/// never the whole file. Encoding runs on a dedicated thread (``BlockingWork``), never on
/// Swift's cooperative pool.
///
/// Nothing is visible under the key until the upload completes; on any error the upload is
/// aborted, and the caller may run it again (the batch is not consumed).
package struct ParquetUpload {
    package var properties: WriterProperties
    package var options: ObjectWriterOptions

    package init(properties: WriterProperties, options: ObjectWriterOptions) {
        self.properties = properties
        self.options = options
    }

    package struct Result: Sendable {
        /// Bytes of the file.
        package var bytes: Int
        package var rowGroups: Int
        /// Multipart parts (0 for a single PUT).
        package var parts: Int
        /// Most encoded bytes held before being handed to the object writer (one row group,
        /// or the page indexes and footer).
        package var peakPendingBytes: Int
        /// The footer as written (statistics per row group and column).
        package var metadata: FileMetaData?
        /// Time spent encoding (and compressing), and time spent waiting for the store (part
        /// uploads and the final PUT or completion): together about the flush's duration.
        package var encodeDuration: Duration = .zero
        package var uploadDuration: Duration = .zero
    }

    /// Encoding went wrong (a ``ParquetError``, a compressor error): retrying cannot help, unlike
    /// a storage error.
    package struct EncodeFailure: Error, CustomStringConvertible {
        package var underlying: any Error
        package var description: String { "\(underlying)" }
    }

    package func run(_ batch: RowBatch, key: String, store: any ObjectStore) async throws -> Result {
        let file = try ParquetFileUpload(schema: batch.schema, properties: properties, key: key, store: store,
                                         options: options)
        do {
            try await file.append(batch)
            return try await file.finish()
        } catch {
            await file.abort()
            throw error
        }
    }
}

/// One Parquet file written to the store while it is produced: ``append(_:)`` any number of
/// batches (row groups are cut by the writer properties' rows and bytes, and each finished one
/// is uploaded before the call returns), then ``finish()``, or ``abort()`` on failure.
///
/// Used from one task at a time: the worker for one flush, the backfill for one output file.
/// The key becomes visible only when ``finish()`` completes (multipart completed at the end, or
/// a local temporary file renamed), so a failed or cancelled file is never seen by readers.
package final class ParquetFileUpload: @unchecked Sendable {
    // The writer, sink and cursor are touched by one thread at a time: the calling task, or the
    // encoding thread it awaits (the continuation orders the accesses).
    private let writer: ParquetWriter
    private let sink = PendingBytes()
    private let upload: any ObjectWriter
    private var peak = 0
    private var finished = false
    private var encodeTime = Duration.zero
    private var uploadTime = Duration.zero
    package let key: String

    package init(schema: ParquetSchema, properties: WriterProperties, key: String, store: any ObjectStore,
                 options: ObjectWriterOptions) throws {
        do {
            writer = try ParquetWriter(schema: schema, sink: sink, properties: properties)
        } catch {
            throw ParquetUpload.EncodeFailure(underlying: error)
        }
        self.key = key
        upload = store.makeWriter(key: key, options: options)
    }

    /// Rows appended so far.
    package var rowCount: Int64 { writer.rowCount }
    /// What the file would take if closed now (finished row groups plus the open one).
    package var estimatedFileSize: Int64 { writer.estimatedFileSize }

    /// Encodes `batch` (validated first: an invalid value throws ``ParquetUpload/EncodeFailure``
    /// before anything of it is written) and uploads every row group it finished.
    package func append(_ batch: RowBatch) async throws {
        var cursor = RowBatchCursor()
        var done = false
        while !done {
            try Task.checkCancellation()
            let from = cursor
            (done, cursor) = try await encode { w in
                var c = from
                let done = try w.write(batch, from: &c)
                return (done, c)
            }
            try await ship()
        }
    }

    /// ``append(_:)`` for a caller on a thread of its own (the backfill's job threads): encodes
    /// on the calling thread, so the batch is never captured by another task and can be reused
    /// in place afterwards; only the upload of finished row groups is awaited.
    package func appendBlocking(_ batch: RowBatch) throws {
        var cursor = RowBatchCursor()
        var done = false
        let clock = ContinuousClock()
        while !done {
            let started = clock.now
            do { done = try writer.write(batch, from: &cursor) } catch { throw ParquetUpload.EncodeFailure(underlying: error) }
            encodeTime += started.duration(to: clock.now)
            peak = max(peak, sink.buffer.readableBytes)
            let bytes = sink.take()
            if bytes.readableBytes > 0 {
                let upload = self.upload
                let sent = clock.now
                try BlockingWork.wait { try await upload.write(bytes) }
                uploadTime += sent.duration(to: clock.now)
                sink.recycle(consume bytes)
            }
        }
    }

    /// Ends the open row group now (the backfill cuts row groups by its own limits).
    package func flushRowGroup() async throws {
        try await encode { w in try w.flushRowGroup() }
        try await ship()
    }

    /// Writes the footer and completes the upload: the key becomes visible.
    package func finish() async throws -> ParquetUpload.Result {
        let metadata = try await encode { w in try w.close() }
        try await ship()
        let sent = ContinuousClock.now
        _ = try await upload.finish()
        uploadTime += sent.duration(to: .now)
        finished = true
        var parts = 0
        if let m = upload as? MultipartObjectWriter { parts = await m.partsStarted }
        return ParquetUpload.Result(bytes: Int(writer.bytesWritten), rowGroups: metadata.rowGroups.count, parts: parts,
                                    peakPendingBytes: peak, metadata: metadata, encodeDuration: encodeTime,
                                    uploadDuration: uploadTime)
    }

    /// Abandons the upload (nothing becomes visible).
    package func abort() async {
        guard !finished else { return }
        await upload.abort()
    }

    private func ship() async throws {
        peak = max(peak, sink.buffer.readableBytes)
        let bytes = sink.take()
        if bytes.readableBytes > 0 {
            let sent = ContinuousClock.now
            try await upload.write(bytes)
            uploadTime += sent.duration(to: .now)
        }
    }

    private func encode<T: Sendable>(_ body: @escaping @Sendable (ParquetWriter) throws -> T) async throws -> T {
        let box = WriterBox(writer: writer)
        let started = ContinuousClock.now
        defer { encodeTime += started.duration(to: .now) }
        do {
            return try await BlockingWork.run { try body(box.writer) }
        } catch {
            throw ParquetUpload.EncodeFailure(underlying: error)
        }
    }
}

/// Hands the writer to the encoding thread; the awaiting task does not touch it meanwhile.
private struct WriterBox: @unchecked Sendable {
    let writer: ParquetWriter
}

/// The sink of a ``ParquetFileUpload``: holds what the Parquet writer produced until the upload
/// takes it.
package final class PendingBytes: ParquetSink, @unchecked Sendable {
    package private(set) var buffer = ByteBuffer()

    package func write(_ bytes: UnsafeRawBufferPointer) throws { buffer.writeBytes(bytes) }
    package func close() throws {}
    /// One allocation for a row group instead of doubling (each doubling copies what is there
    /// and touches fresh pages).
    package func reserve(_ count: Int) { buffer.reserveCapacity(minimumWritableBytes: count) }

    /// Everything written since the last call.
    package func take() -> ByteBuffer {
        let b = buffer
        buffer = ByteBuffer()
        return b
    }

    /// Gives back what ``take()`` returned once the upload is done with it: the next row group
    /// is written into the same memory (it was written and faulted in once already). A buffer
    /// the upload still holds (a multipart part waiting to be sent) is cleared into fresh
    /// storage: no gain, no harm.
    package func recycle(_ taken: consuming ByteBuffer) {
        guard buffer.readableBytes == 0, buffer.capacity < taken.capacity else { return }
        var b = taken
        b.clear()
        buffer = b
    }
}

/// Runs blocking work (encoding, compression, file reads) on a thread of its own, never on
/// Swift's cooperative pool, and awaits it; or, the other way round, awaits async work from a
/// thread of its own (``wait(_:)``).
package enum BlockingWork {
    private final class Box<T>: @unchecked Sendable {
        var result: Result<T, any Error>?
    }

    /// Blocks the calling thread (a dedicated one, never a cooperative-pool thread) until the
    /// async `body` is done.
    package static func wait<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let box = Box<T>()
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        return try box.result!.get()
    }

    package static func run<T: Sendable, E: Error>(_ body: @escaping @Sendable () throws(E) -> T) async throws(E) -> T {
        let result: Result<T, E> = await withCheckedContinuation { continuation in
            let thread = Thread {
                do throws(E) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        return try result.get()
    }
}
