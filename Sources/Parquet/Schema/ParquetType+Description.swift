/// Types written as lakewriter's column type grammar spells them (`int64`, `decimal(12,2)`,
/// `timestamp(us, utc)`, `list<string not null>`), so messages and plans never show Swift's
/// enum dump (`decimal(precision: 12, scale: 2)`).
extension ParquetType: CustomStringConvertible {
    public var description: String {
        switch self {
        case .boolean: "bool"
        case .int8: "int8"
        case .int16: "int16"
        case .int32: "int32"
        case .int64: "int64"
        case .uint8: "uint8"
        case .uint16: "uint16"
        case .uint32: "uint32"
        case .uint64: "uint64"
        case .float: "float32"
        case .double: "float64"
        case .binary: "binary"
        case .fixedBinary(let n): "fixed_binary(\(n))"
        case .string: "string"
        case .json: "json"
        case .enumeration: "enum"
        case .uuid: "uuid"
        case .date: "date"
        case .time(let u, let utc): "time(\(u)\(utc ? ", utc" : ""))"
        case .timestamp(let u, let utc): "timestamp(\(u)\(utc ? ", utc" : ""))"
        case .decimal(let p, let s): "decimal(\(p),\(s))"
        case .list(let e): "list<\(e.typeDescription)>"
        case .structure(let fields): "struct<" + fields.map { "\($0.name):\($0.typeDescription)" }.joined(separator: ", ") + ">"
        case .map(let k, let v): "map<\(k.typeDescription), \(v.typeDescription)>"
        }
    }
}

extension ParquetType.TimeUnitKind: CustomStringConvertible {
    /// `ms`, `us` or `ns`.
    public var description: String {
        switch self {
        case .millis: "ms"
        case .micros: "us"
        case .nanos: "ns"
        }
    }
}

extension ParquetField {
    /// The type with ` not null` when the field is required.
    public var typeDescription: String { type.description + (isOptional ? "" : " not null") }
}
