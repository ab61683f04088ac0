import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// Values readers cannot show as dates or times (±infinity, beyond year 9999) and values that
/// must reject their row, compared as raw integers with what PostgreSQL computes.
@Suite("Infinity, out-of-range values and rejected rows", .enabled(if: postgresAndReadersAvailable))
struct EdgeValueTests {
    static let rawScript = """
        import sys, json, decimal, pyarrow as pa, pyarrow.parquet as pq
        t = pq.read_table(sys.argv[1])
        out = {}
        def s(v):
            if isinstance(v, decimal.Decimal): return format(v, "f")
            return None if v is None else ([s(x) for x in v] if isinstance(v, list) else str(v))
        for name in t.column_names:
            c = t.column(name)
            if pa.types.is_date32(c.type): c = c.cast(pa.int32())
            elif pa.types.is_timestamp(c.type) or pa.types.is_time64(c.type): c = c.cast(pa.int64())
            out[name] = [s(v) for v in c.to_pylist()]
        print(json.dumps(out))
        """

    @Test func sentinelsOverflowAndRejects() throws {
        try withSchema("edge") { conn, s in
            try conn.exec("""
                CREATE TABLE \(s).x (id int8 NOT NULL, d date, ts timestamp, tstz timestamptz, n12 numeric(12,2),
                                     arr int4[], t24 time, nn numeric(3,-2), big numeric(40,2)[], d38 numeric(38,10));
                INSERT INTO \(s).x VALUES
                  (1, 'infinity', 'infinity', '-infinity', 1.00, '{{1,2},{3,4}}', '00:00', NULL, NULL, NULL),
                  (2, '-infinity', '-infinity', 'infinity', 2.00, '{1}', '24:00:00', 12345, '{1.5,NaN,NULL}', '1234567890123456789012345678.0123456789'),
                  (3, '5874897-12-31', '294276-12-31 23:59:59.999999', NULL, 3.00, NULL, NULL, NULL, NULL, NULL),
                  (4, '4713-01-01 BC', '4713-01-01 00:00:00 BC', '294000-01-01 00:00:00+00', 'NaN', NULL, NULL, NULL, NULL, NULL),
                  (5, '2000-01-01', '294246-01-01 00:00:00', '4713-01-01 00:00:00+00 BC', 12.34, '[0:1]={5,6}', '12:00', -99900, NULL, '-0.0000000001'),
                  (6, NULL, NULL, NULL, NULL, '{{{NULL}}}', NULL, NULL, NULL, NULL)
                """)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "x"), catalog: PostgresCatalog(conn), parallelism: 1)
            #expect(plan.mapping.schema.fields.first { $0.name == "nn" }?.type == .decimal(precision: 5, scale: 0))
            #expect(plan.mapping.schema.fields.first { $0.name == "big" }?.type == .list(.optional("element", .string)))
            var rejected: [CopyRowError] = []
            var batches: [RowBatch] = []
            _ = try conn.copy(plan.jobs[0].sql, mapping: plan.mapping, keyColumn: "id",
                              flush: { batches.append($0) }, onRowError: { rejected.append($0) })
            #expect(rejected.map(\.key) == ["1", "3", "4", "6"])
            #expect(rejected.map(\.row) == [0, 2, 3, 5])
            #expect(rejected.map(\.column) == ["arr", "ts", "n12", "arr"])
            #expect(rejected[0].reason.contains("2-dimensional"))
            #expect(rejected[1].reason.contains("timestamp"))
            #expect(rejected[2].reason.contains("NaN") && rejected[2].reason.contains("decimal(12,2)"))
            #expect(rejected[3].reason.contains("3-dimensional"))
            let batch = try #require(batches.first)
            #expect(batch.rowCount == 2)
            let path = try writeParquet(batch, label: "pg-edge")
            let got = try python(Self.rawScript, path, as: [String: [ReadbackValue]].self)

            func epochMicros(_ c: String) -> String {
                """
                CASE WHEN \(c) = 'infinity' THEN '9223372036854775807' WHEN \(c) = '-infinity' THEN '-9223372036854775807'
                ELSE (extract(epoch from \(c)) * 1000000)::numeric(30,0)::text END
                """
            }
            let exprs: [(String, String)] = [
                ("id", "id::text"),
                ("d", "CASE WHEN d = 'infinity' THEN '2147483647' WHEN d = '-infinity' THEN '-2147483647' ELSE (d - '1970-01-01'::date)::text END"),
                ("ts", epochMicros("ts")), ("tstz", epochMicros("tstz")), ("n12", "n12::text"),
                ("arr", TypesRoundTripTests.list("arr", "e::text")),
                ("t24", "(extract(epoch from t24) * 1000000)::int8::text"), ("nn", "nn::text"),
                ("big", TypesRoundTripTests.list("big", "e::text")), ("d38", "d38::text"),
            ]
            let want = try jsonRows(conn, "SELECT json_build_array(\(exprs.map(\.1).joined(separator: ", ")))::text "
                                    + "FROM \(s).x WHERE id IN (2, 5) ORDER BY id")
            for (c, (name, _)) in exprs.enumerated() {
                #expect(got[name] == want.map { $0[c] }, "column \(name)")
            }
            // The sentinels themselves.
            #expect(got["d"]?[0] == .string(String(-Int32.max)))
            #expect(got["ts"]?[0] == .string(String(-Int64.max)) && got["tstz"]?[0] == .string(String(Int64.max)))
            #expect(got["t24"]?[0] == "86400000000")
            #expect(got["big"]?[0] == ["1.50", "NaN", nil])
        }
    }

    /// A query's result columns get their types by describing it, without running it first.
    @Test func queryColumnsAreDescribed() throws {
        try withSchema("query") { conn, s in
            try conn.exec("""
                CREATE TABLE \(s).q (id int4, amount numeric(12,2), tags text[]);
                INSERT INTO \(s).q VALUES (1, 10.5, '{a}'), (2, NULL, NULL), (3, 'NaN', '{}');
                """)
            let plan = try BackfillPlan.query(
                "SELECT id, amount, amount * 2 AS doubled, tags, id::text || 'x' AS label, inet '10.0.0.1' AS ip FROM \(s).q ORDER BY id;",
                catalog: PostgresCatalog(conn))
            let types = plan.mapping.schema.fields.map(\.type)
            #expect(types == [.int32, .decimal(precision: 12, scale: 2), .string, .list(.optional("element", .string)),
                              .string, .string])
            #expect(plan.mapping.castColumns == ["ip"])
            var rejected: [CopyRowError] = []
            var rows = 0
            _ = try conn.copy(plan.jobs[0].sql, mapping: plan.mapping, keyColumn: "id",
                              flush: { rows += $0.rowCount }, onRowError: { rejected.append($0) })
            #expect(rows == 2)
            #expect(rejected.map(\.key) == ["3"])
            #expect(throws: PostgresError.self) {
                try BackfillPlan.query("SELECT 1 AS a, 2 AS a", catalog: PostgresCatalog(conn))
            }
        }
    }
}
