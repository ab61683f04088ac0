/// A column type as ``PostgresCatalog`` resolved it: domains replaced by their base type
/// (with the domain's typmod), arrays by their element, composites by their attributes.
package indirect enum PGType: Sendable, Hashable {
    case bool, int2, int4, int8, oid, float4, float8
    /// `numeric(precision, scale)`; both nil when unconstrained. The scale may be negative
    /// or above the precision (PostgreSQL 15 allows both).
    case numeric(precision: Int?, scale: Int?)
    /// text, varchar, bpchar, name, citext: the type's name is kept for logs.
    case text(String)
    /// An enum type (values arrive as their labels).
    case enumeration(String)
    case bytea, uuid, json, jsonb
    case date, time, timetz, timestamp, timestamptz, interval
    /// An array; `elementOid` is the element type as every array value names it on the wire
    /// (the domain's oid for an array of a domain).
    case array(element: PGType, elementOid: UInt32)
    /// A composite type's live attributes, in order.
    case composite(name: String, fields: [PGField])
    /// Any other type (inet, money, ranges, tsvector, xml, ...): read through a `::text` cast.
    case other(String)

    /// Whether the COPY must cast this type to text: it is (or holds, in a composite) a type
    /// the decoder does not read in binary.
    package var needsTextCast: Bool {
        switch self {
        case .other: return true
        case .array(let e, _): return e.needsTextCast
        case .composite(_, let fields): return fields.contains { $0.type.needsTextCast }
        default: return false
        }
    }

    /// Parquet `decimal(precision, scale)` for a numeric typmod, or nil when the values must be
    /// kept as exact text (unconstrained, or wider than 38 digits). A negative scale widens the
    /// precision (numeric(3,-2) holds up to 99900); a scale above the precision raises it.
    package static func decimalShape(precision: Int?, scale: Int?) -> (precision: Int, scale: Int)? {
        guard let p = precision, let s = scale else { return nil }
        let p2 = s < 0 ? p - s : max(p, s)
        let s2 = max(s, 0)
        guard p2 >= 1 && p2 <= 38 else { return nil }
        return (p2, s2)
    }
}

/// One attribute of a composite type.
package struct PGField: Sendable, Hashable {
    package var name: String
    /// The attribute's type oid as record values name it on the wire.
    package var typeOid: UInt32
    package var type: PGType

    package init(name: String, typeOid: UInt32, type: PGType) {
        self.name = name
        self.typeOid = typeOid
        self.type = type
    }
}

/// One column of a table (from `pg_attribute`) or of a query's result (from `PQdescribePrepared`).
package struct PGColumn: Sendable, Hashable {
    package var name: String
    /// `attnum` for a table column, nil for a query column.
    package var attnum: Int?
    package var typeOid: UInt32
    package var typmod: Int32
    /// `format_type(oid, typmod)`, e.g. `numeric(12,2)`, for logs.
    package var typeName: String
    /// `attnotnull` (always false for query columns).
    package var isNotNull: Bool
    package var type: PGType

    package init(name: String, attnum: Int?, typeOid: UInt32, typmod: Int32, typeName: String, isNotNull: Bool,
                 type: PGType) {
        self.name = name
        self.attnum = attnum
        self.typeOid = typeOid
        self.typmod = typmod
        self.typeName = typeName
        self.isNotNull = isNotNull
        self.type = type
    }
}

/// Well-known type oids (`pg_type.dat`).
package enum PGOid {
    package static let bool: UInt32 = 16, bytea: UInt32 = 17, name: UInt32 = 19, int8: UInt32 = 20,
        int2: UInt32 = 21, int4: UInt32 = 23, text: UInt32 = 25, oid: UInt32 = 26, json: UInt32 = 114,
        float4: UInt32 = 700, float8: UInt32 = 701, bpchar: UInt32 = 1042, varchar: UInt32 = 1043,
        date: UInt32 = 1082, time: UInt32 = 1083, timestamp: UInt32 = 1114, timestamptz: UInt32 = 1184,
        interval: UInt32 = 1186, timetz: UInt32 = 1266, numeric: UInt32 = 1700, uuid: UInt32 = 2950,
        jsonb: UInt32 = 3802, textArray: UInt32 = 1009

    /// The scalar types known without a catalog lookup.
    package static func builtin(_ oid: UInt32, typmod: Int32) -> PGType? {
        switch oid {
        case bool: return .bool
        case int2: return .int2
        case int4: return .int4
        case int8: return .int8
        case Self.oid: return .oid
        case float4: return .float4
        case float8: return .float8
        case numeric:
            guard typmod >= 4 else { return .numeric(precision: nil, scale: nil) }
            let t = Int(typmod) - 4
            // PostgreSQL 15 packs an 11-bit signed scale.
            return .numeric(precision: (t >> 16) & 0xFFFF, scale: ((t & 0x7FF) ^ 1024) - 1024)
        case text: return .text("text")
        case varchar: return .text("varchar")
        case bpchar: return .text("bpchar")
        case name: return .text("name")
        case bytea: return .bytea
        case uuid: return .uuid
        case json: return .json
        case jsonb: return .jsonb
        case date: return .date
        case time: return .time
        case timetz: return .timetz
        case timestamp: return .timestamp
        case timestamptz: return .timestamptz
        case interval: return .interval
        default: return nil
        }
    }
}
