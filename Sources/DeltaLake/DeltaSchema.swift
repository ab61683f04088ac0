import LakeModel
import Parquet

/// A column the Delta protocol has no type for, named with the reason.
package struct DeltaSchemaError: Error, CustomStringConvertible, Sendable {
    package var column: String
    package var reason: String
    package var description: String { "column \(column): \(reason)" }
}

/// The Delta table schema (`schemaString`) of a file schema, and the protocol it needs.
///
/// | Parquet (our files) | Delta |
/// | --- | --- |
/// | boolean | boolean |
/// | int8, int16, int32, int64 | byte, short, integer, long |
/// | uint8, uint16, uint32 | short, integer, long (the next wider signed type) |
/// | decimal(p,s) (uint64 files hold decimal(20,0)) | decimal(p,s) |
/// | float, double | float, double |
/// | string, json, enum | string |
/// | binary, uuid (16 bytes) | binary |
/// | date | date |
/// | timestamp (UTC; ms or µs) | timestamp |
/// | timestamp (not UTC; ms or µs) | timestamp_ntz (table feature `timestampNtz`) |
/// | list, struct, map | array, struct, map |
///
/// Time of day (our files hold it as int64 microseconds in Delta tables), nanosecond
/// timestamps and uint64 outside a decimal have no lossless Delta type: an error.
package enum DeltaSchema {
    /// `{"type":"struct","fields":[…]}` for the schema's fields.
    package static func schemaString(_ schema: ParquetSchema) throws(DeltaSchemaError) -> String {
        try structType(schema.fields, path: "")
    }

    /// True when some column is a timestamp without time zone (the `timestampNtz` feature).
    package static func needsTimestampNtz(_ schema: ParquetSchema) -> Bool {
        func check(_ t: ParquetType) -> Bool {
            switch t {
            case .timestamp(_, let utc): return !utc
            case .list(let e): return check(e.type)
            case .structure(let f): return f.contains { check($0.type) }
            case .map(let k, let v): return check(k.type) || check(v.type)
            default: return false
            }
        }
        return schema.fields.contains { check($0.type) }
    }

    /// The `protocol` action: reader 1 / writer 2 for plain tables; reader 3 / writer 7 with the
    /// `timestampNtz` feature when a timestamp has no time zone.
    package static func protocolAction(_ schema: ParquetSchema) -> String {
        if needsTimestampNtz(schema) {
            return #"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}}"#
        }
        return #"{"protocol":{"minReaderVersion":1,"minWriterVersion":2}}"#
    }

    static func structType(_ fields: [ParquetField], path: String) throws(DeltaSchemaError) -> String {
        var out = #"{"type":"struct","fields":["#
        for (i, f) in fields.enumerated() {
            if i > 0 { out += "," }
            let p = path.isEmpty ? f.name : path + "." + f.name
            out += #"{"name":"# + JSONText.quoted(f.name) + #","type":"# + (try type(f.type, path: p))
                + #","nullable":"# + (f.isOptional ? "true" : "false") + #","metadata":{}}"#
        }
        return out + "]}"
    }

    /// The Delta type of one field, as JSON (a quoted primitive name or a nested object).
    static func type(_ t: ParquetType, path: String) throws(DeltaSchemaError) -> String {
        func q(_ s: String) -> String { "\"" + s + "\"" }
        switch t {
        case .boolean: return q("boolean")
        case .int8: return q("byte")
        case .int16, .uint8: return q("short")
        case .int32, .uint16: return q("integer")
        case .int64, .uint32: return q("long")
        case .uint64:
            throw DeltaSchemaError(column: path, reason: "uint64 has no Delta type (Delta tables store it as decimal(20,0))")
        case .float: return q("float")
        case .double: return q("double")
        case .string, .json, .enumeration: return q("string")
        case .binary, .fixedBinary, .uuid: return q("binary")
        case .date: return q("date")
        case .time:
            throw DeltaSchemaError(column: path, reason: "time of day has no Delta type (Delta tables store it as int64 microseconds; cast it, for example to text)")
        case .timestamp(let unit, let utc):
            guard unit != .nanos else {
                throw DeltaSchemaError(column: path, reason: "nanosecond timestamps have no Delta type (Delta timestamps hold microseconds)")
            }
            return q(utc ? "timestamp" : "timestamp_ntz")
        case .decimal(let p, let s): return q("decimal(\(p),\(s))")
        case .list(let e):
            return #"{"type":"array","elementType":"# + (try type(e.type, path: path + ".element"))
                + #","containsNull":"# + (e.isOptional ? "true" : "false") + "}"
        case .structure(let fields):
            return try structType(fields, path: path)
        case .map(let k, let v):
            return #"{"type":"map","keyType":"# + (try type(k.type, path: path + ".key")) + #","valueType":"#
                + (try type(v.type, path: path + ".value")) + #","valueContainsNull":"# + (v.isOptional ? "true" : "false") + "}"
        }
    }
}
