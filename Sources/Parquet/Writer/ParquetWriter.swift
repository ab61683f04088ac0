/// A streaming Parquet file writer.
///
/// Rows arrive in ``RowBatch``es; the writer encodes them into pages as they come,
/// cuts row groups by rows (``WriterProperties/maxRowGroupRows``) and estimated
/// bytes (``WriterProperties/maxRowGroupBytes``), and hands each finished row group
/// to the ``ParquetSink`` at once, so only one row group is held in memory.
/// ``close()`` writes the page indexes and the footer.
///
/// ```swift
/// let schema = try ParquetSchema([
///     .required("id", .int64),
///     .optional("name", .string),
///     .optional("amount", .decimal(precision: 12, scale: 2)),
/// ])
/// var properties = WriterProperties()
/// properties.compression = .zstd(level: 3)
/// let writer = try ParquetWriter(schema: schema, sink: try FileSink(path: "/tmp/x.parquet"),
///                                properties: properties)
/// var batch = writer.makeBatch()
/// batch.columns[0].appendInt64(1)
/// batch.columns[1].appendString("Ada")
/// batch.columns[2].appendInt64(12345)        // 123.45
/// try writer.write(batch)                    // throws ParquetError naming column and row
/// batch.removeAll()
/// let metadata = try writer.close()
/// ```
///
/// Errors in a batch (see ``ParquetError``) are thrown before anything of the batch
/// is buffered: the writer stays usable and the file valid. A sink error leaves
/// the file incomplete; the writer then refuses further calls.
public final class ParquetWriter {
    public let schema: ParquetSchema
    public let properties: WriterProperties
    private let sink: any ParquetSink
    private var configs: [ColumnWriterConfig]
    private let compressors: [Compressor]
    private var chunks: [ColumnChunkWriter] = []
    private var rowGroupRows = 0
    private var position: Int64 = 0
    private var rowGroups: [RowGroup] = []
    private var columnIndexes: [[ColumnIndex?]] = []
    private var offsetIndexes: [[OffsetIndex]] = []
    private var totalRows: Int64 = 0
    private var keyValues: [String: String]
    private var state: State = .open

    private enum State { case open, closed, failed }

    /// Rows written so far (including those of the unfinished row group).
    public var rowCount: Int64 { totalRows }
    /// Bytes handed to the sink so far (finished row groups).
    public var bytesWritten: Int64 { position }
    /// Roughly what the file would take if closed now: use it to roll files by size.
    public var estimatedFileSize: Int64 { position + Int64(estimatedRowGroupSize) }

    public init(schema: ParquetSchema, sink: any ParquetSink, properties: WriterProperties = WriterProperties()) throws {
        self.schema = schema
        self.sink = sink
        self.properties = properties
        self.keyValues = properties.keyValueMetadata
        configs = schema.columns.map { ColumnWriterConfig(properties, $0) }
        compressors = try configs.map { try Compressor($0.compression) }
        let magic: [UInt8] = Array("PAR1".utf8)
        try magic.withUnsafeBytes { try emit($0) }
        startRowGroup()
    }

    /// An empty batch for this writer's schema.
    public func makeBatch() -> RowBatch { RowBatch(schema) }

    /// Adds (or replaces) a key-value pair of the footer metadata.
    public func setMetadata(_ key: String, _ value: String) { keyValues[key] = value }

    private func startRowGroup() {
        if chunks.isEmpty {
            chunks = schema.columns.indices.map {
                ColumnChunkWriter(descriptor: schema.columns[$0], config: configs[$0], compressor: compressors[$0])
            }
        } else {
            for i in chunks.indices { chunks[i].startNextChunk(config: configs[i]) }
        }
        rowGroupRows = 0
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        do {
            try sink.write(bytes)
        } catch {
            state = .failed
            throw error
        }
        position += Int64(bytes.count)
    }

    /// Appends the rows of `batch`. Throws a ``ParquetError`` naming the column and
    /// row of the first invalid value, before writing anything of the batch.
    public func write(_ batch: RowBatch) throws {
        var cursor = RowBatchCursor()
        while try !write(batch, from: &cursor) {}
    }

    /// Appends the rows of `batch` from `cursor` on, and returns as soon as a row group was
    /// handed to the sink (false: rows are left) or every row is written (true).
    ///
    /// This lets a caller ship each finished row group (upload it as multipart parts, say)
    /// before the next is encoded, so a file needs one row group of encoded bytes in memory,
    /// not the whole file. The batch is validated at the first call, as ``write(_:)`` does;
    /// pass the same, unchanged batch to every call of one cursor.
    public func write(_ batch: RowBatch, from cursor: inout RowBatchCursor) throws -> Bool {
        guard state == .open else { throw ParquetError(.writerClosed) }
        if cursor.positions.isEmpty {
            guard batch.columns.count == schema.columns.count,
                  zip(batch.columns, schema.columns).allSatisfy({ $0.descriptor == $1 })
            else {
                throw ParquetError(.batchMismatch, message: "the batch was made for another schema")
            }
            try batch.validate()
            for c in batch.columns where c.maxRep > 0 { try Self.validateNesting(c) }
            try batch.validateSiblings()
            cursor.positions = Array(repeating: .init(), count: batch.columns.count)
            cursor.batchRows = batch.rowCount
            // Slices small enough that the byte limit is checked about 8 times per row group
            // (wide rows), and at most 65,536 rows.
            let bytesPerRow = max(1, batch.byteCount / max(1, batch.rowCount))
            cursor.sliceRows = max(1, min(65536, properties.maxRowGroupBytes / 8 / bytesPerRow))
        }
        let rows = batch.rowCount
        precondition(rows == cursor.batchRows && batch.columns.count == cursor.positions.count,
                     "write(_:from:) continued with another batch than the cursor's")
        while cursor.rowsWritten < rows {
            let take = min(rows - cursor.rowsWritten, properties.maxRowGroupRows - rowGroupRows, cursor.sliceRows)
            for i in batch.columns.indices {
                let c = batch.columns[i]
                let from = cursor.positions[i]
                let (l1, v1) = Self.advance(c, from: (from.level, from.value), rows: take)
                try chunks[i].write(c, levels: from.level..<l1, values: from.value..<v1)
                cursor.positions[i] = .init(level: l1, value: v1)
            }
            cursor.rowsWritten += take
            rowGroupRows += take
            totalRows += Int64(take)
            if rowGroupRows >= properties.maxRowGroupRows || estimatedRowGroupSize >= properties.maxRowGroupBytes {
                try flushRowGroup()
                return cursor.rowsWritten == rows
            }
        }
        return true
    }

    /// Bytes the current row group would take if it were cut now (estimate).
    public var estimatedRowGroupSize: Int { chunks.reduce(0) { $0 + $1.estimatedSize } }

    /// Writes the current row group now (if it has rows), e.g. before a long pause.
    public func flushRowGroup() throws {
        guard state == .open else { throw ParquetError(.writerClosed) }
        guard rowGroupRows > 0 else { return }
        let start = position
        var columns: [ColumnChunk] = []
        var cis: [ColumnIndex?] = []
        var ois: [OffsetIndex] = []
        var blooms: [(Int, SplitBlockBloomFilter)] = []
        var totalUncompressed: Int64 = 0
        sink.reserve(chunks.reduce(0) { $0 + $1.estimatedSize })
        for i in chunks.indices {
            if chunks[i].fellBackToPlain { configs[i].dictionary = false }
            var finished = try chunks[i].finish()
            let chunkStart = position
            try finished.dictionaryPage.withUnsafeBytes { try emit($0) }
            try chunks[i].pageBytes.withUnsafeBytes { try emit($0) }
            var meta = finished.metaData
            meta.dataPageOffset += chunkStart
            if meta.dictionaryPageOffset != nil { meta.dictionaryPageOffset = chunkStart }
            totalUncompressed += meta.totalUncompressedSize
            columns.append(ColumnChunk(fileOffset: chunkStart, metaData: meta))
            cis.append(finished.columnIndex)
            finished.offsetIndex.pageLocations = finished.offsetIndex.pageLocations.map {
                PageLocation(offset: $0.offset + chunkStart, compressedPageSize: $0.compressedPageSize,
                             firstRowIndex: $0.firstRowIndex)
            }
            ois.append(finished.offsetIndex)
            if let b = finished.bloomFilter { blooms.append((i, b)) }
        }
        // Bloom filters after the row group's chunks.
        for (i, b) in blooms {
            let offset = position
            var w = ThriftCompactWriter(capacity: 64)
            b.header().encode(into: &w)
            try w.bytes.withUnsafeBytes { try emit($0) }
            try b.bitset.withUnsafeBytes { try emit($0) }
            columns[i].metaData!.bloomFilterOffset = offset
            columns[i].metaData!.bloomFilterLength = Int32(position - offset)
        }
        rowGroups.append(RowGroup(columns: columns, totalByteSize: totalUncompressed, numRows: Int64(rowGroupRows),
                                  fileOffset: start, totalCompressedSize: position - start,
                                  ordinal: Int16(truncatingIfNeeded: rowGroups.count)))
        columnIndexes.append(cis)
        offsetIndexes.append(ois)
        startRowGroup()
    }

    /// Flushes the last row group, writes the page indexes and the footer, and closes the sink.
    @discardableResult
    public func close() throws -> FileMetaData {
        guard state == .open else { throw ParquetError(.writerClosed) }
        try flushRowGroup()
        if properties.pageIndexEnabled {
            for g in rowGroups.indices {
                for c in rowGroups[g].columns.indices {
                    guard let ci = columnIndexes[g][c] else { continue }
                    var w = ThriftCompactWriter(capacity: 256)
                    ci.encode(into: &w)
                    rowGroups[g].columns[c].columnIndexOffset = position
                    rowGroups[g].columns[c].columnIndexLength = Int32(w.bytes.count)
                    try w.bytes.withUnsafeBytes { try emit($0) }
                }
            }
            for g in rowGroups.indices {
                for c in rowGroups[g].columns.indices {
                    var w = ThriftCompactWriter(capacity: 256)
                    offsetIndexes[g][c].encode(into: &w)
                    rowGroups[g].columns[c].offsetIndexOffset = position
                    rowGroups[g].columns[c].offsetIndexLength = Int32(w.bytes.count)
                    try w.bytes.withUnsafeBytes { try emit($0) }
                }
            }
        }
        let kv = keyValues.keys.sorted().map { KeyValue(key: $0, value: keyValues[$0]) }
        let meta = FileMetaData(
            version: 1, schema: schema.schemaElements(), numRows: totalRows, rowGroups: rowGroups,
            keyValueMetadata: kv.isEmpty ? nil : kv, createdBy: properties.createdBy,
            columnOrders: schema.columns.map { _ in ColumnOrder.typeDefinedOrder })
        var w = ThriftCompactWriter(capacity: 4096)
        meta.encode(into: &w)
        var tail = w.bytes
        tail.appendLE(UInt32(w.bytes.count))
        tail.append(contentsOf: Array("PAR1".utf8))
        try tail.withUnsafeBytes { try emit($0) }
        state = .closed
        try sink.close()
        return meta
    }

    /// Level and value positions after `rows` more rows from `from`.
    private static func advance(_ c: ColumnBuilder, from: (Int, Int), rows: Int) -> (Int, Int) {
        var (l, v) = from
        let md = c.maxDef
        if c.maxRep == 0 {
            let end = l + rows
            if md == 0 { return (end, v + rows) }
            c.definitionLevels.withUnsafeBufferPointer { d in
                for i in l..<end where d[i] == md { v += 1 }
            }
            return (end, v)
        }
        var seen = 0
        c.repetitionLevels.withUnsafeBufferPointer { r in
            c.definitionLevels.withUnsafeBufferPointer { d in
                while l < r.count {
                    if r[l] == 0 {
                        if seen == rows { break }
                        seen += 1
                    }
                    if d[l] == md { v += 1 }
                    l += 1
                }
            }
        }
        return (l, v)
    }

    /// A repetition level r > 0 continues a list that must exist in the previous entry:
    /// its definition level must reach the r-th repeated node.
    private static func validateNesting(_ c: ColumnBuilder) throws(ParquetError) {
        let d = c.descriptor
        var repeatedDef: [UInt8] = [0]
        for (i, n) in d.nodes.enumerated() where n.repetition == .repeated {
            repeatedDef.append(UInt8(d.definitionLevelOfNode[i]))
        }
        var row = -1
        var prevDef: UInt8 = 0
        let reps = c.repetitionLevels, defs = c.definitionLevels
        for i in 0..<reps.count {
            let r = reps[i]
            if r == 0 {
                row += 1
            } else if prevDef < repeatedDef[Int(r)] {
                throw ParquetError(.invalidLevels, column: d.dottedPath, row: row,
                                   message: "repetition level \(r) continues a list that is null or empty")
            }
            prevDef = defs.isEmpty ? c.maxDef : defs[i]
        }
    }
}

/// How far a batch written in steps has got (see ``ParquetWriter/write(_:from:)``).
public struct RowBatchCursor: Sendable {
    struct Position: Sendable {
        var level = 0
        var value = 0
    }
    /// Rows of the batch written so far.
    public internal(set) var rowsWritten = 0
    /// Per column; empty until the batch was validated.
    var positions: [Position] = []
    /// Rows of the batch the cursor belongs to.
    var batchRows = 0
    /// Rows encoded between two checks of the row group's size.
    var sliceRows = 65536

    public init() {}
}
