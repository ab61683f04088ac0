/// The logical type of a field as callers describe it; the writer derives the
/// Parquet physical type, LogicalType and ConvertedType from it.
///
/// Leaf types map to one column; `.list`, `.structure` and `.map` are groups
/// whose leaves become columns (3-level LIST and MAP forms of the spec).
public indirect enum ParquetType: Sendable, Hashable {
    case boolean
    /// Signed and unsigned integers (INTEGER logical type; plain INT32/INT64 for `int32`/`int64`).
    case int8, int16, int32, int64, uint8, uint16, uint32, uint64
    case float, double
    /// Raw bytes (BYTE_ARRAY, no annotation).
    case binary
    /// Raw bytes of one fixed length (FIXED_LEN_BYTE_ARRAY).
    case fixedBinary(length: Int)
    /// UTF-8 text (BYTE_ARRAY STRING); invalid UTF-8 is rejected.
    case string
    /// JSON text (BYTE_ARRAY JSON).
    case json
    /// Enum symbol as UTF-8 text (BYTE_ARRAY ENUM).
    case enumeration
    /// 16 raw bytes (FIXED_LEN_BYTE_ARRAY(16) UUID).
    case uuid
    /// Days since 1970-01-01 (INT32 DATE).
    case date
    /// Time of day since midnight (INT32 for millis, INT64 otherwise).
    case time(TimeUnitKind, adjustedToUTC: Bool)
    /// Time since the Unix epoch (INT64). `adjustedToUTC: true` for instants (timestamptz).
    case timestamp(TimeUnitKind, adjustedToUTC: Bool)
    /// Unscaled integer with `scale` digits after the point; INT32 up to precision 9,
    /// INT64 up to 18, FIXED_LEN_BYTE_ARRAY (big-endian two's complement) up to 38.
    case decimal(precision: Int, scale: Int)
    /// A LIST of `element` (3-level form: `group (LIST) { repeated group list { element } }`).
    case list(ParquetField)
    /// A STRUCT: a group of fields.
    case structure([ParquetField])
    /// A MAP (`group (MAP) { repeated group key_value { required key; value } }`); the key must be required.
    case map(key: ParquetField, value: ParquetField)

    /// Unit of a TIME or TIMESTAMP value.
    public enum TimeUnitKind: Sendable, Hashable {
        case millis, micros, nanos
    }

    /// True for `.list`, `.structure` and `.map`.
    public var isGroup: Bool {
        switch self {
        case .list, .structure, .map: return true
        default: return false
        }
    }
}

/// One named field of a schema.
///
/// ```swift
/// let schema = try ParquetSchema([
///     .required("id", .int64),
///     .optional("name", .string),
///     .optional("price", .decimal(precision: 12, scale: 2)),
///     .optional("tags", .list(.optional("element", .string))),
///     .optional("address", .structure([.required("city", .string), .optional("zip", .int32)])),
///     .optional("attrs", .map(key: .required("key", .string), value: .optional("value", .int64))),
/// ])
/// ```
public struct ParquetField: Sendable, Hashable {
    public var name: String
    /// `false` for REQUIRED, `true` for OPTIONAL (repetition of lists is implied by `.list`/`.map`).
    public var isOptional: Bool
    public var type: ParquetType

    public init(name: String, isOptional: Bool, type: ParquetType) {
        self.name = name
        self.isOptional = isOptional
        self.type = type
    }

    public static func required(_ name: String, _ type: ParquetType) -> ParquetField {
        ParquetField(name: name, isOptional: false, type: type)
    }

    public static func optional(_ name: String, _ type: ParquetType) -> ParquetField {
        ParquetField(name: name, isOptional: true, type: type)
    }
}

/// A validated schema: the field tree plus its flattened leaf columns, each with
/// its maximum definition and repetition levels.
public struct ParquetSchema: Sendable, Hashable {
    /// Name of the root schema element (readers mostly ignore it).
    public var name: String
    public let fields: [ParquetField]
    /// Leaf columns in schema order (depth-first), the order of column chunks in a row group.
    public let columns: [ColumnDescriptor]

    public init(_ fields: [ParquetField], name: String = "schema") throws(ParquetError) {
        self.name = name
        self.fields = fields
        var columns: [ColumnDescriptor] = []
        try Self.validateNames(fields, parent: [])
        for f in fields {
            try Self.flatten(f, parentPath: [], nodes: [], into: &columns)
        }
        if columns.isEmpty { throw ParquetError(.invalidSchema, message: "schema has no columns") }
        self.columns = columns
    }

    /// The index of the leaf column at this dotted path (`"address.city"`,
    /// `"tags.list.element"`), or nil.
    public func columnIndex(_ dottedPath: String) -> Int? {
        columns.firstIndex { $0.dottedPath == dottedPath }
    }

    private static func validateNames(_ fields: [ParquetField], parent: [String]) throws(ParquetError) {
        var seen = Set<String>()
        for f in fields {
            if f.name.isEmpty {
                throw ParquetError(.invalidSchema, message: "empty field name under \(parent.joined(separator: "."))")
            }
            if !seen.insert(f.name).inserted {
                throw ParquetError(.invalidSchema, column: (parent + [f.name]).joined(separator: "."),
                                   message: "duplicate field name")
            }
        }
    }

    private static func flatten(_ field: ParquetField, parentPath: [String], nodes: [ColumnDescriptor.PathNode],
                                into columns: inout [ColumnDescriptor]) throws(ParquetError) {
        let path = parentPath + [field.name]
        let dotted = path.joined(separator: ".")
        let repetition: ColumnDescriptor.Repetition = field.isOptional ? .optional : .required
        var nodes = nodes
        nodes.append(.init(name: field.name, repetition: repetition))
        switch field.type {
        case .list(let element):
            // <rep> group name (LIST) { repeated group list { <rep> element } }
            nodes.append(.init(name: "list", repetition: .repeated))
            try flatten(element, parentPath: path + ["list"], nodes: nodes, into: &columns)
        case .structure(let children):
            if children.isEmpty {
                throw ParquetError(.invalidSchema, column: dotted, message: "a structure needs at least one field")
            }
            try validateNames(children, parent: path)
            for c in children { try flatten(c, parentPath: path, nodes: nodes, into: &columns) }
        case .map(let key, let value):
            if key.isOptional { throw ParquetError(.invalidSchema, column: dotted, message: "map keys must be required") }
            if key.type.isGroup { throw ParquetError(.invalidSchema, column: dotted, message: "map keys must be primitive") }
            nodes.append(.init(name: "key_value", repetition: .repeated))
            try flatten(.init(name: "key", isOptional: false, type: key.type), parentPath: path + ["key_value"],
                        nodes: nodes, into: &columns)
            try flatten(.init(name: "value", isOptional: value.isOptional, type: value.type),
                        parentPath: path + ["key_value"], nodes: nodes, into: &columns)
        default:
            let storage = try ColumnDescriptor.storage(for: field.type, column: dotted)
            columns.append(ColumnDescriptor(path: path, nodes: nodes, type: field.type, storage: storage,
                                            index: columns.count))
        }
    }
}
