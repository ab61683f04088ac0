@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
import Logging
import PostgresSource
@testable import RedisStreams
import Testing
import TestSupport

/// `lakewriter-backfill --config --entity` writes the files the worker writes for that entity:
/// the same Parquet schema (footers compared), the same object keys, so one glob reads both.
@Suite(.enabled(if: (TestEnvironment.postgres != nil && TestEnvironment.python != nil) || TestEnvironment.isCI), .serialized)
struct BackfillEntityTests {
    static func config(lake: String) -> String {
        """
        storage: {url: "file://\(lake)"}
        flush: {max_rows: 1000}
        entities:
          orders:
            stream: orders
            payload: json:data
            time: created_at
            columns:
              order_id: uuid not null
              amount: decimal(12,2) not null
              created_at: timestamp(us, utc) not null
              note: string
              lines: list<struct<sku:string, qty:int32>>
              city: {type: string, source: addr.city}
        """
    }

    /// A worker file for `orders`, written through the worker's own flush (no Redis needed).
    static func workerFile(config: LakewriterConfig, lake: String) async throws {
        let worker = try LakewriterWorker(config: config, logger: Logger(label: "test"), metrics: WorkerMetrics(),
                                          store: nil, entries: NoAcks(), flushConcurrency: 1)
        let (jobs, continuation) = AsyncStream<FlushJob>.makeStream()
        let state = try WorkerState(config: config, metrics: worker.metrics, logger: Logger(label: "test"), jobs: continuation)
        var bytes: [UInt8] = [], entries: [StreamBatch.Entry] = [], fields: [StreamBatch.Field] = []
        func put(_ s: String) -> Range<Int> { let a = bytes.count; bytes += Array(s.utf8); return a..<bytes.count }
        for i in 0..<3 {
            let id = put("1767225600000-\(i)")
            let f = fields.count
            fields.append(.init(name: put("data"), value: put("""
                {"order_id":"00000000-0000-4000-8000-00000000000\(i)","amount":"1\(i).50","created_at":"2026-01-01T00:0\(i):00Z",
                 "note":"stream","lines":[{"sku":"s\(i)","qty":\(i)}],"addr":{"city":"Berlin"}}
                """)))
            entries.append(.init(id: StreamID("1767225600000-\(i)")!, idRange: id, fieldsStart: f, fieldCount: 1, isDeleted: false))
        }
        _ = await state.ingest(StreamBatch(stream: "orders", source: .new, bytes: bytes, entries: entries, fields: fields), now: .now)
        await state.sealAll(reason: .shutdown)
        for await job in jobs { await worker.flush(job, state: state) }
    }

    final class NoAcks: EntryAcknowledging {
        func acknowledge(stream: String, group: String, ids: [StreamID]) async throws {}
        func deadLetter(entry: Int, of batch: StreamBatch, to deadLetterStream: String, error: String, reason: String, entity: String,
                        maxLength: Int?) async throws {}
        func entry(stream: String, id: StreamID) async throws -> StreamBatch? { nil }
    }

    static func duck(_ python: String, _ sql: String) async throws -> [[String?]] {
        let script = """
        import duckdb, json, sys
        con = duckdb.connect(); con.execute("SET enable_progress_bar = false"); con.execute("SET TimeZone='UTC'")
        print(json.dumps([[None if v is None else str(v) for v in r] for r in con.execute(sys.argv[1]).fetchall()]))
        """
        return try JSONDecoder().decode([[String?]].self, from: try await ProcessRunner.run(python, ["-c", script, sql]).stdout)
    }

    @Test func backfilledAndStreamedRowsFormOneTable() async throws {
        let dsn = try #require(TestEnvironment.postgres)
        let python = try #require(TestEnvironment.python)
        let dir = try TestEnvironment.temporaryDirectory("bf-entity").path
        let lake = dir + "/lake"
        let configPath = dir + "/lakewriter.yaml"
        try Self.config(lake: lake).write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader(environment: [:]).load(path: configPath)
        try await Self.workerFile(config: config, lake: lake)

        let conn = try PGConnection(dsn)
        let schema = "bfe_\(UUID().uuidString.prefix(8).lowercased())"
        try conn.exec("""
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).orders (id serial PRIMARY KEY, order_id uuid NOT NULL, amount numeric, created_at timestamptz,
                                           note text, lines jsonb, addr jsonb, ignored int);
            INSERT INTO \(schema).orders (order_id, amount, created_at, note, lines, addr)
            SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, g * 0.25,
                   '2026-01-01T00:00:00Z'::timestamptz + g * interval '10 minutes', 'pg ' || g,
                   jsonb_build_array(jsonb_build_object('sku', 'p' || g, 'qty', g % 5)), jsonb_build_object('city', 'Köln')
            FROM generate_series(1, 100) g;
            -- Two rows the entity's rules refuse: three decimals in a decimal(12,2), a missing required time.
            INSERT INTO \(schema).orders (order_id, amount, created_at) VALUES
              ('00000000-0000-4000-8000-999999999991', 1.005, now()), ('00000000-0000-4000-8000-999999999992', 1, NULL);
            """)
        defer { try? conn.exec("DROP SCHEMA \(schema) CASCADE") }
        let rejects = dir + "/rejects.jsonl"
        let binary = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter-backfill").path
        let r = try await ProcessRunner.run(binary, ["--dsn", dsn, "--table", "\(schema).orders", "--config", configPath,
                                               "--entity", "orders", "--jobs", "2", "--rejects", rejects], check: false)
        #expect(r.status == 3, "\(r.stderr)")
        // The rejects file names each refused row by its key and says why.
        let lines = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.contains { $0.contains("\"key\":\"pg:\\\"\(schema)\\\".\\\"orders\\\":101\"") && $0.contains("amount") })
        #expect(lines.contains { $0.contains(":102\"") && $0.contains("created_at") })

        // The worker's object keys and the same footer schema.
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        let pattern = #/^orders/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[0-9a-f-]{36}\.parquet$/#
        #expect(files.allSatisfy { $0.wholeMatch(of: pattern) != nil }, "\(files)")
        // pyarrow's schema text (its first line is the object's address).
        let schemas = try Set(files.map { try ParquetReadback.metadata(path: lake + "/" + $0).schema.split(separator: "\n").dropFirst() })
        #expect(schemas.count == 1, "\(schemas)")

        #expect(files.count > 10)
        // One glob, no union_by_name: 3 streamed rows (10.50 + 11.50 + 12.50) and 100 backfilled
        // (0.25 × 5050), values as converted by the worker's rules.
        let rows = try await Self.duck(python, """
            SELECT count(*), count(DISTINCT _stream_id), sum(amount), count(*) FILTER (WHERE city = 'Köln'),
                   count(*) FILTER (WHERE _stream_id LIKE 'pg:%'), max(lines[1].sku) FILTER (WHERE _stream_id LIKE 'pg:%')
            FROM read_parquet('\(lake)/orders/**/*.parquet')
            """)
        #expect(rows == [["103", "103", "1297.00", "100", "100", "p99"]])
        // Each backfilled row sits in the hour of its created_at, like the worker's.
        let wrong = try await Self.duck(python, """
            SELECT count(*) FROM read_parquet('\(lake)/orders/**/*.parquet', hive_partitioning = true)
            WHERE year <> year(created_at) OR month <> month(created_at) OR day <> day(created_at) OR hour <> hour(created_at)
            """)
        #expect(wrong == [["0"]])
    }

    /// The entity's partition layout (`partition_by`, `time_partition`, columns left out of the
    /// file) is the worker's too: same keys, same footer schema, values read back from the paths.
    @Test func backfillUsesTheEntitysPartitionLayout() async throws {
        let dsn = try #require(TestEnvironment.postgres)
        let python = try #require(TestEnvironment.python)
        let dir = try TestEnvironment.temporaryDirectory("bf-layout").path
        let lake = dir + "/lake"
        let configPath = dir + "/lakewriter.yaml"
        let yaml = Self.config(lake: lake).replacingOccurrences(of: "    time: created_at\n", with:
            "    time: created_at\n    partition_by: [city]\n    partition_columns_in_file: false\n    time_partition: day\n")
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader(environment: [:]).load(path: configPath)
        #expect(config.entities[0].partitionBy == ["city"])
        try await Self.workerFile(config: config, lake: lake)

        let conn = try PGConnection(dsn)
        let schema = "bfl_\(UUID().uuidString.prefix(8).lowercased())"
        try conn.exec("""
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).orders (id serial PRIMARY KEY, order_id uuid NOT NULL, amount numeric, created_at timestamptz,
                                           note text, lines jsonb, addr jsonb);
            INSERT INTO \(schema).orders (order_id, amount, created_at, addr)
            SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, g, '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 hour',
                   CASE WHEN g % 3 = 0 THEN NULL WHEN g % 3 = 1 THEN jsonb_build_object('city', 'Köln') ELSE jsonb_build_object('city', 'a/b=c') END
            FROM generate_series(1, 60) g;
            """)
        defer { try? conn.exec("DROP SCHEMA \(schema) CASCADE") }
        let binary = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter-backfill").path
        let r = try await ProcessRunner.run(binary, ["--dsn", dsn, "--table", "\(schema).orders", "--config", configPath,
                                               "--entity", "orders", "--jobs", "2"], check: false)
        #expect(r.status == 0, "\(r.stderr)")
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        let pattern = #/^orders/city=(Köln|a%2Fb%3Dc|Berlin|__HIVE_DEFAULT_PARTITION__)/year=2026/month=01/day=0[1-3]/[0-9a-f-]{36}\.parquet$/#
        #expect(files.allSatisfy { $0.wholeMatch(of: pattern) != nil }, "\(files)")
        #expect(files.contains { $0.contains("city=Berlin/") })  // the worker's rows
        // One schema for the worker's and the backfill's files, without the partition column.
        let schemas = try Set(files.map { try ParquetReadback.metadata(path: lake + "/" + $0).schema.split(separator: "\n").dropFirst() })
        #expect(schemas.count == 1, "\(schemas)")
        #expect(!(schemas.first?.joined().contains("city") ?? true), "\(schemas)")
        let rows = try await Self.duck(python, """
            SELECT coalesce(city, 'null'), count(*), count(*) FILTER (WHERE day(created_at) <> day) FROM read_parquet('\(lake)/orders/**/*.parquet', hive_partitioning = true)
            GROUP BY 1 ORDER BY 1
            """)
        #expect(rows == [["Berlin", "3", "0"], ["a/b=c", "20", "0"], ["null", "20", "0"], ["Köln", "20", "0"]].sorted { $0[0]! < $1[0]! }, "\(rows)")
    }

    /// `table_format: delta`: the backfill commits all its files in one commit, into the table
    /// the worker commits to; a resume of a committed run commits nothing more.
    @Test func backfillCommitsItsFilesInOneDeltaCommit() async throws {
        let dsn = try #require(TestEnvironment.postgres)
        let python = try #require(TestEnvironment.deltaPython)
        let dir = try TestEnvironment.temporaryDirectory("bf-delta").path
        let lake = dir + "/lake"
        let configPath = dir + "/lakewriter.yaml"
        let yaml = Self.config(lake: lake).replacingOccurrences(of: "storage: {url: \"file://\(lake)\"}",
                                                                with: "storage: {url: \"file://\(lake)\", table_format: delta}")
            .replacingOccurrences(of: "    time: created_at\n", with: "    time: created_at\n    partition_by: [city]\n")
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader(environment: [:]).load(path: configPath)
        #expect(config.entities[0].tableFormat == .delta)
        try await Self.workerFile(config: config, lake: lake)

        let conn = try PGConnection(dsn)
        let schema = "bfd_\(UUID().uuidString.prefix(8).lowercased())"
        try conn.exec("""
            CREATE SCHEMA \(schema);
            CREATE TABLE \(schema).orders (id serial PRIMARY KEY, order_id uuid NOT NULL, amount numeric, created_at timestamptz, addr jsonb);
            INSERT INTO \(schema).orders (order_id, amount, created_at, addr)
            SELECT ('00000000-0000-4000-8000-' || lpad(g::text, 12, '0'))::uuid, g, '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 hour',
                   CASE WHEN g % 2 = 0 THEN jsonb_build_object('city', 'Köln') ELSE jsonb_build_object('city', 'a/b') END
            FROM generate_series(1, 200) g;
            """)
        defer { try? conn.exec("DROP SCHEMA \(schema) CASCADE") }
        let binary = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter-backfill").path
        let r = try await ProcessRunner.run(binary, ["--dsn", dsn, "--table", "\(schema).orders", "--config", configPath,
                                               "--entity", "orders", "--jobs", "2"], check: false)
        #expect(r.status == 0, "\(r.stderr)")
        let run = try #require(r.stderr.firstMatch(of: #/backfill (\S+) done/#)?.1).description
        #expect(r.stderr.contains("Delta table orders/ version"), "\(r.stderr)")
        let script = """
            import json, sys, os, glob, duckdb
            from deltalake import DeltaTable
            root = sys.argv[1]
            dt = DeltaTable(root)
            t = dt.to_pyarrow_table()
            acts = dt.file_uris()
            hist = [{"op": h.get("operation"), "run": (h.get("lakewriter") or {}).get("run"), "v": h.get("version")} for h in dt.history()]
            ext = glob.glob(os.path.dirname(duckdb.__file__) + "/../duckdb_ext/extensions/*/*/delta.duckdb_extension")[0]
            con = duckdb.connect(config={"allow_unsigned_extensions": "true"}); con.execute("SET enable_progress_bar = false"); con.execute(f"LOAD '{ext}'")
            d = con.execute(f"select count(*), count(*) filter (where city = 'a/b'), sum(amount)::varchar from delta_scan('{root}')").fetchall()[0]
            import polars as pl
            p = pl.scan_delta(root).select(pl.len(), (pl.col("city") == "a/b").sum()).collect().row(0)
            print(json.dumps({"polars": [p[0], p[1]], "rows": t.num_rows, "cities": sorted({str(c) for c in t.column("city").to_pylist()}), "version": dt.version(),
                              "history": hist, "files": len(acts), "duckdb": [d[0], d[1], d[2]]}))
            """
        let out = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", script, lake + "/orders"]).stdout) as! [String: Any]
        #expect(out["rows"] as? Int == 203, "\(out)")
        #expect(out["cities"] as? [String] == ["Berlin", "Köln", "a/b"], "\(out)")
        // 3 × (10.50…12.50) streamed + 1…200 backfilled.
        #expect(out["duckdb"] as? [AnyHashable] == [203, 100, "20134.50"], "\(out)")
        #expect(out["polars"] as? [Int] == [203, 100], "\(out)")
        // One commit for the worker's file (version 0), one for the whole backfill (version 1).
        #expect(out["version"] as? Int == 1, "\(out)")
        let history = out["history"] as! [[String: Any]]
        #expect(history.contains { $0["run"] as? String == run && $0["v"] as? Int == 1 }, "\(history)")
        // A resume of the committed run finds its commit and adds nothing.
        let again = try await ProcessRunner.run(binary, ["--dsn", dsn, "--table", "\(schema).orders", "--config", configPath,
                                                   "--entity", "orders", "--resume", run], check: false)
        #expect(again.status == 0, "\(again.stderr)")
        let versions = try FileManager.default.contentsOfDirectory(atPath: lake + "/orders/_delta_log").filter { $0.hasSuffix(".json") }
        #expect(versions.count == 2, "\(versions)")
    }
}
