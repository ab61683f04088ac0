import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// Every mapped type, with its edge values, read through COPY BINARY, written to Parquet, read
/// back by pyarrow, DuckDB and polars, and compared with what PostgreSQL itself prints for the
/// same value.
@Suite("PostgreSQL types round-tripped through Parquet", .enabled(if: postgresAndReadersAvailable))
struct TypesRoundTripTests {
    static func createTypes(_ conn: PGConnection, _ s: String) throws {
        try conn.exec("CREATE EXTENSION IF NOT EXISTS citext")
        try conn.exec("CREATE EXTENSION IF NOT EXISTS hstore")
        try conn.exec("""
            CREATE TYPE \(s).mood AS ENUM ('sad', 'ok', 'happy');
            CREATE DOMAIN \(s).money2 AS numeric(10,2);
            CREATE TYPE \(s).pair AS (a int4, b text, c numeric);
            CREATE TABLE \(s)."Odd Table" (
              id int8 NOT NULL PRIMARY KEY,
              i2 int2, i4 int4, i8 int8, o oid, f4 float4, f8 float8, b bool,
              n numeric, n12 numeric(12,2), n40 numeric(40,5), dn \(s).money2,
              t text, vc varchar(10), bp char(5), nm name, en \(s).mood, ci citext,
              "by" bytea, u uuid, js json, jb jsonb,
              d date, tm time, ttz timetz, ts timestamp, tstz timestamptz, iv interval,
              ia int4[], ta text[], na numeric(12,2)[], cp \(s).pair, cpa \(s).pair[],
              ip inet, ipa inet[], hs hstore, "Mixed Case" int4
            )
            """)
    }

    static let rows = """
        (1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (2, -32768, -2147483648, -9223372036854775808, 0, 'NaN', '-Infinity', false,
         'NaN', -9999999999.99, '-123456789012345678901234567890.12345', -99999999.99,
         '', '', '', '', 'sad', '',
         '\\x', '00000000-0000-0000-0000-000000000000', '[]', '{}',
         '0001-01-01', '00:00:00', '00:00:00+14', '0001-01-01 00:00:00', '1970-01-01 00:00:00+00',
         '-1 mons -2 days -00:00:00.000001',
         '{}', '{}', '{}', ROW(NULL, NULL, NULL), '{}', '::1', '{}', '', -1),
        (3, 32767, 2147483647, 9223372036854775807, 4294967295, 'Infinity', 'NaN', true,
         '123456789012345678901234567890.123456789012', 9999999999.99, '99999999999999999999999999999999999.99999', 12.5,
         repeat('ü', 10000), 'héllo wörl', 'ab', 'naïve', 'happy', 'MiXeD',
         '\\x00ff10', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2.5, "x"]}', '{"b": null, "a": [1, 2.5, "ü"]}',
         '9999-12-31', '23:59:59.999999', '23:30:00-05:30', '9999-12-31 23:59:59.999999', '2024-02-29 12:34:56.789012+05:45',
         '1 year 2 mons 3 days 04:05:06.789',
         '{1,NULL,3}', '{"a b",NULL,"","😀"}', '{1.50,NULL,-0.01}', ROW(7, 'x,y"z', 1.23),
         ARRAY[ROW(1, 'a', NULL)::\(placeholder).pair, NULL, ROW(NULL, NULL, 'NaN')::\(placeholder).pair],
         '192.168.0.1/24', '{10.0.0.1,NULL,2001:db8::/32}', 'a=>1, b=>NULL', 2147483647),
        (4, 0, 0, 0, 1, 1.5, -2.25e-300, NULL,
         '-Infinity', 0, 0.00001, 0,
         'tab\there', 'x', 'abcde', 'n', 'ok', 'ß',
         NULL, NULL, '"just a string"', '[1, "two", {"3": [4]}]',
         '1970-01-01', '12:00:00.5', '12:00:00+00', '2000-01-01 00:00:00', '1999-12-31 23:59:59.999999+00',
         '100 hours', '{-1}', '{NULL}', '{NULL,NULL}', NULL, '{NULL}', NULL, NULL, NULL, 0),
        (5, -1, -1, -1, 2, '-0', 3.4028234663852886e+38, true,
         'Infinity', -0.01, -0.00001, 0.01,
         'line1
        line2', 'ä', 'a', 'x', NULL, NULL,
         '\\xdeadbeef', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'null', 'null',
         '2024-02-29', '00:00:00.000001', '00:00:00.000001-01', '1969-12-31 23:59:59.999999', '1900-01-01 00:00:00+03',
         '-178000000 years', '{2147483647,-2147483648}', '{"\\"quoted\\""}', '{0.00,12345.67}', ROW(-1, NULL, '-0.5'),
         ARRAY[]::\(placeholder).pair[], '0.0.0.0/0', '{}', 'k=>v', NULL),
        (6, 1, 1, 1, 3, 3.4028235e38, 1e300, false,
         '1e100', 0.1, 1, NULL,
         NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, '0', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (7, 2, 2, 2, 4, 1.1, 0.1, true,
         '-0.000000000000000000000000000001', 1234.5, 1e-5, -12.3,
         NULL, NULL, NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL,
         NULL, NULL, NULL, NULL, NULL, '1 mon -1 day 00:00:01', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)
        """

    /// For array `col`, a JSON list of `element` (an expression of `e`), NULL for NULL, [] for {}.
    static func list(_ col: String, _ element: String) -> String {
        "CASE WHEN \(col) IS NULL THEN NULL ELSE coalesce((SELECT json_agg(\(element) ORDER BY o) FROM "
            + "generate_subscripts(\(col), 1) AS g(o), LATERAL (SELECT \(col)[o] AS e) x), '[]'::json) END"
    }

    static func pair(_ v: String) -> String {
        "CASE WHEN \(v)::text IS NULL THEN NULL ELSE json_build_object('a', (\(v)).a::text, 'b', (\(v)).b, 'c', (\(v)).c::text) END"
    }

    /// What PostgreSQL prints for each column, normalized as readback.py normalizes the readers' values.
    static let expected: [(String, String)] = [
        ("id", "id::text"), ("i2", "i2::text"), ("i4", "i4::text"), ("i8", "i8::text"), ("o", "o::text"),
        ("f4", "f4::float8::text"), ("f8", "f8::text"),
        ("b", "CASE b WHEN true THEN 'true' WHEN false THEN 'false' END"),
        ("n", "n::text"), ("n12", "n12::text"), ("n40", "n40::text"), ("dn", "dn::text"),
        ("t", "t"), ("vc", "vc::text"), ("bp", "textin(bpcharout(bp))"), ("nm", "nm::text"), ("en", "en::text"),
        ("ci", "ci::text"),
        ("by", "encode(\"by\", 'hex')"), ("u", "replace(u::text, '-', '')"), ("js", "js::text"), ("jb", "jb::text"),
        ("d", "d::text"), ("tm", "to_char('2000-01-01'::date + tm, 'HH24:MI:SS.US')"),
        ("ttz", "to_char(('2000-01-01'::date + ttz) AT TIME ZONE 'UTC', 'HH24:MI:SS.US')"),
        ("ts", "to_char(ts, 'YYYY-MM-DD\"T\"HH24:MI:SS.US')"),
        ("tstz", "to_char(tstz AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z'"),
        ("iv", """
            CASE WHEN iv IS NULL THEN NULL ELSE json_build_object(
              'months', (extract(year from iv) * 12 + extract(month from iv))::int8::text,
              'days', extract(day from iv)::int8::text,
              'microseconds', (extract(hour from iv) * 3600000000 + extract(minute from iv) * 60000000
                               + extract(microseconds from iv))::int8::text) END
            """),
        ("ia", list("ia", "e::text")), ("ta", list("ta", "e")), ("na", list("na", "e::text")),
        ("cp", pair("cp")), ("cpa", list("cpa", pair("e"))),
        ("ip", "ip::text"), ("ipa", list("ipa", "e::text")), ("hs", "hs::text"), ("Mixed Case", "\"Mixed Case\"::text"),
    ]

    static let floatColumns: Set<String> = ["f4", "f8"]

    /// PostgreSQL's float text in Python's repr form.
    static func pythonFloat(_ v: ReadbackValue) -> ReadbackValue {
        guard case .string(let s) = v else { return v }
        switch s {
        case "Infinity": return "inf"
        case "-Infinity": return "-inf"
        case "NaN": return "NaN"
        default: return .string(s.contains(where: { $0 == "." || $0 == "e" }) ? s : s + ".0")
        }
    }

    @Test func everyTypeMatchesPostgres() throws {
        try withSchema("types") { conn, s in
            try Self.createTypes(conn, s)
            try conn.exec("INSERT INTO \(s).\"Odd Table\" VALUES " + Self.rows.replacing("SCHEMA_PLACEHOLDER", with: s))
            let catalog = PostgresCatalog(conn)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "Odd Table"), catalog: catalog, parallelism: 1)
            let mapping = plan.mapping
            #expect(mapping.columns.map(\.column.name) == Self.expected.map(\.0))
            #expect(Set(mapping.castColumns) == ["ip", "ipa", "hs"])
            #expect(mapping.columns.first { $0.column.name == "ipa" }?.selectExpression == "\"ipa\"::text[]")
            #expect(mapping.schema.fields[0].isOptional == false && mapping.schema.fields[1].isOptional)
            let types = Dictionary(uniqueKeysWithValues: mapping.schema.fields.map { ($0.name, $0.type) })
            #expect(types["n12"] == .decimal(precision: 12, scale: 2))
            #expect(types["dn"] == .decimal(precision: 10, scale: 2))
            #expect(types["n"] == .string && types["n40"] == .string)
            #expect(types["o"] == .uint32 && types["u"] == .uuid && types["jb"] == .json && types["ci"] == .string)
            #expect(types["ttz"] == .time(.micros, adjustedToUTC: true))
            #expect(types["tstz"] == .timestamp(.micros, adjustedToUTC: true))
            #expect(types["ts"] == .timestamp(.micros, adjustedToUTC: false))
            #expect(types["na"] == .list(.optional("element", .decimal(precision: 12, scale: 2))))
            #expect(types["cp"] == .structure([.optional("a", .int32), .optional("b", .string), .optional("c", .string)]))
            #expect(types["iv"] == .structure(ColumnMapping.intervalFields))

            var rejected: [CopyRowError] = []
            var batches: [RowBatch] = []
            let stats = try conn.copy(plan.jobs[0].sql, mapping: mapping, keyColumn: "id",
                                      flush: { batches.append($0) }, onRowError: { rejected.append($0) })
            #expect(rejected.isEmpty, "\(rejected)")
            #expect(stats.rows == 7 && batches.count == 1)
            let batch = try #require(batches.first)
            try batch.validate()

            // The same stream cut anywhere decodes to the same file.
            let raw = try captureCopy(conn, plan.jobs[0].sql)
            let reference = try Self.fileBytes(batch)
            for pieces in [[Int.max], [1], [3, 7, 1000], [19], [20, 5]] {
                let (b, errs) = try decodeAll(raw, mapping: mapping, pieces: pieces)
                #expect(errs.isEmpty)
                #expect(try Self.fileBytes(b) == reference, "pieces \(pieces)")
            }

            let path = try writeParquet(batch, label: "pg-types")
            let select = Self.expected.map(\.1).joined(separator: ", ")
            var want = try jsonRows(conn, "SELECT json_build_array(\(select))::text FROM \(s).\"Odd Table\" ORDER BY id")
            for (c, name) in Self.expected.map(\.0).enumerated() where Self.floatColumns.contains(name) {
                for r in want.indices { want[r][c] = Self.pythonFloat(want[r][c]) }
            }
            var problems = try ParquetReadback.mismatches(path: path, columns: Self.expected.map(\.0), expected: want,
                                                          readers: ["pyarrow", "polars"])
            // DuckDB reads a UTC-adjusted TIME as TIMETZ and prints the (zero) offset.
            let ttz = try #require(Self.expected.firstIndex { $0.0 == "ttz" })
            for r in want.indices { if case .string(let t) = want[r][ttz] { want[r][ttz] = .string(t + "+00:00") } }
            problems += try ParquetReadback.mismatches(path: path, columns: Self.expected.map(\.0), expected: want,
                                                       readers: ["duckdb"])
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        }
    }

    static func fileBytes(_ batch: RowBatch) throws -> [UInt8] {
        let sink = MemorySink()
        let w = try ParquetWriter(schema: batch.schema, sink: sink)
        try w.write(batch)
        try w.close()
        return sink.bytes
    }
}

/// Stands for the test's schema in the rows text.
private let placeholder = "SCHEMA_PLACEHOLDER"
