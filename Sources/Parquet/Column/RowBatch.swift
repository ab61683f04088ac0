/// A batch of rows for one schema: one ``ColumnBuilder`` per leaf column, in schema order.
///
/// Fill every column with the same number of rows, hand the batch to
/// ``ParquetWriter/write(_:)``, then ``removeAll()`` and reuse it (buffers keep their capacity).
///
/// ```swift
/// var batch = RowBatch(schema)
/// batch.columns[0].appendInt64(42)
/// "hello".utf8.withContiguousStorageIfAvailable { batch.columns[1].appendBytes(UnsafeRawBufferPointer($0)) }
/// batch.columns[2].appendNull()
/// try writer.write(batch)
/// batch.removeAll()
/// ```
public struct RowBatch: Sendable {
    public let schema: ParquetSchema
    public var columns: [ColumnBuilder]

    public init(_ schema: ParquetSchema) {
        self.schema = schema
        self.columns = schema.columns.map { ColumnBuilder($0) }
    }

    private init(schema: ParquetSchema, columns: [ColumnBuilder]) {
        self.schema = schema
        self.columns = columns
    }

    /// The same rows without the top-level fields named in `names` (their leaf columns are left
    /// out; the other builders are shared, not copied). Throws when nothing would remain.
    public func removingTopLevelFields(_ names: Set<String>) throws(ParquetError) -> RowBatch {
        guard schema.fields.contains(where: { names.contains($0.name) }) else { return self }
        let kept = try ParquetSchema(schema.fields.filter { !names.contains($0.name) }, name: schema.name)
        var out: [ColumnBuilder] = []
        out.reserveCapacity(kept.columns.count)
        for c in columns where !names.contains(c.descriptor.path[0]) {
            var b = c
            b.descriptor = kept.columns[out.count]
            out.append(b)
        }
        return RowBatch(schema: kept, columns: out)
    }

    /// A copy of the builder at this dotted path (`"address.city"`), for inspection; append
    /// through `columns[schema.columnIndex(path)!]`.
    public subscript(path: String) -> ColumnBuilder? {
        get { schema.columnIndex(path).map { columns[$0] } }
    }

    /// Rows in the batch (the first column's count; `validate()` checks they agree).
    public var rowCount: Int { columns.isEmpty ? 0 : columns[0].rowCount }  // no copy of the builder
    /// Sum of the columns' ``ColumnBuilder/byteCount``.
    public var byteCount: Int { columns.reduce(0) { $0 + $1.byteCount } }
    /// Sum of the columns' ``ColumnBuilder/allocatedBytes``.
    public var allocatedBytes: Int { columns.reduce(0) { $0 + $1.allocatedBytes } }

    /// Empties every column, keeping capacity.
    public mutating func removeAll() {
        for i in columns.indices { columns[i].removeAll() }
    }

    /// Reserves room for `rows` rows in every column (byte arrays get `bytesPerValue` bytes a row).
    public mutating func reserveCapacity(rows: Int, bytesPerValue: Int = 16) {
        for i in columns.indices { columns[i].reserveCapacity(values: rows, bytes: rows * bytesPerValue) }
    }

    /// Throws the first recorded value error, or a mismatch in row counts between columns.
    /// The rows some column refused a value of, ascending, and whether the list is complete
    /// (false when a column recorded more than ``ColumnBuilder/maxFailedRows``).
    public var failedRows: (rows: [Int], complete: Bool) {
        var all = Set<Int>()
        var complete = true
        for c in columns {
            all.formUnion(c.failedRows)
            if c.failedRowsOverflowed { complete = false }
        }
        return (all.sorted(), complete)
    }

    /// Why row `row` was refused: the first recorded error of a column at that row, if any.
    public func failure(ofRow row: Int) -> ParquetError? {
        columns.lazy.compactMap(\.error).first { $0.row == row }
    }

    public func validate() throws(ParquetError) {
        let rows = rowCount
        for c in columns {
            if let e = c.firstError { throw e }
            if c.rowCount != rows {
                throw ParquetError(.batchMismatch, column: c.descriptor.dottedPath,
                                   message: "column has \(c.rowCount) rows, the first column \(rows)")
            }
            if c.maxRep > 0, let first = c.repetitionLevels.first, first != 0 {
                throw ParquetError(.invalidLevels, column: c.descriptor.dottedPath, row: 0,
                                   message: "the first entry of a batch must start a row (repetition level 0)")
            }
        }
    }
}
