import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// Arrays of composites holding arrays (two repetition levels), composites in composites,
/// arrays of intervals and of a domain, compared with PostgreSQL's own values.
@Suite("Nested PostgreSQL types", .enabled(if: postgresAndReadersAvailable))
struct NestedTypesTests {
    @Test func nestedValuesMatchPostgres() throws {
        try withSchema("nested") { conn, s in
            try conn.exec("""
                CREATE TYPE \(s).tagged AS (name text, tags text[]);
                CREATE TYPE \(s).inner AS (x int4, y numeric(6,2));
                CREATE TYPE \(s).outer AS (i \(s).inner, label varchar(5), at timestamptz);
                CREATE DOMAIN \(s).posint AS int4 CHECK (VALUE > 0);
                CREATE TABLE \(s).n (id int8 NOT NULL, tg \(s).tagged[], o \(s).outer, iva interval[], pa \(s).posint[],
                                     ds \(s).posint);
                INSERT INTO \(s).n VALUES
                  (1, NULL, NULL, NULL, NULL, NULL),
                  (2, '{}', ROW(NULL, NULL, NULL), '{}', '{}', 1),
                  (3, ARRAY[ROW('a', '{x,NULL}')::\(s).tagged, NULL, ROW(NULL, '{}')::\(s).tagged, ROW('b', NULL)::\(s).tagged],
                      ROW(ROW(5, 1.25), 'hi', '2024-01-01 00:00:00+00'), ARRAY['1 day'::interval, NULL, '-2 mons 3 us'],
                      '{1,NULL,7}', 42),
                  (4, ARRAY[ROW('only', '{p,q,r}')::\(s).tagged], ROW(ROW(NULL, NULL), NULL, NULL), '{NULL}', '{NULL}', NULL);
                """)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "n"), catalog: PostgresCatalog(conn), parallelism: 1)
            let types = Dictionary(uniqueKeysWithValues: plan.mapping.schema.fields.map { ($0.name, $0.type) })
            #expect(types["tg"] == .list(.optional("element", .structure([
                .optional("name", .string), .optional("tags", .list(.optional("element", .string)))]))))
            #expect(types["pa"] == .list(.optional("element", .int32)) && types["ds"] == .int32)
            #expect(plan.mapping.schema.columns.map(\.maxRepetitionLevel).max() == 2)
            var batches: [RowBatch] = []
            var rejected: [CopyRowError] = []
            _ = try conn.copy(plan.jobs[0].sql, mapping: plan.mapping, flush: { batches.append($0) },
                              onRowError: { rejected.append($0) })
            #expect(rejected.isEmpty, "\(rejected)")
            let batch = try #require(batches.first)
            let path = try writeParquet(batch, label: "pg-nested")

            let list = TypesRoundTripTests.list
            func nullable(_ v: String, _ json: String) -> String { "CASE WHEN \(v)::text IS NULL THEN NULL ELSE \(json) END" }
            let tagged = nullable("e", "json_build_object('name', (e).name, 'tags', \(list("(e).tags", "e2")))")
                .replacing("AS e) x", with: "AS e2) x2").replacing("g(o)", with: "g2(o2)").replacing("[o]", with: "[o2]")
                .replacing("ORDER BY o)", with: "ORDER BY o2)")
            let inner = nullable("(o).i", "json_build_object('x', ((o).i).x::text, 'y', ((o).i).y::text)")
            let outer = nullable("o", "json_build_object('i', \(inner), 'label', (o).label::text, "
                                 + "'at', to_char((o).at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || 'Z')")
            let interval = """
                CASE WHEN e IS NULL THEN NULL ELSE json_build_object(
                  'months', (extract(year from e) * 12 + extract(month from e))::int8::text,
                  'days', extract(day from e)::int8::text,
                  'microseconds', (extract(hour from e) * 3600000000 + extract(minute from e) * 60000000
                                   + extract(microseconds from e))::int8::text) END
                """
            let exprs = ["id::text", list("tg", tagged), outer, list("iva", interval), list("pa", "e::text"), "ds::text"]
            let want = try jsonRows(conn, "SELECT json_build_array(\(exprs.joined(separator: ", ")))::text FROM \(s).n ORDER BY id")
            // The (o).at column is a timestamp inside a struct: DuckDB prints it with its offset.
            let problems = try ParquetReadback.mismatches(path: path, columns: ["id", "tg", "o", "iva", "pa", "ds"],
                                                          expected: want, readers: ["pyarrow", "polars"])
            #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
            #expect(want[2][1] == [["name": "a", "tags": ["x", nil]], nil, ["name": nil, "tags": []], ["name": "b", "tags": nil]])
            #expect(want[2][3] == [["months": "0", "days": "1", "microseconds": "0"], nil,
                                   ["months": "-2", "days": "0", "microseconds": "3"]])
        }
    }
}
