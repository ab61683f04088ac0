// The enums of parquet.thrift, with the Thrift values as raw values.

/// Thrift `Type`: the physical storage type of a leaf column.
public enum PhysicalType: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case boolean = 0
    case int32 = 1
    case int64 = 2
    case int96 = 3
    case float = 4
    case double = 5
    case byteArray = 6
    case fixedLenByteArray = 7
}

/// Thrift `ConvertedType`: the legacy annotation, still written next to `LogicalType`
/// for readers that only know it.
public enum ConvertedType: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case utf8 = 0
    case map = 1
    case mapKeyValue = 2
    case list = 3
    case `enum` = 4
    case decimal = 5
    case date = 6
    case timeMillis = 7
    case timeMicros = 8
    case timestampMillis = 9
    case timestampMicros = 10
    case uint8 = 11
    case uint16 = 12
    case uint32 = 13
    case uint64 = 14
    case int8 = 15
    case int16 = 16
    case int32 = 17
    case int64 = 18
    case json = 19
    case bson = 20
    case interval = 21
}

/// Thrift `FieldRepetitionType`.
public enum FieldRepetitionType: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case required = 0
    case optional = 1
    case repeated = 2
}

/// Thrift `Encoding` (value 1, GROUP_VAR_INT, was never used).
public enum Encoding: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case plain = 0
    case plainDictionary = 2
    case rle = 3
    case bitPacked = 4
    case deltaBinaryPacked = 5
    case deltaLengthByteArray = 6
    case deltaByteArray = 7
    case rleDictionary = 8
    case byteStreamSplit = 9
}

/// Thrift `CompressionCodec`. `lz4` (Hadoop framing) is here only to read other files;
/// lakewriter writes `lz4Raw`.
public enum CompressionCodec: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case uncompressed = 0
    case snappy = 1
    case gzip = 2
    case lzo = 3
    case brotli = 4
    case lz4 = 5
    case zstd = 6
    case lz4Raw = 7
}

/// Thrift `PageType`.
public enum PageType: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case dataPage = 0
    case indexPage = 1
    case dictionaryPage = 2
    case dataPageV2 = 3
}

/// Thrift `BoundaryOrder` of a `ColumnIndex`.
public enum BoundaryOrder: Int32, Sendable, Equatable, Hashable, CaseIterable {
    case unordered = 0
    case ascending = 1
    case descending = 2
}

extension RawRepresentable where RawValue == Int32 {
    /// Decodes a Thrift enum (an i32) into this type, failing with the context on unknown values.
    static func read(_ r: inout ThriftCompactReader, _ context: @autoclosure () -> String) throws -> Self {
        let start = r.position
        let raw = try r.readI32()
        guard let v = Self(rawValue: raw) else {
            throw ThriftDecodingError(.unknownEnumValue(raw), context: context(), offset: start)
        }
        return v
    }
}
