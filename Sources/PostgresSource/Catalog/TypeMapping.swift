import Parquet

/// How one PostgreSQL column is read and written.
///
/// The mapping (the README's table is written from this one):
///
/// | PostgreSQL | Parquet | Notes |
/// |---|---|---|
/// | `int2`, `int4`, `int8` | `int16`, `int32`, `int64` | |
/// | `oid` | `uint32` | |
/// | `float4`, `float8` | `float`, `double` | NaN and ±Infinity kept as IEEE values |
/// | `bool` | `boolean` | |
/// | `numeric(p,s)`, p ≤ 38 | `decimal(p,s)` | NaN/±Infinity cannot be stored: per-row error (row rejected), never 0 or null. A value over the precision is a per-row error. Negative scale: `decimal(p−s, 0)`; scale above precision: `decimal(s, s)` |
/// | `numeric(p,s)`, p > 38; unconstrained `numeric` | `string` | the exact decimal text PostgreSQL prints (`numeric::text`); `NaN`, `Infinity`, `-Infinity` |
/// | `text`, `varchar`, `name`, `citext` (by name), enums | `string` | |
/// | `bpchar` (`char(n)`) | `string` | with its blank padding: what PostgreSQL sends |
/// | `bytea` | `binary` | |
/// | `uuid` | `uuid` | |
/// | `json`, `jsonb` | `json` | jsonb's version byte stripped |
/// | `date` | `date` (days since 1970-01-01) | `infinity`/`-infinity` stored as +/−Int32.max days (lossless; DuckDB reads them as infinity/-infinity, other readers as the extreme dates or an error) |
/// | `time` | `time(micros, adjustedToUTC: false)` | `24:00:00` kept as 86,400,000,000 µs |
/// | `timetz` | `time(micros, adjustedToUTC: true)` | normalised to UTC (the offset is applied), wrapped into one day |
/// | `timestamp` | `timestamp(micros, adjustedToUTC: false)` | `infinity`/`-infinity` stored as +/−Int64.max µs (lossless; DuckDB reads them as infinity/-infinity); a value whose µs since 1970 overflow Int64 (after 294247 AD) is a per-row error, never wrapped |
/// | `timestamptz` | `timestamp(micros, adjustedToUTC: true)` | as timestamp |
/// | `interval` | `struct<months: int32, days: int32, microseconds: int64>` (fields required) | lossless: the three parts PostgreSQL keeps |
/// | one-dimensional array | `list<element>` (elements optional) | NULL elements kept; `{}` is an empty list; the lower bound is dropped |
/// | multi-dimensional array | — | checked per value (its own ndim): per-row error naming the column (flattening would lose the shape) |
/// | composite | `struct` of its attributes (all optional) | recursive, 8 levels deep at most (deeper: text) |
/// | domain | its base type | with the domain's typmod |
/// | anything else (`inet`, `cidr`, `macaddr`, `money`, `bit`, `varbit`, `tsvector`, ranges, `hstore`, `xml`, `point`, …) | `string` | through `::text` in the SELECT list; arrays of them `::text[]` → `list<string>`; a composite holding one is cast whole (`::text`) |
///
/// Top-level fields are optional unless the column is `NOT NULL` (`attnotnull`).
package struct ColumnMapping: Sendable, Hashable {
    package var column: PGColumn
    /// The Parquet field the column becomes.
    package var field: ParquetField
    /// The expression in the generated SELECT list: `"col"`, `"col"::text` or `"col"::text[]`.
    package var selectExpression: String
    /// True when the column is read through a text cast (log it: the type is not read natively).
    package var isCastToText: Bool
    /// The type of the bytes COPY sends for the column (after the cast).
    package var wireType: PGType
    /// What a reader of the file should know (sentinels for infinity, text numerics), if anything.
    package var note: String?

    /// The mapping of `column`; `qualifier` prefixes the column reference (`q."col"`).
    package init(_ column: PGColumn, qualifier: String? = nil) {
        self.column = column
        let ref = (qualifier.map { $0 + "." } ?? "") + quoteIdentifier(column.name)
        if column.type.needsTextCast {
            isCastToText = true
            if case .array = column.type {
                selectExpression = ref + "::text[]"
                wireType = .array(element: .text("text"), elementOid: PGOid.text)
            } else {
                selectExpression = ref + "::text"
                wireType = .text("text")
            }
        } else {
            isCastToText = false
            selectExpression = ref
            wireType = column.type
        }
        field = ParquetField(name: column.name, isOptional: !column.isNotNull, type: Self.parquetType(wireType))
        note = Self.note(wireType, cast: isCastToText, typeName: column.typeName)
    }

    /// The Parquet type values of `type` are written as.
    package static func parquetType(_ type: PGType) -> ParquetType {
        switch type {
        case .bool: return .boolean
        case .int2: return .int16
        case .int4: return .int32
        case .int8: return .int64
        case .oid: return .uint32
        case .float4: return .float
        case .float8: return .double
        case .numeric(let p, let s):
            if let d = PGType.decimalShape(precision: p, scale: s) { return .decimal(precision: d.precision, scale: d.scale) }
            return .string
        case .text, .enumeration, .other: return .string
        case .bytea: return .binary
        case .uuid: return .uuid
        case .json, .jsonb: return .json
        case .date: return .date
        case .time: return .time(.micros, adjustedToUTC: false)
        case .timetz: return .time(.micros, adjustedToUTC: true)
        case .timestamp: return .timestamp(.micros, adjustedToUTC: false)
        case .timestamptz: return .timestamp(.micros, adjustedToUTC: true)
        case .interval: return .structure(intervalFields)
        case .array(let e, _): return .list(.optional("element", parquetType(e)))
        case .composite(_, let fields): return .structure(fields.map { .optional($0.name, parquetType($0.type)) })
        }
    }

    package static let intervalFields: [ParquetField] = [
        .required("months", .int32), .required("days", .int32), .required("microseconds", .int64),
    ]

    static func note(_ type: PGType, cast: Bool, typeName: String) -> String? {
        if cast { return "\(typeName) read as its text form" }
        switch type {
        case .date: return "infinity and -infinity are stored as Int32.max and -Int32.max days"
        case .timestamp, .timestamptz: return "infinity and -infinity are stored as Int64.max and -Int64.max microseconds"
        case .numeric(let p, let s) where PGType.decimalShape(precision: p, scale: s) == nil:
            return "exact decimal text (NaN, Infinity, -Infinity as such)"
        case .numeric: return "NaN and ±Infinity cannot be stored: such rows are rejected"
        case .timetz: return "normalised to UTC"
        case .array(let e, _): return note(e, cast: false, typeName: typeName).map { "elements: " + $0 }
        default: return nil
        }
    }
}

/// The mapping of every column of a table or query: the Parquet schema and the SELECT list.
package struct SourceMapping: Sendable {
    package var columns: [ColumnMapping]
    package var schema: ParquetSchema

    /// Maps `columns`; `qualifier` prefixes column references (for a wrapped query).
    package init(_ columns: [PGColumn], qualifier: String? = nil) throws(PostgresError) {
        var seen = Set<String>()
        for c in columns where !seen.insert(c.name).inserted {
            throw PostgresError(.unsupported, step: "mapping",
                                message: "two result columns are named \(c.name): give them distinct aliases")
        }
        self.columns = columns.map { ColumnMapping($0, qualifier: qualifier) }
        do {
            schema = try ParquetSchema(self.columns.map(\.field))
        } catch {
            throw PostgresError(.unsupported, step: "mapping", message: "\(error)")
        }
    }

    /// `"a", "b"::text, …` for the generated SELECT.
    package var selectList: String { columns.map(\.selectExpression).joined(separator: ", ") }

    /// Names of the columns read through a `::text` cast.
    package var castColumns: [String] { columns.filter(\.isCastToText).map(\.column.name) }

    /// The COPY statement reading `from` (a quoted relation or a parenthesised subquery with an
    /// alias) with an optional WHERE clause.
    package func copyStatement(from: String, where condition: String? = nil) -> String {
        var select = "SELECT \(selectList) FROM \(from)"
        if let condition { select += " WHERE \(condition)" }
        return "COPY (\(select)) TO STDOUT (FORMAT binary)"
    }
}
