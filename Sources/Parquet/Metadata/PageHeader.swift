/// Thrift `PageHeader`: precedes every page; exactly one of the typed headers is set.
public struct PageHeader: ThriftCodable {
    public var type: PageType
    /// Page size without this header, before compression.
    public var uncompressedPageSize: Int32
    /// Page size without this header, as stored.
    public var compressedPageSize: Int32
    public var crc: Int32?
    public var dataPageHeader: DataPageHeader?
    public var dictionaryPageHeader: DictionaryPageHeader?
    public var dataPageHeaderV2: DataPageHeaderV2?

    public init(type: PageType, uncompressedPageSize: Int32, compressedPageSize: Int32, crc: Int32? = nil,
                dataPageHeader: DataPageHeader? = nil, dictionaryPageHeader: DictionaryPageHeader? = nil,
                dataPageHeaderV2: DataPageHeaderV2? = nil) {
        self.type = type
        self.uncompressedPageSize = uncompressedPageSize
        self.compressedPageSize = compressedPageSize
        self.crc = crc
        self.dataPageHeader = dataPageHeader
        self.dictionaryPageHeader = dictionaryPageHeader
        self.dataPageHeaderV2 = dataPageHeaderV2
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, type.rawValue)
        w.writeI32Field(2, uncompressedPageSize)
        w.writeI32Field(3, compressedPageSize)
        if let crc { w.writeI32Field(4, crc) }
        if let dataPageHeader {
            w.writeFieldHeader(type: .struct, id: 5)
            dataPageHeader.encode(into: &w)
        }
        if let dictionaryPageHeader {
            w.writeFieldHeader(type: .struct, id: 7)
            dictionaryPageHeader.encode(into: &w)
        }
        if let dataPageHeaderV2 {
            w.writeFieldHeader(type: .struct, id: 8)
            dataPageHeaderV2.encode(into: &w)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var type: PageType?, uncompressed: Int32?, compressed: Int32?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: type = try .read(&r, "PageHeader.type")
            case 2 where t == .i32: uncompressed = try r.readI32()
            case 3 where t == .i32: compressed = try r.readI32()
            case 4 where t == .i32: crc = try r.readI32()
            case 5 where t == .struct: dataPageHeader = try DataPageHeader(from: &r)
            case 7 where t == .struct: dictionaryPageHeader = try DictionaryPageHeader(from: &r)
            case 8 where t == .struct: dataPageHeaderV2 = try DataPageHeaderV2(from: &r)
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let type else { throw r.missing("PageHeader.type") }
        guard let uncompressed else { throw r.missing("PageHeader.uncompressed_page_size") }
        guard let compressed else { throw r.missing("PageHeader.compressed_page_size") }
        self.type = type
        self.uncompressedPageSize = uncompressed
        self.compressedPageSize = compressed
    }
}

/// Thrift `DataPageHeader` (v1 data page: levels are compressed with the values).
public struct DataPageHeader: ThriftCodable {
    /// Level entries in the page, nulls included.
    public var numValues: Int32
    public var encoding: Encoding
    public var definitionLevelEncoding: Encoding
    public var repetitionLevelEncoding: Encoding
    public var statistics: Statistics?

    public init(numValues: Int32, encoding: Encoding, definitionLevelEncoding: Encoding = .rle,
                repetitionLevelEncoding: Encoding = .rle, statistics: Statistics? = nil) {
        self.numValues = numValues
        self.encoding = encoding
        self.definitionLevelEncoding = definitionLevelEncoding
        self.repetitionLevelEncoding = repetitionLevelEncoding
        self.statistics = statistics
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, numValues)
        w.writeI32Field(2, encoding.rawValue)
        w.writeI32Field(3, definitionLevelEncoding.rawValue)
        w.writeI32Field(4, repetitionLevelEncoding.rawValue)
        if let statistics {
            w.writeFieldHeader(type: .struct, id: 5)
            statistics.encode(into: &w)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var numValues: Int32?, encoding: Encoding?, def: Encoding?, rep: Encoding?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: numValues = try r.readI32()
            case 2 where t == .i32: encoding = try .read(&r, "DataPageHeader.encoding")
            case 3 where t == .i32: def = try .read(&r, "DataPageHeader.definition_level_encoding")
            case 4 where t == .i32: rep = try .read(&r, "DataPageHeader.repetition_level_encoding")
            case 5 where t == .struct: statistics = try Statistics(from: &r)
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let numValues else { throw r.missing("DataPageHeader.num_values") }
        guard let encoding else { throw r.missing("DataPageHeader.encoding") }
        guard let def else { throw r.missing("DataPageHeader.definition_level_encoding") }
        guard let rep else { throw r.missing("DataPageHeader.repetition_level_encoding") }
        self.numValues = numValues
        self.encoding = encoding
        self.definitionLevelEncoding = def
        self.repetitionLevelEncoding = rep
    }
}

/// Thrift `DataPageHeaderV2`: levels are stored uncompressed ahead of the values and
/// their byte lengths are in the header.
public struct DataPageHeaderV2: ThriftCodable {
    public var numValues: Int32
    public var numNulls: Int32
    public var numRows: Int32
    public var encoding: Encoding
    public var definitionLevelsByteLength: Int32
    public var repetitionLevelsByteLength: Int32
    /// Absent means true (the values section is compressed).
    public var isCompressed: Bool?
    public var statistics: Statistics?

    public init(numValues: Int32, numNulls: Int32, numRows: Int32, encoding: Encoding,
                definitionLevelsByteLength: Int32, repetitionLevelsByteLength: Int32,
                isCompressed: Bool? = nil, statistics: Statistics? = nil) {
        self.numValues = numValues
        self.numNulls = numNulls
        self.numRows = numRows
        self.encoding = encoding
        self.definitionLevelsByteLength = definitionLevelsByteLength
        self.repetitionLevelsByteLength = repetitionLevelsByteLength
        self.isCompressed = isCompressed
        self.statistics = statistics
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, numValues)
        w.writeI32Field(2, numNulls)
        w.writeI32Field(3, numRows)
        w.writeI32Field(4, encoding.rawValue)
        w.writeI32Field(5, definitionLevelsByteLength)
        w.writeI32Field(6, repetitionLevelsByteLength)
        if let isCompressed { w.writeBoolField(7, isCompressed) }
        if let statistics {
            w.writeFieldHeader(type: .struct, id: 8)
            statistics.encode(into: &w)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var numValues: Int32?, numNulls: Int32?, numRows: Int32?, encoding: Encoding?, defLen: Int32?, repLen: Int32?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: numValues = try r.readI32()
            case 2 where t == .i32: numNulls = try r.readI32()
            case 3 where t == .i32: numRows = try r.readI32()
            case 4 where t == .i32: encoding = try .read(&r, "DataPageHeaderV2.encoding")
            case 5 where t == .i32: defLen = try r.readI32()
            case 6 where t == .i32: repLen = try r.readI32()
            case 7 where t.isBool: isCompressed = try r.readBoolField()
            case 8 where t == .struct: statistics = try Statistics(from: &r)
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let numValues else { throw r.missing("DataPageHeaderV2.num_values") }
        guard let numNulls else { throw r.missing("DataPageHeaderV2.num_nulls") }
        guard let numRows else { throw r.missing("DataPageHeaderV2.num_rows") }
        guard let encoding else { throw r.missing("DataPageHeaderV2.encoding") }
        guard let defLen else { throw r.missing("DataPageHeaderV2.definition_levels_byte_length") }
        guard let repLen else { throw r.missing("DataPageHeaderV2.repetition_levels_byte_length") }
        self.numValues = numValues
        self.numNulls = numNulls
        self.numRows = numRows
        self.encoding = encoding
        self.definitionLevelsByteLength = defLen
        self.repetitionLevelsByteLength = repLen
    }
}

/// Thrift `DictionaryPageHeader`: the (single, first) dictionary page of a chunk.
public struct DictionaryPageHeader: ThriftCodable {
    public var numValues: Int32
    /// PLAIN for new files (PLAIN_DICTIONARY is the deprecated spelling).
    public var encoding: Encoding
    public var isSorted: Bool?

    public init(numValues: Int32, encoding: Encoding = .plain, isSorted: Bool? = nil) {
        self.numValues = numValues
        self.encoding = encoding
        self.isSorted = isSorted
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, numValues)
        w.writeI32Field(2, encoding.rawValue)
        if let isSorted { w.writeBoolField(3, isSorted) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var numValues: Int32?, encoding: Encoding?
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: numValues = try r.readI32()
            case 2 where t == .i32: encoding = try .read(&r, "DictionaryPageHeader.encoding")
            case 3 where t.isBool: isSorted = try r.readBoolField()
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let numValues else { throw r.missing("DictionaryPageHeader.num_values") }
        guard let encoding else { throw r.missing("DictionaryPageHeader.encoding") }
        self.numValues = numValues
        self.encoding = encoding
    }
}
