/// Thrift `FileMetaData`: the footer of a Parquet file.
public struct FileMetaData: ThriftCodable {
    /// Write 1: readers accept 1 and 2 alike.
    public var version: Int32
    /// Depth-first schema; element 0 is the root group.
    public var schema: [SchemaElement]
    public var numRows: Int64
    public var rowGroups: [RowGroup]
    public var keyValueMetadata: [KeyValue]?
    /// `<app> version <semver> (build <hash>)`.
    public var createdBy: String?
    /// One per leaf column; required whenever min_value/max_value are written.
    public var columnOrders: [ColumnOrder]?

    public init(version: Int32 = 1, schema: [SchemaElement], numRows: Int64, rowGroups: [RowGroup],
                keyValueMetadata: [KeyValue]? = nil, createdBy: String? = nil, columnOrders: [ColumnOrder]? = nil) {
        self.version = version
        self.schema = schema
        self.numRows = numRows
        self.rowGroups = rowGroups
        self.keyValueMetadata = keyValueMetadata
        self.createdBy = createdBy
        self.columnOrders = columnOrders
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, version)
        w.writeListFieldHeader(2, elementType: .struct, count: schema.count)
        for e in schema { e.encode(into: &w) }
        w.writeI64Field(3, numRows)
        w.writeListFieldHeader(4, elementType: .struct, count: rowGroups.count)
        for g in rowGroups { g.encode(into: &w) }
        if let keyValueMetadata {
            w.writeListFieldHeader(5, elementType: .struct, count: keyValueMetadata.count)
            for kv in keyValueMetadata { kv.encode(into: &w) }
        }
        if let createdBy { w.writeStringField(6, createdBy) }
        if let columnOrders {
            w.writeListFieldHeader(7, elementType: .struct, count: columnOrders.count)
            for o in columnOrders { o.encode(into: &w) }
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var version: Int32?, schema: [SchemaElement]?, numRows: Int64?, rowGroups: [RowGroup]?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: version = try r.readI32()
            case 2 where t == .list:
                schema = try r.readList(.struct, "FileMetaData.schema") { try SchemaElement(from: &$0) }
            case 3 where t == .i64: numRows = try r.readI64()
            case 4 where t == .list:
                rowGroups = try r.readList(.struct, "FileMetaData.row_groups") { try RowGroup(from: &$0) }
            case 5 where t == .list:
                keyValueMetadata = try r.readList(.struct, "FileMetaData.key_value_metadata") { try KeyValue(from: &$0) }
            case 6 where t == .binary: createdBy = try r.readString()
            case 7 where t == .list:
                columnOrders = try r.readList(.struct, "FileMetaData.column_orders") { try ColumnOrder(from: &$0) }
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let version else { throw r.missing("FileMetaData.version") }
        guard let schema else { throw r.missing("FileMetaData.schema") }
        guard let numRows else { throw r.missing("FileMetaData.num_rows") }
        guard let rowGroups else { throw r.missing("FileMetaData.row_groups") }
        self.version = version
        self.schema = schema
        self.numRows = numRows
        self.rowGroups = rowGroups
    }
}

/// Thrift `RowGroup`: the column chunks of a horizontal slice of the file.
public struct RowGroup: ThriftCodable {
    /// In schema (leaf) order.
    public var columns: [ColumnChunk]
    /// Total uncompressed size of the column data.
    public var totalByteSize: Int64
    public var numRows: Int64
    public var sortingColumns: [SortingColumn]?
    /// Offset of the first page (dictionary or data) of the row group.
    public var fileOffset: Int64?
    public var totalCompressedSize: Int64?
    public var ordinal: Int16?

    public init(columns: [ColumnChunk], totalByteSize: Int64, numRows: Int64, sortingColumns: [SortingColumn]? = nil,
                fileOffset: Int64? = nil, totalCompressedSize: Int64? = nil, ordinal: Int16? = nil) {
        self.columns = columns
        self.totalByteSize = totalByteSize
        self.numRows = numRows
        self.sortingColumns = sortingColumns
        self.fileOffset = fileOffset
        self.totalCompressedSize = totalCompressedSize
        self.ordinal = ordinal
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeListFieldHeader(1, elementType: .struct, count: columns.count)
        for c in columns { c.encode(into: &w) }
        w.writeI64Field(2, totalByteSize)
        w.writeI64Field(3, numRows)
        if let sortingColumns {
            w.writeListFieldHeader(4, elementType: .struct, count: sortingColumns.count)
            for s in sortingColumns { s.encode(into: &w) }
        }
        if let fileOffset { w.writeI64Field(5, fileOffset) }
        if let totalCompressedSize { w.writeI64Field(6, totalCompressedSize) }
        if let ordinal { w.writeI16Field(7, ordinal) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var columns: [ColumnChunk]?, totalByteSize: Int64?, numRows: Int64?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .list:
                columns = try r.readList(.struct, "RowGroup.columns") { try ColumnChunk(from: &$0) }
            case 2 where t == .i64: totalByteSize = try r.readI64()
            case 3 where t == .i64: numRows = try r.readI64()
            case 4 where t == .list:
                sortingColumns = try r.readList(.struct, "RowGroup.sorting_columns") { try SortingColumn(from: &$0) }
            case 5 where t == .i64: fileOffset = try r.readI64()
            case 6 where t == .i64: totalCompressedSize = try r.readI64()
            case 7 where t == .i16: ordinal = try r.readI16()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let columns else { throw r.missing("RowGroup.columns") }
        guard let totalByteSize else { throw r.missing("RowGroup.total_byte_size") }
        guard let numRows else { throw r.missing("RowGroup.num_rows") }
        self.columns = columns
        self.totalByteSize = totalByteSize
        self.numRows = numRows
    }
}

/// Thrift `SortingColumn`: declares that a row group is sorted by a leaf column.
public struct SortingColumn: ThriftCodable {
    public var columnIdx: Int32
    public var descending: Bool
    public var nullsFirst: Bool

    public init(columnIdx: Int32, descending: Bool, nullsFirst: Bool) {
        self.columnIdx = columnIdx
        self.descending = descending
        self.nullsFirst = nullsFirst
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, columnIdx)
        w.writeBoolField(2, descending)
        w.writeBoolField(3, nullsFirst)
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var idx: Int32?, desc: Bool?, nullsFirst: Bool?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: idx = try r.readI32()
            case 2 where t.isBool: desc = try r.readBoolField()
            case 3 where t.isBool: nullsFirst = try r.readBoolField()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let idx else { throw r.missing("SortingColumn.column_idx") }
        guard let desc else { throw r.missing("SortingColumn.descending") }
        guard let nullsFirst else { throw r.missing("SortingColumn.nulls_first") }
        self.columnIdx = idx
        self.descending = desc
        self.nullsFirst = nullsFirst
    }
}

/// Thrift `ColumnOrder` union: the order min/max statistics of a leaf column follow.
public enum ColumnOrder: ThriftCodable, Hashable {
    /// The order of the column's logical (or physical) type: what lakewriter writes.
    case typeDefinedOrder
    case ieee754TotalOrder
    case int96TimestampOrder
    /// A member this reader does not know: its statistics must be ignored.
    case unknown(fieldId: Int16)

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        switch self {
        case .typeDefinedOrder: w.writeEmptyStructField(1)
        case .ieee754TotalOrder: w.writeEmptyStructField(2)
        case .int96TimestampOrder: w.writeEmptyStructField(3)
        case .unknown(let id): w.writeEmptyStructField(id)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var order: ColumnOrder?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            if t == .struct {
                switch id {
                case 1: order = .typeDefinedOrder
                case 2: order = .ieee754TotalOrder
                case 3: order = .int96TimestampOrder
                default: order = .unknown(fieldId: id)
                }
            }
            try r.skip(t)
        }
        r.readStructEnd()
        guard let order else { throw r.error(.emptyUnion, "ColumnOrder") }
        self = order
    }
}
