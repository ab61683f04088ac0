import LakeModel
import PostgresSource

/// How the backfill reads a table into an entity's schema (`--config FILE --entity NAME`):
/// each entity column from a PostgreSQL column (matched by name, else by the first segment of
/// the column's `source`, the rest being a path inside a json, jsonb or composite column),
/// through an SQL expression that gives the text form the worker's decoding rules read, so the
/// values are converted exactly as streamed events are (the same decimals, timestamps, JSON).
///
/// Compatibility is checked per column before any row is read: a PostgreSQL type that cannot
/// become the entity type is an error naming both. Values are then checked per row by the
/// decoder, and a row that fails goes to the rejects file with its key and the reason.
package struct EntityMapping: Sendable {
    /// The entity as decoded: flat text fields named after the columns.
    package var decoding: EntityConfig
    /// One SELECT expression per entity column (in the entity's order), then `_stream_id`.
    package var expressions: [String]
    /// Entity column names, as the fields handed to the decoder.
    package var fieldNames: [String]
    /// Columns with no PostgreSQL column: always null (nullable ones only).
    package var absent: [String]
    /// For the dry run: entity column ← PostgreSQL column (type) via expression.
    package var lines: [String]

    package struct Incompatible: Error, CustomStringConvertible, Sendable {
        package var description: String
    }

    /// - Parameters:
    ///   - columns: the table's (or query's) columns from the catalog.
    ///   - qualifier: prefix of column references (`lw_q` for a query).
    ///   - streamID: the SQL expression of `_stream_id` (see ``StreamIDExpression``).
    package init(entity: EntityConfig, columns: [PGColumn], qualifier: String? = nil,
                 streamID: String) throws(Incompatible) {
        let byName = Dictionary(columns.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var decodingColumns: [ColumnConfig] = []
        expressions = []
        fieldNames = []
        absent = []
        lines = []
        for c in entity.columns {
            var pg = byName[c.name]
            var path: [String] = []
            if pg == nil, let first = c.source.first, let match = byName[first] {
                pg = match
                path = Array(c.source.dropFirst())
            }
            guard let pg else {
                if c.nullable {
                    absent.append(c.name)
                    expressions.append("NULL::text")
                    lines.append("\(c.name) \(c.type.description): no PostgreSQL column, always null")
                } else {
                    throw Incompatible(description: "entity \(entity.name): column \(c.name) (\(c.type.description) not null) "
                        + "has no PostgreSQL column named \(c.name)" + (c.source != [c.name] ? " or \(c.source.first!)" : ""))
                }
                var d = c
                d.source = [c.name]
                decodingColumns.append(d)
                fieldNames.append(c.name)
                continue
            }
            let ref = (qualifier.map { $0 + "." } ?? "") + quoteIdentifier(pg.name)
            let expr: String
            if path.isEmpty {
                guard let e = Self.conversion(pg.type, to: c.type, ref: ref) else {
                    throw Incompatible(description: "entity \(entity.name): column \(c.name) is \(c.type.description), "
                        + "but PostgreSQL column \(pg.name) is \(pg.typeName), which cannot convert to it")
                }
                expr = e
            } else {
                switch pg.type {
                case .json, .jsonb, .composite:
                    let p = path.map { $0.replacingOccurrences(of: "\"", with: "\\\"") }.joined(separator: ",")
                    expr = "(to_jsonb(\(ref)) #>> \(quoteLiteral("{" + p + "}")))"
                default:
                    throw Incompatible(description: "entity \(entity.name): column \(c.name) reads \(c.source.joined(separator: ".")), "
                        + "but PostgreSQL column \(pg.name) is \(pg.typeName), not json, jsonb or a composite type")
                }
            }
            expressions.append(expr)
            lines.append("\(c.name) \(c.type.description)\(c.nullable ? "" : " not null") ← \(pg.name) \(pg.typeName) as \(expr)")
            var d = c
            d.source = [c.name]
            decodingColumns.append(d)
            fieldNames.append(c.name)
        }
        expressions.append(streamID)
        decoding = entity
        decoding.payload = .fields
        decoding.columns = decodingColumns
    }

    /// The SQL expression giving `ref` (of PostgreSQL type `pg`) as the text the worker's rules
    /// read for `type`, or nil when the types do not convert. The session runs with
    /// `TimeZone = UTC`, `DateStyle = ISO` and `IntervalStyle = iso_8601`.
    package static func conversion(_ pg: PGType, to type: ColumnType, ref: String) -> String? {
        let text = "\(ref)::text"
        let isText: Bool
        switch pg {
        case .text, .enumeration, .other: isText = true
        default: isText = false
        }
        switch type {
        case .string:
            switch pg {
            case .json, .jsonb, .array, .composite: return "(to_json(\(ref)))::text"
            default: return text
            }
        case .json:
            switch pg {
            case .json, .jsonb: return text
            default: return "(to_json(\(ref)))::text"
            }
        case .bool:
            switch pg {
            case .bool: return text
            default: return isText ? text : nil
            }
        case .int, .float32, .float64, .decimal:
            switch pg {
            case .int2, .int4, .int8, .oid, .numeric: return text
            case .float4, .float8:
                if case .int = type { return nil }
                if case .decimal = type { return text }
                return text
            default: return isText ? text : nil
            }
        case .binary:
            switch pg {
            case .bytea: return "translate(encode(\(ref), 'base64'), E'\\n', '')"
            default: return nil
            }
        case .uuid:
            switch pg {
            case .uuid: return text
            default: return isText ? text : nil
            }
        case .date:
            switch pg {
            case .date: return text
            default: return isText ? text : nil
            }
        case .time:
            switch pg {
            case .time: return text
            default: return isText ? text : nil
            }
        case .timestamp:
            switch pg {
            // RFC 3339 with a `T` and, for timestamptz (the session is UTC), `+00:00`.
            case .timestamptz: return "(to_json(\(ref)) #>> '{}')"
            // A timestamp without time zone is taken as UTC: `utc` columns need an offset.
            case .timestamp: return "(to_json(\(ref) AT TIME ZONE 'UTC') #>> '{}')"
            case .date: return "(to_json(\(ref)::timestamp AT TIME ZONE 'UTC') #>> '{}')"
            default: return isText ? text : nil
            }
        case .list:
            switch pg {
            case .array, .json, .jsonb: return "(to_json(\(ref)))::text"
            default: return isText ? text : nil
            }
        case .structure:
            switch pg {
            case .composite, .json, .jsonb: return "(to_json(\(ref)))::text"
            default: return isText ? text : nil
            }
        case .map:
            switch pg {
            case .json, .jsonb: return "(to_json(\(ref)))::text"
            case .other(let name) where name == "hstore": return "(hstore_to_json(\(ref)))::text"
            default: return isText ? text : nil
            }
        }
    }
}

/// `_stream_id` of backfilled rows: `pg:{table}:{primary key}` (the key's values as text, joined
/// by `,`), or `pg:{table}:{ctid}` for a table without a primary key (unique within the run's
/// snapshot), or `pg:query:{run}:{row}` for `--query`. Backfilled rows never collide with
/// stream entry ids (`{ms}-{seq}`), and a row backfilled twice gets the same id (with a key), so
/// the usual `_stream_id` de-duplication removes repeats.
package enum StreamIDExpression {
    package static func table(_ name: String, primaryKey: [String], qualifier: String? = nil) -> String {
        let q = qualifier.map { $0 + "." } ?? ""
        if primaryKey.isEmpty {
            return "(\(quoteLiteral("pg:")) || \(q)tableoid::regclass::text || ':' || \(q)ctid::text)"
        }
        let parts = primaryKey.map { "\(q)\(quoteIdentifier($0))::text" }.joined(separator: ", ")
        return "(\(quoteLiteral("pg:" + name + ":")) || concat_ws(',', \(parts)))"
    }

    package static func query(run: String) -> String {
        "(\(quoteLiteral("pg:query:" + run + ":")) || (row_number() OVER ())::text)"
    }
}
