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
