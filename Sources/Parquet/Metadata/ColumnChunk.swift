/// Thrift `ColumnChunk`: where one column of one row group lives, plus its page index.
public struct ColumnChunk: ThriftCodable {
    public var filePath: String?
    /// Deprecated; write 0.
    public var fileOffset: Int64
    public var metaData: ColumnMetaData?
    public var offsetIndexOffset: Int64?
    public var offsetIndexLength: Int32?
    public var columnIndexOffset: Int64?
    public var columnIndexLength: Int32?

    public init(filePath: String? = nil, fileOffset: Int64 = 0, metaData: ColumnMetaData? = nil,
                offsetIndexOffset: Int64? = nil, offsetIndexLength: Int32? = nil,
                columnIndexOffset: Int64? = nil, columnIndexLength: Int32? = nil) {
        self.filePath = filePath
        self.fileOffset = fileOffset
        self.metaData = metaData
        self.offsetIndexOffset = offsetIndexOffset
        self.offsetIndexLength = offsetIndexLength
        self.columnIndexOffset = columnIndexOffset
        self.columnIndexLength = columnIndexLength
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        if let filePath { w.writeStringField(1, filePath) }
        w.writeI64Field(2, fileOffset)
        if let metaData {
            w.writeFieldHeader(type: .struct, id: 3)
            metaData.encode(into: &w)
        }
        if let offsetIndexOffset { w.writeI64Field(4, offsetIndexOffset) }
        if let offsetIndexLength { w.writeI32Field(5, offsetIndexLength) }
        if let columnIndexOffset { w.writeI64Field(6, columnIndexOffset) }
        if let columnIndexLength { w.writeI32Field(7, columnIndexLength) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        fileOffset = 0
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .binary: filePath = try r.readString()
            case 2 where t == .i64: fileOffset = try r.readI64()
            case 3 where t == .struct: metaData = try ColumnMetaData(from: &r)
            case 4 where t == .i64: offsetIndexOffset = try r.readI64()
            case 5 where t == .i32: offsetIndexLength = try r.readI32()
            case 6 where t == .i64: columnIndexOffset = try r.readI64()
            case 7 where t == .i32: columnIndexLength = try r.readI32()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
    }
}

/// Thrift `ColumnMetaData`: type, codec, sizes, offsets and statistics of a column chunk.
public struct ColumnMetaData: ThriftCodable {
    public var type: PhysicalType
    /// Every encoding used in the chunk, level encodings included.
    public var encodings: [Encoding]
    public var pathInSchema: [String]
    public var codec: CompressionCodec
    /// Level entries (nulls included).
    public var numValues: Int64
    /// Sum of uncompressed page sizes, page headers included.
    public var totalUncompressedSize: Int64
    /// Sum of stored page sizes, page headers included.
    public var totalCompressedSize: Int64
    public var keyValueMetadata: [KeyValue]?
    /// Offset of the first data page.
    public var dataPageOffset: Int64
    public var indexPageOffset: Int64?
    public var dictionaryPageOffset: Int64?
    public var statistics: Statistics?
    public var encodingStats: [PageEncodingStats]?
    public var bloomFilterOffset: Int64?
    public var bloomFilterLength: Int32?
    public var sizeStatistics: SizeStatistics?

    public init(type: PhysicalType, encodings: [Encoding], pathInSchema: [String], codec: CompressionCodec,
                numValues: Int64, totalUncompressedSize: Int64, totalCompressedSize: Int64,
                keyValueMetadata: [KeyValue]? = nil, dataPageOffset: Int64, indexPageOffset: Int64? = nil,
                dictionaryPageOffset: Int64? = nil, statistics: Statistics? = nil,
                encodingStats: [PageEncodingStats]? = nil, bloomFilterOffset: Int64? = nil,
                bloomFilterLength: Int32? = nil, sizeStatistics: SizeStatistics? = nil) {
        self.type = type
        self.encodings = encodings
        self.pathInSchema = pathInSchema
        self.codec = codec
        self.numValues = numValues
        self.totalUncompressedSize = totalUncompressedSize
        self.totalCompressedSize = totalCompressedSize
        self.keyValueMetadata = keyValueMetadata
        self.dataPageOffset = dataPageOffset
        self.indexPageOffset = indexPageOffset
        self.dictionaryPageOffset = dictionaryPageOffset
        self.statistics = statistics
        self.encodingStats = encodingStats
        self.bloomFilterOffset = bloomFilterOffset
        self.bloomFilterLength = bloomFilterLength
        self.sizeStatistics = sizeStatistics
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, type.rawValue)
        w.writeListFieldHeader(2, elementType: .i32, count: encodings.count)
        for e in encodings { w.writeI32(e.rawValue) }
        w.writeStringListField(3, pathInSchema)
        w.writeI32Field(4, codec.rawValue)
        w.writeI64Field(5, numValues)
        w.writeI64Field(6, totalUncompressedSize)
        w.writeI64Field(7, totalCompressedSize)
        if let keyValueMetadata {
            w.writeListFieldHeader(8, elementType: .struct, count: keyValueMetadata.count)
            for kv in keyValueMetadata { kv.encode(into: &w) }
        }
        w.writeI64Field(9, dataPageOffset)
        if let indexPageOffset { w.writeI64Field(10, indexPageOffset) }
        if let dictionaryPageOffset { w.writeI64Field(11, dictionaryPageOffset) }
        if let statistics {
            w.writeFieldHeader(type: .struct, id: 12)
            statistics.encode(into: &w)
        }
        if let encodingStats {
            w.writeListFieldHeader(13, elementType: .struct, count: encodingStats.count)
            for s in encodingStats { s.encode(into: &w) }
        }
        if let bloomFilterOffset { w.writeI64Field(14, bloomFilterOffset) }
        if let bloomFilterLength { w.writeI32Field(15, bloomFilterLength) }
        if let sizeStatistics {
            w.writeFieldHeader(type: .struct, id: 16)
            sizeStatistics.encode(into: &w)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var type: PhysicalType?, encodings: [Encoding]?, path: [String]?, codec: CompressionCodec?
        var numValues: Int64?, uncompressed: Int64?, compressed: Int64?, dataPageOffset: Int64?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: type = try .read(&r, "ColumnMetaData.type")
            case 2 where t == .list:
                encodings = try r.readList(.i32, "ColumnMetaData.encodings") { try Encoding.read(&$0, "ColumnMetaData.encodings") }
            case 3 where t == .list:
                path = try r.readList(.binary, "ColumnMetaData.path_in_schema") { try $0.readString() }
            case 4 where t == .i32: codec = try .read(&r, "ColumnMetaData.codec")
            case 5 where t == .i64: numValues = try r.readI64()
            case 6 where t == .i64: uncompressed = try r.readI64()
            case 7 where t == .i64: compressed = try r.readI64()
            case 8 where t == .list:
                keyValueMetadata = try r.readList(.struct, "ColumnMetaData.key_value_metadata") { try KeyValue(from: &$0) }
            case 9 where t == .i64: dataPageOffset = try r.readI64()
            case 10 where t == .i64: indexPageOffset = try r.readI64()
            case 11 where t == .i64: dictionaryPageOffset = try r.readI64()
            case 12 where t == .struct: statistics = try Statistics(from: &r)
            case 13 where t == .list:
                encodingStats = try r.readList(.struct, "ColumnMetaData.encoding_stats") { try PageEncodingStats(from: &$0) }
            case 14 where t == .i64: bloomFilterOffset = try r.readI64()
            case 15 where t == .i32: bloomFilterLength = try r.readI32()
            case 16 where t == .struct: sizeStatistics = try SizeStatistics(from: &r)
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let type else { throw r.missing("ColumnMetaData.type") }
        guard let encodings else { throw r.missing("ColumnMetaData.encodings") }
        guard let path else { throw r.missing("ColumnMetaData.path_in_schema") }
        guard let codec else { throw r.missing("ColumnMetaData.codec") }
        guard let numValues else { throw r.missing("ColumnMetaData.num_values") }
        guard let uncompressed else { throw r.missing("ColumnMetaData.total_uncompressed_size") }
        guard let compressed else { throw r.missing("ColumnMetaData.total_compressed_size") }
        guard let dataPageOffset else { throw r.missing("ColumnMetaData.data_page_offset") }
        self.type = type
        self.encodings = encodings
        self.pathInSchema = path
        self.codec = codec
        self.numValues = numValues
        self.totalUncompressedSize = uncompressed
        self.totalCompressedSize = compressed
        self.dataPageOffset = dataPageOffset
    }
}

/// Thrift `PageEncodingStats`: how many pages of a type used an encoding (readers use
/// it to detect dictionary fallback).
public struct PageEncodingStats: ThriftCodable {
    public var pageType: PageType
    public var encoding: Encoding
    public var count: Int32

    public init(pageType: PageType, encoding: Encoding, count: Int32) {
        self.pageType = pageType
        self.encoding = encoding
        self.count = count
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, pageType.rawValue)
        w.writeI32Field(2, encoding.rawValue)
        w.writeI32Field(3, count)
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var pageType: PageType?, encoding: Encoding?, count: Int32?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: pageType = try .read(&r, "PageEncodingStats.page_type")
            case 2 where t == .i32: encoding = try .read(&r, "PageEncodingStats.encoding")
            case 3 where t == .i32: count = try r.readI32()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let pageType else { throw r.missing("PageEncodingStats.page_type") }
        guard let encoding else { throw r.missing("PageEncodingStats.encoding") }
        guard let count else { throw r.missing("PageEncodingStats.count") }
        self.pageType = pageType
        self.encoding = encoding
        self.count = count
    }
}
