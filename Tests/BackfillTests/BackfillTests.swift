@testable import Backfill
import Foundation
import ObjectStore
@testable import PostgresSource
import Testing
import TestSupport

/// `lakewriter-backfill` end to end: the built binary against the PostgreSQL of scripts/test,
/// files read back with DuckDB and compared with what PostgreSQL returns.
let backfillServersAvailable = (TestEnvironment.postgres != nil && TestEnvironment.python != nil) || TestEnvironment.isCI

enum BF {
    static var binary: String {
        TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter-backfill").path
    }

    static func dsn() throws -> String { try #require(TestEnvironment.postgres, "LAKEWRITER_TEST_PG is not set") }

    static func connect() throws -> PGConnection { try PGConnection(try dsn()) }

    /// A fresh schema, dropped afterwards.
    static func withSchema<T>(_ label: String, _ body: (PGConnection, String) throws -> T) throws -> T {
        let conn = try connect()
        let schema = "bf_\(label)_\(UUID().uuidString.prefix(8).lowercased())"
        try conn.exec("CREATE SCHEMA \(schema)")
        defer { try? conn.exec("DROP SCHEMA \(schema) CASCADE") }
        return try body(conn, schema)
    }

    @discardableResult
    static func run(_ args: [String], environment: [String: String]? = nil) throws -> ProcessResult {
        try ProcessRunner.run(binary, args, environment: environment, check: false)
    }

    /// DuckDB's rows for `sql` (values as text, NULL as nil), with the session in UTC.
    static func duck(_ sql: String) throws -> [[String?]] {
        let script = """
        import duckdb, json, sys
        con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
        con.execute("SET TimeZone='UTC'")
        rows = con.execute(sys.argv[1]).fetchall()
        print(json.dumps([[None if v is None else str(v) for v in r] for r in rows]))
        """
        let python = try #require(TestEnvironment.python)
        let r = try ProcessRunner.run(python, ["-c", script, sql])
        return try JSONDecoder().decode([[String?]].self, from: r.stdout)
    }

    /// Data files under `dir` (the manifest excluded).
    static func dataFiles(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".parquet") }.sorted()
    }

    static func manifest(_ dir: String) throws -> BackfillManifest {
        let names = try FileManager.default.contentsOfDirectory(atPath: dir + "/_backfill").filter { $0.hasSuffix(".json") }
        let name = try #require(names.first)
        return try BackfillManifest.decode(Data(contentsOf: URL(fileURLWithPath: dir + "/_backfill/" + name)))
    }
}

@Suite(.enabled(if: backfillServersAvailable), .serialized) struct BackfillTests {
    static let table = """
        CREATE TYPE %S.mood AS ENUM ('low', 'high');
        CREATE TABLE %S.items (
            id bigint PRIMARY KEY, n numeric(12,2), u numeric, f float8, t text, ts timestamptz, d date,
            arr int[], j jsonb, b bool, m %S.mood, ip inet, big numeric(40,5), raw bytea, ch char(4));
        INSERT INTO %S.items
        SELECT g, (g * 1.25)::numeric(12,2), CASE WHEN g % 97 = 0 THEN 'NaN'::numeric ELSE g::numeric / 7 END,
               CASE WHEN g % 101 = 0 THEN 'NaN'::float8 WHEN g % 103 = 0 THEN '-Infinity' ELSE g / 3.0 END,
               CASE WHEN g % 10 = 0 THEN NULL ELSE 'τext ' || g || repeat('x', g % 50) END,
               CASE WHEN g = 7 THEN 'infinity'::timestamptz WHEN g = 8 THEN '-infinity'
                    ELSE '2026-01-01T00:00:00Z'::timestamptz + g * interval '1 second' + (g % 1000) * interval '1 microsecond' END,
               CASE WHEN g = 9 THEN 'infinity'::date ELSE '2000-02-29'::date + g END,
               CASE WHEN g % 11 = 0 THEN '{}'::int[] WHEN g % 13 = 0 THEN NULL ELSE ARRAY[g, NULL, -g] END,
               jsonb_build_object('k', g, 's', 'v' || g), g % 2 = 0, CASE WHEN g % 2 = 0 THEN 'low'::%S.mood ELSE 'high' END,
               ('10.0.' || (g % 256) || '.1')::inet, (g::numeric * 1000000000000000000000000000.12345),
               decode(lpad(to_hex(g), 8, '0'), 'hex'), 'ab'
        FROM generate_series(1, %N) g;
        ANALYZE %S.items;
        """

    static func create(_ conn: PGConnection, _ schema: String, rows: Int) throws {
        try conn.exec(table.replacingOccurrences(of: "%S", with: schema).replacingOccurrences(of: "%N", with: "\(rows)"))
    }

    /// Each column as PostgreSQL prints it, and as DuckDB prints the Parquet value, row by row.
    static func compareWithPostgres(_ conn: PGConnection, _ schema: String, glob: String) throws -> [String] {
        let pg = try conn.query("""
            SELECT id::text, n::text, u::text, t, ts::text, d::text, array_to_json(arr)::text, j::text, b::text,
                   m::text, ip::text, big::text, encode(raw, 'hex'), ch
            FROM \(schema).items ORDER BY items.id
            """)
        let dk = try BF.duck("""
            SELECT id::varchar, n::varchar, u, t, replace(ts::varchar, ' ', ' '), d::varchar, to_json(arr)::varchar, j::varchar,
                   b::varchar, m, ip, big, hex(raw), ch
            FROM read_parquet('\(glob)') ORDER BY id
            """)
        var problems: [String] = []
        if pg.count != dk.count { problems.append("rows: postgres \(pg.count), parquet \(dk.count)") }
        let names = ["id", "n", "u", "t", "ts", "d", "arr", "j", "b", "m", "ip", "big", "raw", "ch"]
        for (a, b) in zip(pg, dk) where problems.count < 20 {
            for c in names.indices {
                var expect = a[c]
                var got = b[c]
                switch names[c] {
                case "ts": // PostgreSQL prints "+00", DuckDB "+00" too; infinity both ways
                    got = got?.replacingOccurrences(of: "+00:00", with: "+00")
                case "raw": got = got?.lowercased()
                case "j", "arr": // DuckDB prints JSON as stored; compare without spaces
                    expect = expect?.replacingOccurrences(of: " ", with: "")
                    got = got?.replacingOccurrences(of: " ", with: "")
                default: break
                }
                if expect != got { problems.append("id \(a[0] ?? "?") \(names[c]): postgres \(expect ?? "NULL"), parquet \(got ?? "NULL")") }
            }
        }
        return problems
    }

    @Test func everyRowOnceWithOneAndFourJobsAsPostgresReturnsIt() throws {
        try BF.withSchema("jobs") { conn, schema in
            try Self.create(conn, schema, rows: 30_000)
            var dirs: [String] = []
            for jobs in [1, 4] {
                let dir = try TestEnvironment.temporaryDirectory("bf-jobs\(jobs)").path
                let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).items", "--output", "file://" + dir,
                                    "--jobs", "\(jobs)", "--compression", "zstd"])
                #expect(r.status == 0, "\(r.stderr)")
                #expect(!BF.dataFiles(dir).isEmpty)
                let m = try BF.manifest(dir)
                #expect(m.state == "done" && m.rows == 30_000 && m.chunks.allSatisfy { $0.state == "done" })
                #expect(m.snapshot != nil)
                dirs.append(dir)
            }
            // Every value as PostgreSQL returns it.
            let problems = try Self.compareWithPostgres(conn, schema, glob: dirs[1] + "/*.parquet")
            #expect(problems.isEmpty, "\(problems.prefix(10))")
            // One and four jobs: the same rows.
            let diff = try BF.duck("""
                SELECT count(*) FROM ((SELECT * FROM read_parquet('\(dirs[0])/*.parquet') EXCEPT ALL SELECT * FROM read_parquet('\(dirs[1])/*.parquet'))
                UNION ALL (SELECT * FROM read_parquet('\(dirs[1])/*.parquet') EXCEPT ALL SELECT * FROM read_parquet('\(dirs[0])/*.parquet')))
                """)
            #expect(diff == [["0"]])
            // The catalog's types are recorded in the footer.
            let files = BF.dataFiles(dirs[0])
            let kv = try BF.duck("SELECT decode(value) FROM parquet_kv_metadata('\(dirs[0])/\(files[0])') WHERE decode(key) = 'lakewriter.postgres.columns'")
            #expect(kv.first?.first??.contains("\"name\":\"ip\",\"type\":\"inet\",\"cast\":\"text\"") == true, "\(kv)")
        }
    }

    @Test func partitionByWritesHivePartitionsDuckDBReads() throws {
        try BF.withSchema("part") { conn, schema in
            try conn.exec("""
                CREATE TABLE \(schema).ev (id int, at timestamptz);
                INSERT INTO \(schema).ev SELECT g, CASE WHEN g % 50 = 0 THEN NULL
                    ELSE '2026-03-01T00:00:00Z'::timestamptz + g * interval '37 seconds' END FROM generate_series(1, 5000) g;
                """)
            let dir = try TestEnvironment.temporaryDirectory("bf-part").path
            let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).ev", "--output", "file://" + dir,
                                "--partition-by", "at", "--jobs", "2"])
            #expect(r.status == 0, "\(r.stderr)")
            let files = BF.dataFiles(dir)
            #expect(files.allSatisfy { $0.wholeMatch(of: #/year=(\d{4}|__HIVE_DEFAULT_PARTITION__)/month=[^/]+/day=[^/]+/hour=[^/]+/[0-9a-f-]{36}\.parquet/#) != nil })
            // Each row sits in the partition of its own hour (nulls in the default partition).
            let wrong = try BF.duck("""
                SELECT count(*) FROM read_parquet('\(dir)/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)
                WHERE ("at" IS NULL AND year IS NOT NULL AND year <> '__HIVE_DEFAULT_PARTITION__') OR ("at" IS NOT NULL AND
                  (year::int <> year("at") OR month::int <> month("at") OR day::int <> day("at") OR hour::int <> hour("at")))
                """)
            #expect(wrong == [["0"]])
            let total = try BF.duck("SELECT count(*), count(DISTINCT id) FROM read_parquet('\(dir)/**/*.parquet')")
            #expect(total == [["5000", "5000"]])
            #expect(files.contains { $0.hasPrefix("year=2026/month=03/day=01/hour=00/") })
        }
    }

    /// Without `--row-group-rows` or a config, row groups hold 131,072 rows: a range bigger than
    /// that is one file of several row groups (memory does not follow the range), and
    /// `--row-group-rows` still decides when given.
    @Test func rowGroupsDefaultTo128KiRowsWithoutAConfig() throws {
        try BF.withSchema("rg") { conn, schema in
            try conn.exec("CREATE TABLE \(schema).t (id int); INSERT INTO \(schema).t SELECT generate_series(1, 600000);")
            for (extra, limit) in [([String](), 131_072), (["--row-group-rows", "100000"], 100_000)] {
                let dir = try TestEnvironment.temporaryDirectory("bf-rg").path
                let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).t", "--output", "file://" + dir, "--jobs", "1"]
                                   + extra)
                #expect(r.status == 0, "\(r.stderr)")
                let groups = try BF.duck("""
                    SELECT row_group_num_rows FROM (SELECT DISTINCT file_name, row_group_id, row_group_num_rows
                    FROM parquet_metadata('\(dir)/*.parquet')) ORDER BY row_group_num_rows DESC
                    """).compactMap { $0.first.flatMap { $0 }.flatMap { Int($0) } }
                // The first ranges (4 of 11 of the table each, over 200,000 rows) are cut at the limit.
                #expect(groups.reduce(0, +) == 600_000, "\(groups)")
                #expect(groups.first == limit && groups.filter { $0 == limit }.count >= 2, "\(extra): \(groups)")
            }
        }
    }

    @Test func partitionedTablesAreReadLeafByLeaf() throws {
        try BF.withSchema("leaf") { conn, schema in
            try conn.exec("""
                CREATE TABLE \(schema).p (id int, region text) PARTITION BY LIST (region);
                CREATE TABLE \(schema).p_eu PARTITION OF \(schema).p FOR VALUES IN ('eu');
                CREATE TABLE \(schema).p_us PARTITION OF \(schema).p FOR VALUES IN ('us');
                CREATE TABLE \(schema).p_other PARTITION OF \(schema).p DEFAULT;
                INSERT INTO \(schema).p SELECT g, (ARRAY['eu','us','apac'])[g % 3 + 1] FROM generate_series(1, 3000) g;
                """)
            let dir = try TestEnvironment.temporaryDirectory("bf-leaf").path
            let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).p", "--output", "file://" + dir, "--jobs", "3"])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(try BF.duck("SELECT count(*), count(DISTINCT id), count(DISTINCT region) FROM read_parquet('\(dir)/*.parquet')")
                == [["3000", "3000", "3"]])
            #expect(try BF.manifest(dir).chunks.compactMap(\.relation).contains { $0.contains("p_eu") })
        }
    }

    @Test func interruptedRunResumesWithEveryRowExactlyOnce() throws {
        try BF.withSchema("resume") { conn, schema in
            try conn.exec("""
                CREATE TABLE \(schema).big (id bigint PRIMARY KEY, pad text);
                INSERT INTO \(schema).big SELECT g, repeat(md5(g::text), 6) FROM generate_series(1, 300000) g;
                ANALYZE \(schema).big;
                """)
            let dir = try TestEnvironment.temporaryDirectory("bf-resume").path
            let p = Process()
            p.executableURL = URL(fileURLWithPath: BF.binary)
            p.arguments = ["--dsn", try BF.dsn(), "--table", "\(schema).big", "--output", "file://" + dir, "--jobs", "2",
                           "--max-file-bytes", "1MiB", "--row-group-rows", "20000"]
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            // Interrupt once at least one file is visible and before the run ends.
            let deadline = Date().addingTimeInterval(120)
            while BF.dataFiles(dir).isEmpty && p.isRunning && Date() < deadline { usleep(20_000) }
            #expect(p.isRunning, "the run ended before it could be interrupted")
            kill(p.processIdentifier, SIGINT)
            p.waitUntilExit()
            let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(p.terminationStatus == 130, "\(stderr)")
            let stopped = try BF.manifest(dir)
            #expect(stopped.state == "cancelled")
            #expect(stopped.chunks.contains { $0.state != "done" })
            // No partial file: every file on disk is one a chunk recorded, and readable.
            let recorded = Set(stopped.files.map(\.key))
            #expect(Set(BF.dataFiles(dir)) == recorded)
            #expect(!FileManager.default.enumerator(atPath: dir)!.allObjects.contains { "\($0)".contains(".tmp") })

            let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).big", "--output", "file://" + dir, "--jobs", "2",
                                "--max-file-bytes", "1MiB", "--row-group-rows", "20000", "--resume", stopped.runID])
            #expect(r.status == 0, "\(r.stderr)")
            let resumed = try BF.manifest(dir)
            #expect(resumed.state == "done" && resumed.runID == stopped.runID && resumed.rows == 300_000)
            #expect(try BF.duck("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM read_parquet('\(dir)/*.parquet')")
                == [["300000", "300000", "1", "300000"]])
            // The chunks done before the interruption were not read again.
            for c in stopped.chunks where c.state == "done" {
                #expect(resumed.chunks[c.id].files == c.files)
            }
        }
    }

    /// A LATIN1 database's text comes converted to UTF-8 (the session asks for UTF8; the server
    /// then vouches for it and the decoder does not check it again). A SQL_ASCII database's bytes
    /// come as stored, checked by the decoder: a value that is not UTF-8 rejects its row only.
    @Test func textOfLatin1AndSQLASCIIDatabasesIsUTF8OrRejected() throws {
        let admin = try BF.connect()
        let suffix = UUID().uuidString.prefix(8).lowercased()
        let latin1 = "bf_latin1_\(suffix)", ascii = "bf_ascii_\(suffix)"
        try admin.exec("CREATE DATABASE \(latin1) ENCODING 'LATIN1' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        try admin.exec("CREATE DATABASE \(ascii) ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0")
        defer { for db in [latin1, ascii] { try? admin.exec("DROP DATABASE IF EXISTS \(db) WITH (FORCE)") } }

        let l = try PGConnection(try BF.dsn() + " dbname=\(latin1)")
        try l.exec("SET client_encoding = 'UTF8'")  // alone: a query string is converted as it arrives
        try l.exec("""
            CREATE TABLE t (id int PRIMARY KEY, s text, j jsonb);
            INSERT INTO t VALUES (1, 'café', '{"k": "naïve"}'), (2, 'plain', '{}');
            """)
        #expect(try l.query("SELECT octet_length(s) FROM t WHERE id = 1")[0][0] == "4")  // stored as LATIN1
        let dirL = try TestEnvironment.temporaryDirectory("bf-latin1").path
        var r = try BF.run(["--dsn", try BF.dsn() + " dbname=\(latin1)", "--table", "public.t", "--output", "file://" + dirL,
                            "--jobs", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try BF.duck("SELECT id, s, j FROM read_parquet('\(dirL)/*.parquet') ORDER BY id")
                == [["1", "café", "{\"k\": \"naïve\"}"], ["2", "plain", "{}"]])

        let a = try PGConnection(try BF.dsn() + " dbname=\(ascii)")
        try a.exec("SET client_encoding = 'SQL_ASCII'")
        try a.exec("CREATE TABLE t (id int PRIMARY KEY, s text); "
                   + "INSERT INTO t VALUES (1, 'ok'), (2, E'bad\\xffbyte'), (3, 'fine')")
        let dirA = try TestEnvironment.temporaryDirectory("bf-ascii").path
        let rejects = dirA + "/rejects.jsonl"
        r = try BF.run(["--dsn", try BF.dsn() + " dbname=\(ascii)", "--table", "public.t", "--output", "file://" + dirA,
                        "--rejects", rejects])
        #expect(r.status == 3, "\(r.stderr)")
        #expect(try BF.duck("SELECT id, s FROM read_parquet('\(dirA)/*.parquet') ORDER BY id") == [["1", "ok"], ["3", "fine"]])
        let lines = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1 && lines[0].contains("UTF-8"), "\(lines)")
    }

    @Test func errorsAreClearNonZeroAndLeaveNoDataFiles() throws {
        let dir = try TestEnvironment.temporaryDirectory("bf-errors").path
        // Unreachable server: the password never appears.
        var r = try BF.run(["--dsn", "postgresql://u:sekrit-pw@127.0.0.1:1/db", "--table", "public.x", "--output", "file://" + dir])
        #expect(r.status == 4, "\(r.stderr)")
        #expect(!r.stderr.contains("sekrit-pw") && r.stderr.contains("127.0.0.1"))
        r = try BF.run(["--dsn", "host=127.0.0.1 port=1 password='sekrit pw' connect_timeout=2", "--table", "x", "--output", "file://" + dir])
        #expect(r.status == 4 && !r.stderr.contains("sekrit"), "\(r.stderr)")
        // Missing table.
        r = try BF.run(["--dsn", try BF.dsn(), "--table", "public.no_such_table_here", "--output", "file://" + dir])
        #expect(r.status == 4 && r.stderr.contains("no_such_table_here"), "\(r.stderr)")
        // Usage: neither --table nor --query; an unknown codec.
        r = try BF.run(["--dsn", try BF.dsn(), "--output", "file://" + dir])
        #expect(r.status == 2, "\(r.stderr)")
        r = try BF.run(["--dsn", try BF.dsn(), "--query", "select 1 as a", "--output", "file://" + dir, "--compression", "lz4"])
        #expect(r.status == 2 && r.stderr.contains("lz4"), "\(r.stderr)")
        #expect(BF.dataFiles(dir).isEmpty)
        // A query failing mid-stream (after rows flowed): exit 4, no data file visible.
        let q = try TestEnvironment.temporaryDirectory("bf-midstream").path
        r = try BF.run(["--dsn", try BF.dsn(), "--query",
                        "SELECT g, 1 / (200000 - g) AS boom FROM generate_series(1, 300000) g", "--output", "file://" + q,
                        "--row-group-rows", "1000"])
        #expect(r.status == 4 && r.stderr.contains("division by zero"), "\(r.stderr)")
        #expect(BF.dataFiles(q).isEmpty)
        #expect(try BF.manifest(q).state == "failed")
        // The store refusing: the output is below a regular file.
        let file = dir + "/not-a-dir"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        r = try BF.run(["--dsn", try BF.dsn(), "--query", "select 1 as a", "--output", "file://" + file + "/out"])
        #expect(r.status == 1, "\(r.stderr)")
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == "x")
    }

    @Test func dryRunPrintsSchemaAndPlanAndWritesNothing() throws {
        try BF.withSchema("dry") { conn, schema in
            try Self.create(conn, schema, rows: 2000)
            let dir = try TestEnvironment.temporaryDirectory("bf-dry").path + "/out"
            let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).items", "--output", "file://" + dir,
                                "--jobs", "2", "--dry-run"])
            #expect(r.status == 0, "\(r.stderr)")
            let text = r.stdoutString
            #expect(text.contains("schema:") && text.contains("ip ← inet (read as text)") && text.contains("plan: 2 jobs"))
            #expect(text.contains("~2000 rows"))
            #expect(!FileManager.default.fileExists(atPath: dir))
        }
    }
}

/// The backfill to S3 (SeaweedFS, SigV4 checked) with the config's storage settings: multipart
/// files completed only at the end, the manifest beside them, every row once.
@Suite(.enabled(if: (backfillServersAvailable && TestEnvironment.s3Endpoint != nil) || TestEnvironment.isCI), .serialized)
struct BackfillS3Tests {
    @Test func multipartFilesOnS3WithTheConfigsStorage() async throws {
        let endpoint = try #require(TestEnvironment.s3Endpoint)
        let key = try #require(TestEnvironment.s3AccessKey), secret = try #require(TestEnvironment.s3SecretKey)
        let bucket = "lakewriter-backfill-tests"
        let s3 = try makeObjectStore(url: "s3://\(bucket)", options: ObjectStoreOptions(
            endpoint: endpoint, region: "us-east-1", addressing: .pathStyle,
            credentials: S3Credentials(accessKeyID: key, secretAccessKey: secret)))
        try? await (s3 as! S3ObjectStore).createBucket()
        let prefix = "run-\(UUID().uuidString.prefix(8).lowercased())"
        let dir = try TestEnvironment.temporaryDirectory("bf-s3").path
        try """
        storage: {url: "s3://\(bucket)/unused", endpoint: "\(endpoint)", region: us-east-1, path_style: true,
                  access_key_id: "${KEY}", secret_access_key: "${SECRET}", part_size: 5MiB}
        entities: {e: {stream: s, columns: {a: int64}}}
        """.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        try BF.withSchema("s3") { conn, schema in
            try conn.exec("""
                CREATE TABLE \(schema).wide (id bigint PRIMARY KEY, pad text);
                INSERT INTO \(schema).wide SELECT g, md5(g::text) || md5((g * 7)::text) || repeat(chr(65 + g % 26), g % 200)
                FROM generate_series(1, 400000) g;
                """)
            let r = try BF.run(["--dsn", try BF.dsn(), "--table", "\(schema).wide", "--config", dir + "/c.yaml",
                                "--output", "s3://\(bucket)/\(prefix)", "--jobs", "2", "--max-file-bytes", "12MiB",
                                "--compression", "none"], environment: ["KEY": key, "SECRET": secret])
            #expect(r.status == 0, "\(r.stderr)")
            #expect(!r.stderr.contains(secret))
        }
        let objects = try await s3.listAll(prefix: prefix + "/")
        let data = objects.filter { $0.key.hasSuffix(".parquet") }
        #expect(objects.contains { $0.key.hasPrefix("\(prefix)/_backfill/") && $0.key.hasSuffix(".json") })
        #expect(data.contains { $0.size > 5 << 20 }, "no multipart-sized file: \(data.map(\.size))")
        for o in data {
            let body = try await s3.get(key: o.key)
            try Data(body.readableBytesView).write(to: URL(fileURLWithPath: dir + "/" + (o.key.split(separator: "/").last.map(String.init) ?? "x")))
        }
        #expect(try BF.duck("SELECT count(*), count(DISTINCT id) FROM read_parquet('\(dir)/*.parquet')") == [["400000", "400000"]])
        try await s3.shutdown()
    }
}
