import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Synchronization
import Testing
import TestSupport

/// Field-value partitions and time granularity, end to end: redis-server → worker → SeaweedFS
/// (keys with escapes, spaces and unicode signed by SigV4) or the local lake, read back with
/// DuckDB and polars Hive partitioning.
@Suite(.serialized) struct WorkerPartitionTests {
    /// Tenant values as sent (nil: the field is absent) and as readers give them back.
    static let tenants: [(sent: String?, read: String?)] = [
        ("acme", "acme"), ("a/b", "a/b"), ("x=y", "x=y"), ("sp ace", "sp ace"), ("日本-ü", "日本-ü"),
        ("100%", "100%"), (nil, nil), ("", nil),
    ]

    static func python(_ env: WorkerTests.Env, _ script: String, _ args: [String]) throws -> Any {
        let r = try ProcessRunner.run(env.python, ["-c", script] + args)
        do { return try JSONSerialization.jsonObject(with: r.stdout) } catch {
            Issue.record("not JSON: \(String(decoding: r.stdout.prefix(500), as: UTF8.self))")
            throw error
        }
    }

    /// Per tenant (null as "null"), the rows DuckDB and polars read with Hive partitioning, and
    /// the rows a filter on `probe` reads.
    static let readBack = """
        import duckdb, polars as pl, json, sys
        duckdb.sql("set enable_progress_bar = false")
        glob, probe = sys.argv[1], sys.argv[2]
        d = duckdb.sql(f"select coalesce(tenant, 'null'), count(*) from read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false) group by 1").fetchall()
        p = pl.scan_parquet(glob, hive_partitioning=True).group_by("tenant").len().collect()
        dp = duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true, hive_types_autocast=false) where tenant = $t", params={"t": probe}).fetchall()[0][0]
        pp = pl.scan_parquet(glob, hive_partitioning=True).filter(pl.col("tenant") == probe).collect().height
        print(json.dumps({"duckdb": {k: v for k, v in d}, "polars": {("null" if k is None else k): v for k, v in p.iter_rows()},
                          "duckdb_probe": dp, "polars_probe": pp}))
        """

    @Test func tenantPartitionsReadBackWithTheirValuesAndFiltersPruneFiles() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let config = try ConfigLoader(environment: [:]).load(yaml: WorkerTests.header(env, id: id, bucket: bucket,
            flush: "idle: 300ms, max_age: 5s") + """

        entities:
          events:
            stream: ev-\(id)
            payload: json:data
            time: at
            partition_by: [tenant]
            time_partition: day
            columns:
              tenant: string
              n: int64 not null
              at: timestamp(ms, utc) not null
          slim:
            stream: slim-\(id)
            payload: json:data
            time: at
            partition_by: [tenant, region]
            partition_columns_in_file: false
            time_partition: month
            columns:
              tenant: string
              region: int32
              n: int64 not null
              at: timestamp(ms, utc) not null
        """)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        // 2024-02-28T22:00Z: rows span two days and one month.
        let base: Int64 = 1_709_157_600_000
        var expected: [String: Int] = [:]
        var n = 0
        for round in 0..<5 {
            for t in Self.tenants {
                let tenant = t.sent.map { #""tenant": \#(JSONText.quoted($0)), "# } ?? ""
                let at = base + Int64(round) * 3_600_000  // 22:00 … 02:00
                for stream in ["ev-\(id)", "slim-\(id)"] {
                    _ = try await client.add(stream: stream, fields: [StreamField("data", #"{\#(tenant)"region": 3, "n": \#(n), "at": \#(at)}"#)])
                }
                expected[t.read ?? "null", default: 0] += 1
                n += 1
            }
        }
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)", "slim-\(id)"], group: "g-\(id)")
            }
        }
        #expect(try await client.command(["XLEN", "ev-\(id):dlq"]).int == 0)
        let (dir, keys) = try await WorkerTests.download(store, prefix: "lake/")
        // Keys: the tenant segment (escaped as Hive does), then the time segments of the granularity.
        let uuid = #"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.parquet"#
        let segments = ["acme", "a%2Fb", "x%3Dy", "sp ace", "日本-ü", "100%25", "__HIVE_DEFAULT_PARTITION__"]
        var seen = Set<String>()
        for k in keys {
            let parts = k.split(separator: "/").map(String.init)
            if parts[1] == "events" {
                #expect(parts.count == 7, "\(k)")
                #expect(parts[2].hasPrefix("tenant=") && segments.contains(String(parts[2].dropFirst(7))), "\(k)")
                #expect(["year=2024/month=02/day=28", "year=2024/month=02/day=29"].contains(parts[3...5].joined(separator: "/")), "\(k)")
                #expect(parts[6].range(of: "^" + uuid + "$", options: .regularExpression) != nil, "\(k)")
                seen.insert(String(parts[2].dropFirst(7)))
            } else {
                #expect(parts[1] == "slim" && parts.count == 7, "\(k)")
                #expect(parts[3] == "region=3" && parts[4...5].joined(separator: "/") == "year=2024/month=02", "\(k)")
            }
        }
        #expect(seen == Set(segments))
        for entity in ["events", "slim"] {
            let glob = "\(dir.path)/lake/\(entity)/**/*.parquet"
            let r = try Self.python(env, Self.readBack, [glob, "a/b"]) as! [String: Any]
            #expect(r["duckdb"] as? [String: Int] == expected, "\(entity): \(r)")
            #expect(r["polars"] as? [String: Int] == expected, "\(entity): \(r)")
            #expect(r["duckdb_probe"] as? Int == 5 && r["polars_probe"] as? Int == 5, "\(entity): \(r)")
        }
        // The slim files hold no partition columns; the events files keep theirs.
        let schemas = try Self.python(env, """
            import pyarrow.parquet as pq, json, sys, glob
            print(json.dumps({e: sorted({tuple(pq.read_schema(f).names) for f in glob.glob(f"{sys.argv[1]}/lake/{e}/**/*.parquet", recursive=True)})
                              for e in ["events", "slim"]}))
            """, [dir.path]) as! [String: [[String]]]
        #expect(schemas["events"] == [["tenant", "n", "at", "_stream_id"]], "\(schemas)")
        #expect(schemas["slim"] == [["n", "at", "_stream_id"]], "\(schemas)")

        // Pruning: with every acme file broken, a filter on another tenant still reads (only its
        // files are opened) while a query over all tenants fails.
        for k in keys where k.contains("/tenant=acme/") {
            try Data("not parquet".utf8).write(to: dir.appendingPathComponent(k))
        }
        let glob = "\(dir.path)/lake/events/**/*.parquet"
        let pruned = try Self.python(env, """
            import duckdb, polars as pl, json, sys
            duckdb.sql("set enable_progress_bar = false")
            glob = sys.argv[1]
            out = {"filtered": duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true) where tenant = 'x=y'").fetchall()[0][0],
                   "polars": pl.scan_parquet(glob, hive_partitioning=True).filter(pl.col("tenant") == "x=y").collect().height}
            try:
                duckdb.sql(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchall()
                out["all"] = "read"
            except Exception as e:
                out["all"] = "failed"
            print(json.dumps(out))
            """, [glob]) as! [String: Any]
        #expect(pruned["filtered"] as? Int == 5 && pruned["polars"] as? Int == 5, "\(pruned)")
        #expect(pruned["all"] as? String == "failed", "\(pruned)")
    }

    /// 20,000 tenants through one entity: at most `max_open_partitions` buffers stay open, the
    /// least recently appended are flushed (reason `partitions`), memory stays under the limit,
    /// and every row is written once.
    @Test func twentyThousandTenantsStayUnderTheMemoryLimit() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("tenants").path
        let limit = 4 << 20
        let config = try ConfigLoader(environment: [:]).load(yaml: """
        redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 500, block: 100ms}
        storage: {url: "file://\(lake)"}
        parquet: {compression: none, dictionary: false}
        flush: {max_rows: 100000, idle: 2s, max_age: 30s, memory_limit: \(limit), max_open_partitions: 500, shutdown_grace: 60s}
        http: {listen: "127.0.0.1:0"}
        entities:
          t:
            stream: t-\(id)
            partition_by: [tenant]
            time_partition: none
            columns:
              tenant: string not null
              n: int64 not null
        """)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let total = 20_000
        for chunk in 0..<(total / 1000) {
            for i in 0..<1000 {
                let k = chunk * 1000 + i
                _ = try await client.command(["XADD", "t-\(id)", "*", "tenant", "tenant-\(k)", "n", "\(k)"])
            }
        }
        let peak = Mutex(0)
        let partitionFlushes = Mutex(0)
        try await WorkerTests.withWorker(config) { worker in
            try await WorkerTests.waitUntil(timeout: .seconds(240), "all acknowledged") {
                let text = String(decoding: worker.metrics.render(), as: UTF8.self)
                peak.withLock { $0 = max($0, WorkerTests.gauge(text, "lakewriter_memory_peak_bytes")) }
                partitionFlushes.withLock {
                    $0 = WorkerTests.gauge(text, #"lakewriter_files_written_total{entity="t",reason="partitions"}"#)
                }
                return try await WorkerTests.allAcknowledged(client, streams: ["t-\(id)"], group: "g-\(id)")
            }
        }
        let p = peak.withLock { $0 }
        #expect(p > 0 && p <= limit, "peak \(p)")
        // 20,000 tenants, 500 open at a time: all but the last 500 were flushed for opening others.
        #expect(partitionFlushes.withLock { $0 } >= total - 500 - 500, "\(partitionFlushes.withLock { $0 })")
        let r = try Self.python(env, """
            import duckdb, json, sys
            duckdb.sql("set enable_progress_bar = false")
            print(json.dumps(duckdb.sql(f"select count(*), count(distinct _stream_id), count(distinct tenant), sum(cast(tenant = 'tenant-' || n as int)) from read_parquet('{sys.argv[1]}/t/*/*.parquet', hive_partitioning=true)").fetchall()[0]))
            """, [lake]) as! [Int]
        #expect(r == [total, total, total, total], "\(r)")
    }
}
