import Parquet

/// When the caller's batch is full: rows, or the builders' bytes (checked every 1,024 rows,
/// since summing the columns costs more than a row). Checked after each buffer ``copyOut``
/// hands over (at most ``PGConnection/copyStageBytes`` of rows), so a batch may pass a limit
/// by the rows of one buffer; row groups are cut by the writer's own limits.
package struct BatchLimits: Sendable, Hashable {
    package var maxRows: Int
    package var maxBytes: Int

    package init(maxRows: Int = 131_072, maxBytes: Int = 64 << 20) {
        self.maxRows = maxRows
        self.maxBytes = maxBytes
    }
}

/// What one COPY delivered.
package struct CopyStats: Sendable, Hashable {
    package var rows = 0
    package var rejected = 0
    package var bytes = 0
    package var batches = 0
}

extension PGConnection {
    /// Runs one COPY (a ``BackfillJob``'s `sql`) and decodes it into batches of `mapping.schema`,
    /// handing each full batch, and the last one, to `flush` (write it to a `ParquetWriter`);
    /// the batch is emptied after each flush. Refused rows go to `onRowError`.
    package func copy(_ sql: String, mapping: SourceMapping, keyColumn: String? = nil,
                      limits: BatchLimits = BatchLimits(), flush: (RowBatch) throws -> Void,
                      onRowError: (CopyRowError) -> Void = { _ in },
                      onProgress: (_ bytesConsumed: Int) -> Void = { _ in }) throws -> CopyStats {
        var decoder = try CopyBinaryDecoder(mapping: mapping, keyColumn: keyColumn, textIsValidUTF8: deliversValidUTF8)
        var batch = RowBatch(mapping.schema)
        var stats = CopyStats()
        var nextByteCheck = 1024
        try copyOut(sql) { buffer in
            try decoder.decode(buffer, into: &batch, onRowError: onRowError)
            let rows = batch.rowCount
            var full = rows >= limits.maxRows
            if !full && rows >= nextByteCheck {
                nextByteCheck = rows + 1024
                full = batch.byteCount >= limits.maxBytes
            }
            if full {
                onProgress(decoder.bytesConsumed)
                try flush(batch)
                stats.batches += 1
                batch.removeAll()
                nextByteCheck = 1024
            }
        }
        try decoder.finish()
        onProgress(decoder.bytesConsumed)
        if batch.rowCount > 0 {
            try flush(batch)
            stats.batches += 1
        }
        stats.rows = decoder.rowsDecoded
        stats.rejected = decoder.rowsRejected
        stats.bytes = decoder.bytesConsumed
        return stats
    }
}
