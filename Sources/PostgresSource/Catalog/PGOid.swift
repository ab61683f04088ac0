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
