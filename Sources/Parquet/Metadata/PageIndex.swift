/// Thrift `ColumnIndex`: per-page min/max/null statistics of one column chunk.
/// Entry i describes the page at `OffsetIndex.pageLocations[i]`.
public struct ColumnIndex: ThriftCodable {
    /// True for pages holding only nulls (their min/max entries are empty).
    public var nullPages: [Bool]
    public var minValues: [[UInt8]]
    public var maxValues: [[UInt8]]
    public var boundaryOrder: BoundaryOrder
    public var nullCounts: [Int64]?
    public var repetitionLevelHistograms: [Int64]?
    public var definitionLevelHistograms: [Int64]?
    public var nanCounts: [Int64]?

    public init(nullPages: [Bool], minValues: [[UInt8]], maxValues: [[UInt8]], boundaryOrder: BoundaryOrder,
                nullCounts: [Int64]? = nil, repetitionLevelHistograms: [Int64]? = nil,
                definitionLevelHistograms: [Int64]? = nil, nanCounts: [Int64]? = nil) {
        self.nullPages = nullPages
        self.minValues = minValues
        self.maxValues = maxValues
        self.boundaryOrder = boundaryOrder
        self.nullCounts = nullCounts
        self.repetitionLevelHistograms = repetitionLevelHistograms
        self.definitionLevelHistograms = definitionLevelHistograms
        self.nanCounts = nanCounts
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeBoolListField(1, nullPages)
        w.writeBinaryListField(2, minValues)
        w.writeBinaryListField(3, maxValues)
        w.writeI32Field(4, boundaryOrder.rawValue)
        if let nullCounts { w.writeI64ListField(5, nullCounts) }
        if let repetitionLevelHistograms { w.writeI64ListField(6, repetitionLevelHistograms) }
        if let definitionLevelHistograms { w.writeI64ListField(7, definitionLevelHistograms) }
        if let nanCounts { w.writeI64ListField(8, nanCounts) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var nullPages: [Bool]?, minValues: [[UInt8]]?, maxValues: [[UInt8]]?, order: BoundaryOrder?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .list:
                nullPages = try r.readList(.booleanTrue, "ColumnIndex.null_pages") { try $0.readBoolElement() }
            case 2 where t == .list:
                minValues = try r.readList(.binary, "ColumnIndex.min_values") { try $0.readBinary() }
            case 3 where t == .list:
                maxValues = try r.readList(.binary, "ColumnIndex.max_values") { try $0.readBinary() }
            case 4 where t == .i32: order = try .read(&r, "ColumnIndex.boundary_order")
            case 5 where t == .list:
                nullCounts = try r.readList(.i64, "ColumnIndex.null_counts") { try $0.readI64() }
            case 6 where t == .list:
                repetitionLevelHistograms = try r.readList(.i64, "ColumnIndex.repetition_level_histograms") { try $0.readI64() }
            case 7 where t == .list:
                definitionLevelHistograms = try r.readList(.i64, "ColumnIndex.definition_level_histograms") { try $0.readI64() }
            case 8 where t == .list:
                nanCounts = try r.readList(.i64, "ColumnIndex.nan_counts") { try $0.readI64() }
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let nullPages else { throw r.missing("ColumnIndex.null_pages") }
        guard let minValues else { throw r.missing("ColumnIndex.min_values") }
        guard let maxValues else { throw r.missing("ColumnIndex.max_values") }
        guard let order else { throw r.missing("ColumnIndex.boundary_order") }
        self.nullPages = nullPages
        self.minValues = minValues
        self.maxValues = maxValues
        self.boundaryOrder = order
    }
}

/// Thrift `OffsetIndex`: where each data page of a column chunk starts.
public struct OffsetIndex: ThriftCodable {
    public var pageLocations: [PageLocation]
    public var unencodedByteArrayDataBytes: [Int64]?

    public init(pageLocations: [PageLocation], unencodedByteArrayDataBytes: [Int64]? = nil) {
        self.pageLocations = pageLocations
        self.unencodedByteArrayDataBytes = unencodedByteArrayDataBytes
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeListFieldHeader(1, elementType: .struct, count: pageLocations.count)
        for p in pageLocations { p.encode(into: &w) }
        if let unencodedByteArrayDataBytes { w.writeI64ListField(2, unencodedByteArrayDataBytes) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var locations: [PageLocation]?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .list:
                locations = try r.readList(.struct, "OffsetIndex.page_locations") { try PageLocation(from: &$0) }
            case 2 where t == .list:
                unencodedByteArrayDataBytes = try r.readList(.i64, "OffsetIndex.unencoded_byte_array_data_bytes") { try $0.readI64() }
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let locations else { throw r.missing("OffsetIndex.page_locations") }
        self.pageLocations = locations
    }
}

/// Thrift `PageLocation`: one data page in an `OffsetIndex`.
public struct PageLocation: ThriftCodable {
    public var offset: Int64
    /// Page size including its header.
    public var compressedPageSize: Int32
    public var firstRowIndex: Int64

    public init(offset: Int64, compressedPageSize: Int32, firstRowIndex: Int64) {
        self.offset = offset
        self.compressedPageSize = compressedPageSize
        self.firstRowIndex = firstRowIndex
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI64Field(1, offset)
        w.writeI32Field(2, compressedPageSize)
        w.writeI64Field(3, firstRowIndex)
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var offset: Int64?, size: Int32?, first: Int64?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i64: offset = try r.readI64()
            case 2 where t == .i32: size = try r.readI32()
            case 3 where t == .i64: first = try r.readI64()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let offset else { throw r.missing("PageLocation.offset") }
        guard let size else { throw r.missing("PageLocation.compressed_page_size") }
        guard let first else { throw r.missing("PageLocation.first_row_index") }
        self.offset = offset
        self.compressedPageSize = size
        self.firstRowIndex = first
    }
}
