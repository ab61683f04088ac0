/// Thrift `Statistics` of a column chunk or page. Values are PLAIN-encoded (byte
/// arrays without their length prefix); write `minValue`/`maxValue`, not the
/// deprecated `min`/`max`.
public struct Statistics: ThriftCodable {
    /// Deprecated signed-order maximum.
    public var max: [UInt8]?
    /// Deprecated signed-order minimum.
    public var min: [UInt8]?
    public var nullCount: Int64?
    public var distinctCount: Int64?
    public var maxValue: [UInt8]?
    public var minValue: [UInt8]?
    public var isMaxValueExact: Bool?
    public var isMinValueExact: Bool?
    public var nanCount: Int64?

    public init(max: [UInt8]? = nil, min: [UInt8]? = nil, nullCount: Int64? = nil, distinctCount: Int64? = nil,
                maxValue: [UInt8]? = nil, minValue: [UInt8]? = nil, isMaxValueExact: Bool? = nil,
                isMinValueExact: Bool? = nil, nanCount: Int64? = nil) {
        self.max = max
        self.min = min
        self.nullCount = nullCount
        self.distinctCount = distinctCount
        self.maxValue = maxValue
        self.minValue = minValue
        self.isMaxValueExact = isMaxValueExact
        self.isMinValueExact = isMinValueExact
        self.nanCount = nanCount
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        if let max { w.writeBinaryField(1, max) }
        if let min { w.writeBinaryField(2, min) }
        if let nullCount { w.writeI64Field(3, nullCount) }
        if let distinctCount { w.writeI64Field(4, distinctCount) }
        if let maxValue { w.writeBinaryField(5, maxValue) }
        if let minValue { w.writeBinaryField(6, minValue) }
        if let isMaxValueExact { w.writeBoolField(7, isMaxValueExact) }
        if let isMinValueExact { w.writeBoolField(8, isMinValueExact) }
        if let nanCount { w.writeI64Field(9, nanCount) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            switch id {
            case 1 where type == .binary: max = try r.readBinary()
            case 2 where type == .binary: min = try r.readBinary()
            case 3 where type == .i64: nullCount = try r.readI64()
            case 4 where type == .i64: distinctCount = try r.readI64()
            case 5 where type == .binary: maxValue = try r.readBinary()
            case 6 where type == .binary: minValue = try r.readBinary()
            case 7 where type.isBool: isMaxValueExact = try r.readBoolField()
            case 8 where type.isBool: isMinValueExact = try r.readBoolField()
            case 9 where type == .i64: nanCount = try r.readI64()
            default: try r.skip(type)
            }
        }
        r.readStructEnd()
    }
}

/// Thrift `SizeStatistics`: unencoded byte-array size and level histograms of a chunk.
public struct SizeStatistics: ThriftCodable {
    public var unencodedByteArrayDataBytes: Int64?
    public var repetitionLevelHistogram: [Int64]?
    public var definitionLevelHistogram: [Int64]?

    public init(unencodedByteArrayDataBytes: Int64? = nil, repetitionLevelHistogram: [Int64]? = nil,
                definitionLevelHistogram: [Int64]? = nil) {
        self.unencodedByteArrayDataBytes = unencodedByteArrayDataBytes
        self.repetitionLevelHistogram = repetitionLevelHistogram
        self.definitionLevelHistogram = definitionLevelHistogram
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        if let unencodedByteArrayDataBytes { w.writeI64Field(1, unencodedByteArrayDataBytes) }
        if let repetitionLevelHistogram { w.writeI64ListField(2, repetitionLevelHistogram) }
        if let definitionLevelHistogram { w.writeI64ListField(3, definitionLevelHistogram) }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            switch id {
            case 1 where type == .i64: unencodedByteArrayDataBytes = try r.readI64()
            case 2 where type == .list:
                repetitionLevelHistogram = try r.readList(.i64, "SizeStatistics.repetition_level_histogram") { try $0.readI64() }
            case 3 where type == .list:
                definitionLevelHistogram = try r.readList(.i64, "SizeStatistics.definition_level_histogram") { try $0.readI64() }
            default: try r.skip(type)
            }
        }
        r.readStructEnd()
    }
}
