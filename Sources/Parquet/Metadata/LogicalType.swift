/// Thrift `TimeUnit` union of the TIME and TIMESTAMP logical types.
public enum TimeUnit: ThriftCodable, Hashable, CaseIterable {
    case millis
    case micros
    case nanos

    var fieldId: Int16 {
        switch self {
        case .millis: 1
        case .micros: 2
        case .nanos: 3
        }
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeEmptyStructField(fieldId)
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var unit: TimeUnit?
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            switch id {
            case 1 where type == .struct: unit = .millis
            case 2 where type == .struct: unit = .micros
            case 3 where type == .struct: unit = .nanos
            default: break
            }
            try r.skip(type)
        }
        r.readStructEnd()
        guard let unit else { throw r.error(.emptyUnion, "TimeUnit") }
        self = unit
    }
}

/// Thrift `LogicalType` union: the annotation that says how to interpret a physical type.
///
/// Members added to the format after this code (VARIANT, GEOMETRY, ...) decode as an
/// absent logical type on `SchemaElement`, as an older Thrift reader would treat them.
public enum LogicalType: ThriftCodable, Hashable {
    case string
    case map
    case list
    case `enum`
    case decimal(scale: Int32, precision: Int32)
    case date
    case time(isAdjustedToUTC: Bool, unit: TimeUnit)
    case timestamp(isAdjustedToUTC: Bool, unit: TimeUnit)
    case integer(bitWidth: Int8, isSigned: Bool)
    /// Thrift `NullType` (field UNKNOWN): a column that only holds nulls.
    case unknown
    case json
    case bson
    case uuid
    case float16

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        switch self {
        case .string: w.writeEmptyStructField(1)
        case .map: w.writeEmptyStructField(2)
        case .list: w.writeEmptyStructField(3)
        case .enum: w.writeEmptyStructField(4)
        case let .decimal(scale, precision):
            w.writeStructFieldBegin(5)
            w.writeI32Field(1, scale)
            w.writeI32Field(2, precision)
            w.writeStructEnd()
        case .date: w.writeEmptyStructField(6)
        case let .time(utc, unit), let .timestamp(utc, unit):
            if case .time = self { w.writeStructFieldBegin(7) } else { w.writeStructFieldBegin(8) }
            w.writeBoolField(1, utc)
            w.writeFieldHeader(type: .struct, id: 2)
            unit.encode(into: &w)
            w.writeStructEnd()
        case let .integer(bitWidth, isSigned):
            w.writeStructFieldBegin(10)
            w.writeByteField(1, bitWidth)
            w.writeBoolField(2, isSigned)
            w.writeStructEnd()
        case .unknown: w.writeEmptyStructField(11)
        case .json: w.writeEmptyStructField(12)
        case .bson: w.writeEmptyStructField(13)
        case .uuid: w.writeEmptyStructField(14)
        case .float16: w.writeEmptyStructField(15)
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        guard let v = try Self.readIfKnown(from: &r) else { throw r.error(.emptyUnion, "LogicalType") }
        self = v
    }

    /// Decodes the union; nil when its member is one this reader does not know.
    public static func readIfKnown(from r: inout ThriftCompactReader) throws -> LogicalType? {
        var result: LogicalType?
        try r.readStructBegin()
        while let (type, id) = try r.readFieldHeader() {
            guard type == .struct else { try r.skip(type); continue }
            switch id {
            case 1: result = .string
            case 2: result = .map
            case 3: result = .list
            case 4: result = .enum
            case 5:
                var scale: Int32?, precision: Int32?
                try r.readStructBegin()
                while let (t, i) = try r.readFieldHeader() {
                    switch i {
                    case 1 where t == .i32: scale = try r.readI32()
                    case 2 where t == .i32: precision = try r.readI32()
                    default: try r.skip(t)
                    }
                }
                r.readStructEnd()
                guard let scale else { throw r.missing("DecimalType.scale") }
                guard let precision else { throw r.missing("DecimalType.precision") }
                result = .decimal(scale: scale, precision: precision)
                continue
            case 6: result = .date
            case 7, 8:
                var utc: Bool?, unit: TimeUnit?
                try r.readStructBegin()
                while let (t, i) = try r.readFieldHeader() {
                    switch i {
                    case 1 where t.isBool: utc = try r.readBoolField()
                    case 2 where t == .struct: unit = try TimeUnit(from: &r)
                    default: try r.skip(t)
                    }
                }
                r.readStructEnd()
                let name = id == 7 ? "TimeType" : "TimestampType"
                guard let utc else { throw r.missing("\(name).isAdjustedToUTC") }
                guard let unit else { throw r.missing("\(name).unit") }
                result = id == 7 ? .time(isAdjustedToUTC: utc, unit: unit) : .timestamp(isAdjustedToUTC: utc, unit: unit)
                continue
            case 10:
                var bitWidth: Int8?, signed: Bool?
                try r.readStructBegin()
                while let (t, i) = try r.readFieldHeader() {
                    switch i {
                    case 1 where t == .byte: bitWidth = try r.readI8()
                    case 2 where t.isBool: signed = try r.readBoolField()
                    default: try r.skip(t)
                    }
                }
                r.readStructEnd()
                guard let bitWidth else { throw r.missing("IntType.bitWidth") }
                guard let signed else { throw r.missing("IntType.isSigned") }
                result = .integer(bitWidth: bitWidth, isSigned: signed)
                continue
            case 11: result = .unknown
            case 12: result = .json
            case 13: result = .bson
            case 14: result = .uuid
            case 15: result = .float16
            default: break
            }
            // Empty member structs (and unknown members) still have to be consumed.
            try r.skip(.struct)
        }
        r.readStructEnd()
        return result
    }
}
