import Parquet

/// The columns one file of an entity has: the declared ones, any added by
/// `unknown_fields: evolve`, `_extra` for `keep`, and `_stream_id` last.
public struct EntitySchema: Sendable, Equatable {
    public var entity: String
    /// 1 for the declared columns; +1 for each change made by evolution.
    public var version: Int
    public var declared: [ColumnConfig]
    /// Columns added by evolution, in the order their fields first appeared; always nullable.
    public var evolved: [ColumnConfig]
    /// True with `unknown_fields: keep`.
    public var hasExtra: Bool
    /// Files of a Delta table: types Delta lacks are stored as the Delta type they map to
    /// (`uint64` as decimal(20,0), `time` as int64 microseconds; see ``ColumnType/parquetType(delta:)``).
    public var deltaTypes = false

    public init(entity: EntityConfig) {
        self.entity = entity.name
        self.version = 1
        self.declared = entity.columns
        self.evolved = []
        self.hasExtra = entity.unknownFields == .keep
        self.deltaTypes = entity.tableFormat == .delta
    }

    public init(entity: String, version: Int, declared: [ColumnConfig], evolved: [ColumnConfig], hasExtra: Bool,
                deltaTypes: Bool = false) {
        self.entity = entity
        self.version = version
        self.declared = declared
        self.evolved = evolved
        self.hasExtra = hasExtra
        self.deltaTypes = deltaTypes
    }

    /// Declared then evolved columns (the payload-backed ones).
    public var payloadColumns: [ColumnConfig] { declared + evolved }

    /// The Parquet schema of a file with this version.
    public func parquetSchema() throws(ParquetError) -> ParquetSchema {
        var fields = payloadColumns.map { ParquetField(name: $0.name, isOptional: $0.nullable, type: $0.type.parquetType(delta: deltaTypes)) }
        if hasExtra { fields.append(.optional(SystemColumns.extra, .json)) }
        fields.append(.required(SystemColumns.streamID, .string))
        return try ParquetSchema(fields, name: entity)
    }

    /// The schema as JSON text (what evolution records under `_schemas/ENTITY/`).
    public var jsonDescription: String {
        func esc(_ s: String) -> String { JSONText.quoted(s) }
        var out = "{\"entity\":\(esc(entity)),\"version\":\(version),\"columns\":["
        var first = true
        for c in payloadColumns {
            if !first { out += "," }
            first = false
            out += "{\"name\":\(esc(c.name)),\"type\":\(esc(c.type.description)),\"nullable\":\(c.nullable)"
            if c.source != [c.name] { out += ",\"source\":\(esc(c.source.joined(separator: ".")))" }
            if evolved.contains(where: { $0.name == c.name }) { out += ",\"evolved\":true" }
            out += "}"
        }
        if hasExtra { out += ",{\"name\":\"\(SystemColumns.extra)\",\"type\":\"json\",\"nullable\":true}" }
        out += ",{\"name\":\"\(SystemColumns.streamID)\",\"type\":\"string\",\"nullable\":false}]}"
        return out
    }
}

extension ColumnType {
    /// The Parquet module's type for this column type.
    public var parquetType: ParquetType { parquetType(delta: false) }

    /// The Parquet type of this column in a file; in a Delta table's files (`delta`), the types
    /// Delta lacks are stored as the Delta type they map to, which loses nothing: `uint64` as
    /// decimal(20,0) and `time` as int64 microseconds since midnight (readers such as polars take a
    /// file's type only when it is the table's). Unsigned 8…32-bit integers and UUIDs keep their
    /// Parquet type (Delta's short, integer, long and binary read them as is).
    public func parquetType(delta: Bool) -> ParquetType {
        if delta {
            switch self {
            case .int(64, false): return .decimal(precision: 20, scale: 0)
            case .time: return .int64
            default: break
            }
        }
        return switch self {
        case .bool: .boolean
        case .int(let bits, let signed):
            switch (bits, signed) {
            case (8, true): .int8
            case (16, true): .int16
            case (32, true): .int32
            case (64, true): .int64
            case (8, false): .uint8
            case (16, false): .uint16
            case (32, false): .uint32
            default: .uint64
            }
        case .float32: .float
        case .float64: .double
        case .decimal(let p, let s): .decimal(precision: p, scale: s)
        case .string: .string
        case .binary: .binary
        case .uuid: .uuid
        case .date: .date
        case .time: .time(.micros, adjustedToUTC: false)
        case .timestamp(let unit, let utc):
            .timestamp(unit == .millis ? .millis : unit == .micros ? .micros : .nanos, adjustedToUTC: utc)
        case .json: .json
        case .list(let e): .list(ParquetField(name: "element", isOptional: e.nullable, type: e.type.parquetType(delta: delta)))
        case .structure(let fields):
            .structure(fields.map { ParquetField(name: $0.name, isOptional: $0.nullable, type: $0.type.parquetType(delta: delta)) })
        case .map(let v):
            .map(key: .required("key", .string), value: ParquetField(name: "value", isOptional: v.nullable, type: v.type.parquetType(delta: delta)))
        }
    }
}
