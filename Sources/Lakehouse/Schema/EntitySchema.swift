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

    public init(entity: EntityConfig) {
        self.entity = entity.name
        self.version = 1
        self.declared = entity.columns
        self.evolved = []
        self.hasExtra = entity.unknownFields == .keep
    }

    public init(entity: String, version: Int, declared: [ColumnConfig], evolved: [ColumnConfig], hasExtra: Bool) {
        self.entity = entity
        self.version = version
        self.declared = declared
        self.evolved = evolved
        self.hasExtra = hasExtra
    }

    /// Declared then evolved columns (the payload-backed ones).
    public var payloadColumns: [ColumnConfig] { declared + evolved }

    /// The Parquet schema of a file with this version.
    public func parquetSchema() throws(ParquetError) -> ParquetSchema {
        var fields = payloadColumns.map { ParquetField(name: $0.name, isOptional: $0.nullable, type: $0.type.parquetType) }
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
    public var parquetType: ParquetType {
        switch self {
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
        case .list(let e): .list(ParquetField(name: "element", isOptional: e.nullable, type: e.type.parquetType))
        case .structure(let fields):
            .structure(fields.map { ParquetField(name: $0.name, isOptional: $0.nullable, type: $0.type.parquetType) })
        case .map(let v):
            .map(key: .required("key", .string), value: ParquetField(name: "value", isOptional: v.nullable, type: v.type.parquetType))
        }
    }
}

/// Small helpers to write JSON text by hand (schema records, `_extra`, reports).
public enum JSONText {
    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    out += "\\u00" + String(u.value, radix: 16).leftPad(2)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    /// Appends `bytes` as a JSON string literal (escaping quotes, backslashes, control bytes).
    static func appendQuoted(_ bytes: UnsafeRawBufferPointer, to out: ScratchBuffer) {
        out.append(byte: 0x22)
        let hex: StaticString = "0123456789abcdef"
        for b in bytes {
            switch b {
            case 0x22: out.append(byte: 0x5C); out.append(byte: 0x22)
            case 0x5C: out.append(byte: 0x5C); out.append(byte: 0x5C)
            case 0x0A: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "n"))
            case 0x0D: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "r"))
            case 0x09: out.append(byte: 0x5C); out.append(byte: UInt8(ascii: "t"))
            case 0..<0x20:
                out.append("\\u00")
                out.append(byte: hex.utf8Start[Int(b >> 4)])
                out.append(byte: hex.utf8Start[Int(b & 15)])
            default: out.append(byte: b)
            }
        }
        out.append(byte: 0x22)
    }
}

extension String {
    func leftPad(_ n: Int, _ c: Character = "0") -> String {
        count >= n ? self : String(repeating: c, count: n - count) + self
    }
}
