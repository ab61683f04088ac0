import DeltaLake
import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// Delta tables end to end: redis-server → worker → a Delta table per entity (file:// and
/// SeaweedFS), read by delta-rs (`deltalake`), DuckDB's delta extension and polars `scan_delta`.
@Suite(.serialized) struct WorkerDeltaTests {
    /// Reads a table with the three readers: the row count, the sum of `n`, per tenant the row
    /// count, the extreme values of the mapped types, and the history.
    static let readers = """
        import json, sys, os, glob, duckdb, polars as pl
        from deltalake import DeltaTable
        root, version = sys.argv[1], (int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] != "-" else None)
        out = {}
        dt = DeltaTable(root, version=version)
        t = dt.to_pyarrow_table()
        out["deltalake"] = {"rows": t.num_rows, "sum": sum(t.column("n").to_pylist()),
                            "tenants": {str(k): v for k, v in __import__("collections").Counter(t.column("tenant").to_pylist()).items()},
                            "u64": str(max(t.column("u").to_pylist())), "t": max(t.column("t").to_pylist()),
                            "schema": {f.name: str(f.type) for f in t.schema}}
        out["version"] = dt.version()
        out["history"] = [h.get("operation") + " " + str(h.get("engineInfo")) for h in dt.history()]
        ext = glob.glob(os.path.dirname(duckdb.__file__) + "/../duckdb_ext/extensions/*/*/delta.duckdb_extension")[0]
        con = duckdb.connect(config={"allow_unsigned_extensions": "true"}); con.execute("SET enable_progress_bar = false")
        con.execute(f"LOAD '{ext}'")
        con.execute("SET TimeZone = 'UTC'")
        if version is None:
            r = con.execute(f"select count(*), sum(n), count(distinct tenant), max(u)::varchar, max(t) from delta_scan('{root}')").fetchall()[0]
            out["duckdb"] = {"rows": r[0], "sum": int(r[1]), "tenants": r[2], "u64": r[3], "t": r[4]}
            p = pl.scan_delta(root).select(pl.len(), pl.col("n").sum(), pl.col("tenant").n_unique()).collect().row(0)
            out["polars"] = {"rows": p[0], "sum": p[1], "tenants": p[2]}
        print(json.dumps(out))
        """

    static func read(_ python: String, _ root: String, version: Int? = nil) throws -> [String: Any] {
        let r = try ProcessRunner.run(python, ["-c", readers, root, version.map(String.init) ?? "-"])
        return try JSONSerialization.jsonObject(with: r.stdout) as! [String: Any]
    }

    static func yaml(redis: String, id: String, storage: String, interval: Int = 3) -> String {
        """
        redis: {url: "\(redis)", group: g-\(id), consumer: c-\(id), batch: 100, block: 100ms}
        storage: {\(storage), table_format: delta, delta_checkpoint_interval: \(interval)}
        flush: {max_rows: 40, idle: 300ms, max_age: 5s}
        http: {listen: "127.0.0.1:0"}
        entities:
          events:
            stream: ev-\(id)
            payload: json:data
            time: at
            partition_by: [tenant]
            columns:
              tenant: string
              n: int64 not null
              at: timestamp(ms, utc) not null
              local: timestamp(us)
              u: uint64
              t: time(us)
              id: uuid
              amount: decimal(12,2)
              tags: list<string>
        """
    }

    static let tenants = ["acme", "a/b", "sp ace", "100%", "日本"]

    static func produce(_ client: RedisStreamClient, _ stream: String, count: Int, from: Int = 0) async throws -> Int {
        var sum = 0
        for i in from..<(from + count) {
            let tenant = tenants[i % tenants.count]
            let at = 1_709_157_600_000 + Int64(i) * 60_000  // 2024-02-28T22:00Z, a minute apart
            let json = #"{"tenant": \#(JSONText.quoted(tenant)), "n": \#(i), "at": \#(at), "local": "2024-02-28T10:00:00.123456", "u": 18446744073709551615, "t": "23:59:59.999999", "id": "00000000-0000-4000-8000-000000000001", "amount": "12.50", "tags": ["x"]}"#
            _ = try await client.add(stream: stream, fields: [StreamField("data", json)])
            sum += i
        }
        return sum
    }

    @Test func workerTablesReadByDeltaRsDuckDBAndPolars() async throws {
        let env = try WorkerTests.env()
        let python = try #require(TestEnvironment.deltaPython)
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("delta").path
        let config = try ConfigLoader(environment: [:]).load(yaml: Self.yaml(redis: env.redisURL, id: id, storage: #"url: "file://\#(lake)""#))
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        var sum = try await Self.produce(client, "ev-\(id)", count: 100)
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        let first = try Self.read(python, lake + "/events")
        let firstVersion = first["version"] as! Int
        // A second run appends to the same table.
        sum += try await Self.produce(client, "ev-\(id)", count: 50, from: 100)
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        let r = try Self.read(python, lake + "/events")
        let dl = r["deltalake"] as! [String: Any]
        #expect(dl["rows"] as? Int == 150 && dl["sum"] as? Int == sum, "\(r)")
        #expect(dl["tenants"] as? [String: Int] == Dictionary(uniqueKeysWithValues: Self.tenants.map { ($0, 30) }), "\(r)")
        #expect(dl["u64"] as? String == "18446744073709551615", "\(r)")
        #expect(dl["t"] as? Int == 86_399_999_999, "\(r)")
        let schema = dl["schema"] as! [String: String]
        #expect(schema["u"] == "decimal128(20, 0)" && schema["t"] == "int64" && schema["id"] == "binary", "\(schema)")
        #expect(schema["local"] == "timestamp[us]" && schema["at"] == #"timestamp[us, tz=UTC]"#, "\(schema)")
        let duck = r["duckdb"] as! [String: Any]
        #expect(duck["rows"] as? Int == 150 && duck["sum"] as? Int == sum && duck["tenants"] as? Int == 5, "\(r)")
        #expect(duck["u64"] as? String == "18446744073709551615", "\(r)")
        let polars = r["polars"] as! [String: Any]
        #expect(polars["rows"] as? Int == 150 && polars["sum"] as? Int == sum && polars["tenants"] as? Int == 5, "\(r)")
        // Every commit is ours, in order; time travel gives the first run's rows.
        let history = r["history"] as! [String]
        #expect(history.allSatisfy { $0.hasPrefix("WRITE lakewriter/") }, "\(history)")
        #expect(history.count == (r["version"] as! Int) + 1)
        let old = try Self.read(python, lake + "/events", version: firstVersion)
        #expect((old["deltalake"] as! [String: Any])["rows"] as? Int == 100, "\(old)")
        // Checkpoints were written (every 3 commits): with the JSON commits they cover deleted in a
        // copy, the readers still see every row.
        let log = lake + "/events/_delta_log"
        let names = try FileManager.default.contentsOfDirectory(atPath: log)
        let checkpoints = names.filter { $0.hasSuffix(".checkpoint.parquet") }.sorted()
        #expect(!checkpoints.isEmpty && names.contains("_last_checkpoint"), "\(names)")
        let copy = try TestEnvironment.temporaryDirectory("delta-copy").path + "/events"
        try FileManager.default.copyItem(atPath: lake + "/events", toPath: copy)
        let newest = Int(checkpoints.last!.prefix(20))!
        for n in names where n.hasSuffix(".json") && Int(n.prefix(20))! <= newest {
            try FileManager.default.removeItem(atPath: copy + "/_delta_log/" + n)
        }
        let again = try Self.read(python, copy)
        #expect((again["deltalake"] as! [String: Any])["rows"] as? Int == 150, "\(again)")
        #expect((again["duckdb"] as! [String: Any])["rows"] as? Int == 150, "\(again)")
        #expect((again["polars"] as! [String: Any])["rows"] as? Int == 150, "\(again)")
    }

    /// Two worker replicas (one consumer group) committing to one table on SeaweedFS: every
    /// row once, versions contiguous; a time filter skips files by their statistics.
    @Test func twoReplicasCommitToOneTableOnS3AndTimeFiltersSkipFiles() async throws {
        let env = try WorkerTests.env()
        let python = try #require(TestEnvironment.deltaPython)
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let storage = #"url: "s3://\#(bucket)/lake", endpoint: "\#(env.s3Endpoint)", region: us-east-1, path_style: true, "#
            + #"access_key_id: "\#(env.accessKey)", secret_access_key: "\#(env.secretKey)""#
        let yaml = Self.yaml(redis: env.redisURL, id: id, storage: storage, interval: 4)
        let one = try ConfigLoader(environment: [:]).load(yaml: yaml)
        var two = one
        two.redis.consumer = "c2-\(id)"
        two.http.listen = "127.0.0.1:0"
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let total = 400
        let sum = try await Self.produce(client, "ev-\(id)", count: total)
        try await WorkerTests.withWorker(one) { _ in
            try await WorkerTests.withWorker(two) { _ in
                try await WorkerTests.waitUntil(timeout: .seconds(60), "every entry acknowledged") {
                    try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
                }
            }
        }
        let log = DeltaLog(store: store, root: "lake/events/")
        let (commits, checkpoints) = try await log.listVersions()
        #expect(commits == Array(0...Int64(commits.count - 1)) && commits.count >= total / 40, "\(commits)")
        #expect(!checkpoints.isEmpty)
        let (dir, _) = try await WorkerTests.download(store, prefix: "lake/events/")
        let root = dir.path + "/lake/events"
        let r = try Self.read(python, root)
        let dl = r["deltalake"] as! [String: Any]
        #expect(dl["rows"] as? Int == total && dl["sum"] as? Int == sum, "\(r)")
        #expect((r["duckdb"] as! [String: Any])["rows"] as? Int == total, "\(r)")
        #expect((r["polars"] as! [String: Any])["rows"] as? Int == total, "\(r)")

        // Files whose rows all lie before the cutoff are broken; a filter on the time column
        // still reads (their statistics skip them), a query over all rows fails.
        let cutoff = 1_709_157_600_000 + Int64(total - 40) * 60_000
        let skip = """
            import json, sys, os, glob, duckdb
            from deltalake import DeltaTable
            root, cutoff = sys.argv[1], int(sys.argv[2])
            dt = DeltaTable(root)
            broken = 0
            import pyarrow as pa, pyarrow.compute
            acts = pa.table(dt.get_add_actions(flatten=True))
            for path, mx in zip(acts.column("path").to_pylist(), acts.column("max.at").to_pylist()):
                if int(mx.timestamp() * 1000) < cutoff:
                    open(os.path.join(root, __import__("urllib.parse").parse.unquote(path)), "wb").write(b"not parquet")
                    broken += 1
            ext = glob.glob(os.path.dirname(duckdb.__file__) + "/../duckdb_ext/extensions/*/*/delta.duckdb_extension")[0]
            con = duckdb.connect(config={"allow_unsigned_extensions": "true"}); con.execute("SET enable_progress_bar = false"); con.execute(f"LOAD '{ext}'")
            # DuckDB skips by the statistics of integers and strings (not of timestamps, for any writer's table),
            # delta-rs's dataset by timestamps too.
            filtered = con.execute(f"select count(*) from delta_scan('{root}') t where t.n >= {sys.argv[3]}").fetchall()[0][0]
            import datetime
            edge = pa.scalar(datetime.datetime.fromtimestamp(cutoff / 1000, datetime.timezone.utc), pa.timestamp("ms", tz="UTC"))
            by_time = DeltaTable(root).to_pyarrow_dataset().to_table(filter=pa.compute.field("at") >= edge).num_rows
            try:
                con.execute(f"select count(*) from delta_scan('{root}')").fetchall()
                everything = "read"
            except Exception:
                everything = "failed"
            print(json.dumps({"broken": broken, "filtered": filtered, "by_time": by_time, "all": everything}), flush=True)
            os._exit(0)
            """
        let sk = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", skip, root, String(cutoff), String(total - 40)]).stdout) as! [String: Any]
        #expect((sk["broken"] as? Int ?? 0) > 0, "\(sk)")
        #expect(sk["filtered"] as? Int == 40 && sk["by_time"] as? Int == 40 && sk["all"] as? String == "failed", "\(sk)")
    }

    /// `unknown_fields: evolve`: the commit that first uses a new schema version carries it as a
    /// `metaData` action; readers see the earlier schema at earlier versions.
    @Test func anEvolvedSchemaIsReadAcrossVersions() async throws {
        let env = try WorkerTests.env()
        let python = try #require(TestEnvironment.deltaPython)
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("delta-evolve").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 100, block: 100ms}
            storage: {url: "file://\(lake)", table_format: delta}
            flush: {max_rows: 1000, idle: 300ms, max_age: 5s}
            http: {listen: "127.0.0.1:0"}
            entities:
              ev:
                stream: ev-\(id)
                payload: json:data
                unknown_fields: evolve
                columns:
                  n: int64 not null
            """)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        for i in 0..<5 { _ = try await client.add(stream: "ev-\(id)", fields: [StreamField("data", #"{"n": \#(i)}"#)]) }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("the first entries acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        for i in 5..<10 { _ = try await client.add(stream: "ev-\(id)", fields: [StreamField("data", #"{"n": \#(i), "note": "v\#(i)"}"#)]) }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        let script = """
            import json, sys
            from deltalake import DeltaTable
            root = sys.argv[1]
            out = {}
            for v in [0, None]:
                dt = DeltaTable(root, version=v)
                t = dt.to_pyarrow_table()
                out[str(v)] = {"columns": [f.name for f in dt.schema().fields], "rows": t.num_rows,
                               "notes": sorted([x for x in t.column("note").to_pylist()], key=str) if "note" in t.column_names else None}
            print(json.dumps(out), flush=True)
            # deltalake 1.6 aborts at exit after two tables in one process (its runtime's teardown).
            import os; os._exit(0)
            """
        let out = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", script, lake + "/ev"]).stdout) as! [String: Any]
        let v0 = out["0"] as! [String: Any], now = out["None"] as! [String: Any]
        #expect(v0["columns"] as? [String] == ["n", "_stream_id"] && v0["rows"] as? Int == 5, "\(out)")
        #expect(now["columns"] as? [String] == ["n", "note", "_stream_id"] && now["rows"] as? Int == 10, "\(out)")
        let notes = now["notes"] as? [Any] ?? []
        #expect(notes.compactMap { $0 as? String } == (5..<10).map { "v\($0)" } && notes.count == 10, "\(out)")
    }
}
