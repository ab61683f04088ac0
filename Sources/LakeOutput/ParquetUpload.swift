import LakeModel
import NIOCore
import ObjectStore
import Parquet

/// Encodes a batch into one Parquet file and streams it to the store row group by row group:
/// each finished row group goes to the object writer (which cuts multipart parts) before the
/// next is encoded, so a flush holds one row group of encoded bytes plus the writer's parts,
/// never the whole file.
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
    }

    /// Encoding went wrong (a ``ParquetError``, a compressor error): retrying cannot help, unlike
    /// a storage error.
    package struct EncodeFailure: Error, CustomStringConvertible {
        package var underlying: any Error
        package var description: String { "\(underlying)" }
    }

    private func encoding<T>(_ body: () throws -> T) throws(EncodeFailure) -> T {
        do { return try body() } catch { throw EncodeFailure(underlying: error) }
    }

    package func run(_ batch: RowBatch, key: String, store: any ObjectStore) async throws -> Result {
        let sink = PendingBytes()
        let writer = try encoding { try ParquetWriter(schema: batch.schema, sink: sink, properties: properties) }
        let upload = store.makeWriter(key: key, options: options)
        var peak = 0
        let rowGroups: Int
        do {
            var cursor = RowBatchCursor()
            var done = false
            while !done {
                try Task.checkCancellation()
                done = try encoding { try writer.write(batch, from: &cursor) }
                peak = max(peak, sink.buffer.readableBytes)
                try await upload.write(sink.take())
            }
            let metadata = try encoding { try writer.close() }
            rowGroups = metadata.rowGroups.count
            peak = max(peak, sink.buffer.readableBytes)
            try await upload.write(sink.take())
            _ = try await upload.finish()
        } catch {
            await upload.abort()
            throw error
        }
        var partCount = 0
        if let m = upload as? MultipartObjectWriter { partCount = await m.partsStarted }
        return Result(bytes: Int(writer.bytesWritten), rowGroups: rowGroups, parts: partCount, peakPendingBytes: peak)
    }
}

/// The sink of a ``ParquetUpload``: holds what the Parquet writer produced until the upload
/// takes it. Used by one task at a time (the writer and the upload loop run in the same task).
package final class PendingBytes: ParquetSink {
    private(set) var buffer = ByteBuffer()

    package func write(_ bytes: UnsafeRawBufferPointer) throws { buffer.writeBytes(bytes) }
    package func close() throws {}

    /// Everything written since the last call.
    package func take() -> ByteBuffer {
        let b = buffer
        buffer = ByteBuffer()
        return b
    }
}
