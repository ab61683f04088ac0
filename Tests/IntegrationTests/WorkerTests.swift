import LakeModel
import LakeOutput
import LakeWorker
import Foundation
import Logging
import NIOCore
import ObjectStore
import RedisStreams
import ServiceLifecycle
import Synchronization
import Testing
import TestSupport

/// The worker end to end: redis-server → lakewriter → SeaweedFS (SigV4 checked), files read
/// back with DuckDB.
@Suite(.serialized) struct WorkerTests {
    struct Env {
        var redisURL: String
        var s3Endpoint: String
        var accessKey: String
        var secretKey: String
        var python: String
    }

    static func env() throws -> Env {
        guard let r = TestEnvironment.redisURL, let e = TestEnvironment.s3Endpoint, let a = TestEnvironment.s3AccessKey,
              let s = TestEnvironment.s3SecretKey, let p = TestEnvironment.python
        else { throw MissingServers() }
        return Env(redisURL: r, s3Endpoint: e, accessKey: a, secretKey: s, python: p)
    }

    struct MissingServers: Error, CustomStringConvertible {
        var description: String { "run through scripts/test: redis-server and SeaweedFS are needed" }
    }

    static func unique() -> String { String(UUID().uuidString.prefix(8)).lowercased() }

    /// A config with three entities: flat fields, and two routed from a shared stream.
    static func config(_ env: Env, id: String, bucket: String, endpoint: String? = nil, extraFlush: String = "") throws -> LakewriterConfig {
        let yaml = """
        redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 500, block: 200ms, claim_idle: 5m, route_field: entity}
        storage: {url: "s3://\(bucket)/lake", endpoint: "\(endpoint ?? env.s3Endpoint)", region: us-east-1, path_style: true,
                  access_key_id: "\(env.accessKey)", secret_access_key: "\(env.secretKey)"}
        parquet: {compression: snappy}
        flush: {max_rows: 100000, max_bytes: 64MiB, max_age: 60s, idle: 500ms, memory_limit: 64MiB, shutdown_grace: 20s\(extraFlush)}
        http: {listen: "127.0.0.1:0"}
        entities:
          clicks:
            stream: clicks-\(id)
            payload: fields
            time: ts
            columns:
              ts: timestamp(ms, utc) not null
              user_id: int64 not null
              path: string
          orders:
            stream: shop-\(id)
            route: order
            payload: json:data
            time: created_at
            columns:
              order_id: uuid not null
              amount: decimal(12,2) not null
              created_at: timestamp(us, utc) not null
              lines: list<struct<sku:string, qty:int32>>
          payments:
            stream: shop-\(id)
            route: payment
            payload: json:data
            columns:
              payment_id: int64 not null
              method: string
        """
        return try ConfigLoader(environment: [:]).load(yaml: yaml)
    }

    /// The redis, storage, flush and http lines of a worker config (one consumer group per test id).
    static func header(_ env: Env, id: String, bucket: String, redisURL: String? = nil, endpoint: String? = nil,
                       flush: String) -> String {
        """
        redis: {url: "\(redisURL ?? env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 500, block: 200ms}
        storage: {url: "s3://\(bucket)/lake", endpoint: "\(endpoint ?? env.s3Endpoint)", region: us-east-1, path_style: true,
                  access_key_id: "\(env.accessKey)", secret_access_key: "\(env.secretKey)"}
        flush: {\(flush)}
        http: {listen: "127.0.0.1:0"}
        """
    }

    static func makeStore(_ env: Env, bucket: String) async throws -> any ObjectStore {
        let store = try makeObjectStore(url: "s3://\(bucket)", options: ObjectStoreOptions(
            endpoint: env.s3Endpoint, region: "us-east-1", addressing: .pathStyle,
            credentials: S3Credentials(accessKeyID: env.accessKey, secretAccessKey: env.secretKey)))
        try await (store as! S3ObjectStore).createBucket()
        return store
    }

    /// The integer `column` of every Parquet file under `dir`, sorted, as pyarrow's dataset reads it.
    static func sortedInts(column: String, in dir: String, python: String) throws -> [Int] {
        let r = try ProcessRunner.run(python, ["-c", """
            import json, pyarrow.dataset as ds, sys
            t = ds.dataset(sys.argv[1], format="parquet").to_table(columns=[sys.argv[2]])
            print(json.dumps(sorted(t.column(sys.argv[2]).to_pylist())))
            """, dir, column])
        return try JSONDecoder().decode([Int].self, from: r.stdout)
    }

    /// Downloads every object under `prefix` into a temp dir, keeping the keys as paths.
    static func download(_ store: any ObjectStore, prefix: String) async throws -> (URL, [String]) {
        let dir = try TestEnvironment.temporaryDirectory("lake")
        var keys: [String] = []
        var token: String?
        repeat {
            let page = try await store.list(prefix: prefix, continuationToken: token, maxKeys: 1000)
            keys += page.objects.map(\.key)
            token = page.nextContinuationToken
        } while token != nil
        for k in keys {
            let body = try await store.get(key: k)
            let url = dir.appendingPathComponent(k)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(body.readableBytesView).write(to: url)
        }
        return (dir, keys.sorted())
    }

    /// Runs DuckDB over the downloaded lake and returns its JSON answer.
    static func duckdb(_ env: Env, _ sql: String) async throws -> Any {
        let script = """
        import duckdb, json, sys
        duckdb.sql("set enable_progress_bar = false")
        rows = duckdb.sql(sys.argv[1]).fetchall()
        print(json.dumps([[str(v) if not isinstance(v, (int, float, str, type(None))) else v for v in r] for r in rows]))
        """
        let r = try await ProcessRunner.run(env.python, ["-c", script, sql])
        return try JSONSerialization.jsonObject(with: r.stdout)
    }

    /// Runs the worker in a service group until `body` returns, then shuts it down gracefully.
    static func withWorker(_ config: LakewriterConfig, store: (any ObjectStore)? = nil,
                           _ body: (LakewriterWorker) async throws -> Void) async throws {
        var logger = Logger(label: "worker-test")
        logger.logLevel = ProcessInfo.processInfo.environment["LAKEWRITER_TEST_LOG"] == "debug" ? .debug : .warning
        let worker = try LakewriterWorker(config: config, logger: logger, store: store)
        let group = ServiceGroup(configuration: .init(services: [.init(service: worker)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await body(worker)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func waitUntil(timeout: Duration = .seconds(30), _ what: String, _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try await check() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("timed out waiting for \(what)")
        throw CancellationError()
    }

    static func allAcknowledged(_ client: RedisStreamClient, streams: [String], group: String) async throws -> Bool {
        for s in streams {
            // The worker creates the group when it starts: until then, nothing is acknowledged.
            guard let p = try? await client.pending(stream: s, group: group) else { return false }
            guard p.count == 0 else { return false }
            let g = try await client.groups(stream: s).first { $0.name == group }
            guard let g, g.lag == 0 || g.lag == nil else { return false }
        }
        return true
    }

    @Test func severalEntitiesLandOnceEachInHivePartitionsAndBadEntriesAreDeadLettered() async throws {
        let env = try Self.env()
        let id = Self.unique(), bucket = "lakewriter-worker-tests/\(id)"  // one bucket, a prefix per test (SeaweedFS volumes per bucket)
        let store = try await Self.makeStore(env, bucket: bucket)
        let config = try Self.config(env, id: id, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }

        // 3 hours of clicks, orders and payments, plus bad entries of every kind.
        let base: Int64 = 1_795_280_400_000  // 2026-11-21T16:20:00Z
        var clickIDs: [String] = [], orderIDs: [String] = [], paymentIDs: [String] = []
        for i in 0..<600 {
            let ts = base + Int64(i) * 18_000  // spans 3 hours
            let sid = try await client.add(stream: "clicks-\(id)", fields: [
                StreamField("ts", "\(ts)"), StreamField("user_id", "\(i % 17)"), StreamField("path", "/p/\(i % 5)"),
            ])
            clickIDs.append(sid.description)
        }
        for i in 0..<300 {
            let created = Date(timeIntervalSince1970: Double(base) / 1000 + Double(i) * 30)
            let iso = ISO8601DateFormatter().string(from: created)
            let data = #"{"order_id":"\#(UUID().uuidString)","amount":"\#(i).25","created_at":"\#(iso)","lines":[{"sku":"A","qty":\#(i % 3)}]}"#
            let sid = try await client.add(stream: "shop-\(id)", fields: [StreamField("entity", "order"), StreamField("data", data)])
            orderIDs.append(sid.description)
            if i % 2 == 0 {
                let p = try await client.add(stream: "shop-\(id)", fields: [
                    StreamField("entity", "payment"), StreamField("data", #"{"payment_id":\#(i),"method":"card"}"#),
                ])
                paymentIDs.append(p.description)
            }
        }
        var badIDs: [String] = []
        badIDs.append(try await client.add(stream: "shop-\(id)", fields: [
            StreamField("entity", "order"), StreamField("data", #"{"order_id":"nope","amount":"1","created_at":"2026-11-21T16:00:00Z"}"#),
        ]).description)
        badIDs.append(try await client.add(stream: "shop-\(id)", fields: [
            StreamField("entity", "order"), StreamField("data", #"{"order_id":"\#(UUID().uuidString)","amount":"1.001","created_at":"2026-11-21T16:00:00Z"}"#),
        ]).description)
        badIDs.append(try await client.add(stream: "shop-\(id)", fields: [StreamField("entity", "refund"), StreamField("data", "{}")]).description)
        badIDs.append(try await client.add(stream: "shop-\(id)", fields: [StreamField("data", "{}")]).description)
        badIDs.append(try await client.add(stream: "clicks-\(id)", fields: [StreamField("ts", "yesterday"), StreamField("user_id", "1")]).description)

        try await Self.withWorker(config) { _ in
            try await Self.waitUntil("every entry acknowledged") {
                try await Self.allAcknowledged(client, streams: ["clicks-\(id)", "shop-\(id)"], group: "g-\(id)")
            }
        }

        let (dir, keys) = try await Self.download(store, prefix: "lake/")
        // Hive layout: lake/{entity}/year=YYYY/month=MM/day=DD/hour=HH/{uuidv7}.parquet
        let pattern = #/^lake/(clicks|orders|payments)/year=\d{4}/month=\d{2}/day=\d{2}/hour=\d{2}/[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.parquet$/#
        for k in keys { #expect(k.wholeMatch(of: pattern) != nil, "\(k)") }
        #expect(keys.filter { $0.hasPrefix("lake/clicks/") }.count >= 3)  // three hours

        // Every event in exactly one file.
        for (entity, expected) in [("clicks", clickIDs), ("orders", orderIDs), ("payments", paymentIDs)] {
            let rows = try await Self.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/\(entity)/**/*.parquet') order by 1") as! [[Any]]
            let got = rows.map { $0[0] as! String }
            #expect(got.count == expected.count, "\(entity)")
            #expect(Set(got) == Set(expected), "\(entity)")
        }
        // Each file holds one hour, and it is the hour of its rows' time column.
        let mismatches = try await Self.duckdb(env, """
            select count(*) from read_parquet('\(dir.path)/lake/clicks/**/*.parquet', hive_partitioning=true)
            where hour(ts at time zone 'UTC') <> hour::int or day(ts at time zone 'UTC') <> day::int
            """) as! [[Any]]
        #expect(mismatches[0][0] as? Int == 0)
        // Orders are partitioned by created_at (inside the JSON payload), spanning 16:20–18:50 UTC.
        let orderHours = try await Self.duckdb(env, """
            select count(*) filter (where hour(created_at at time zone 'UTC') <> hour::int), count(distinct hour)
            from read_parquet('\(dir.path)/lake/orders/**/*.parquet', hive_partitioning=true)
            """) as! [[Any]]
        #expect(orderHours[0][0] as? Int == 0)
        #expect(orderHours[0][1] as? Int == 3)
        let orderSum = try await Self.duckdb(env, "select sum(amount)::varchar, count(distinct order_id) from read_parquet('\(dir.path)/lake/orders/**/*.parquet')") as! [[Any]]
        #expect(orderSum[0][0] as? String == "44925.00")  // Σ (i + 0.25), i < 300
        #expect(orderSum[0][1] as? Int == 300)

        // Bad entries are in the dead-letter streams with reasons, and acknowledged.
        let dlqShop = try await client.command(["XRANGE", "shop-\(id):dlq", "-", "+"])
        let dlqClicks = try await client.command(["XRANGE", "clicks-\(id):dlq", "-", "+"])
        let dead = (dlqShop.array ?? []) + (dlqClicks.array ?? [])
        #expect(dead.count == 5)
        var sourceIDs: [String] = []
        for e in dead {
            let fields = e.array?[1].array?.compactMap { $0.text } ?? []
            var map: [String: String] = [:]
            for i in stride(from: 0, to: fields.count - 1, by: 2) { map[fields[i]] = fields[i + 1] }  // last wins
            #expect(!(map["error"] ?? "").isEmpty)
            #expect(["orders", "clicks", ""].contains(map["entity"] ?? "?"))  // the entity, not the route value
            sourceIDs.append(map["source_id"] ?? "")
        }
        #expect(Set(sourceIDs) == Set(badIDs))
    }

    @Test func idleBufferIsFlushedWithoutNewTraffic() async throws {
        let env = try Self.env()
        let id = Self.unique(), bucket = "lakewriter-worker-tests/\(id)"  // one bucket, a prefix per test (SeaweedFS volumes per bucket)
        let store = try await Self.makeStore(env, bucket: bucket)
        let config = try Self.config(env, id: id, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        try await Self.withWorker(config) { _ in
            try await Task.sleep(for: .milliseconds(300))
            for i in 0..<10 {
                _ = try await client.add(stream: "clicks-\(id)", fields: [StreamField("ts", "\(1_795_280_400_000 + i)"), StreamField("user_id", "\(i)")])
            }
            // No more traffic: the 500 ms idle flush must fire on its own (max_age is 60 s).
            try await Self.waitUntil(timeout: .seconds(10), "the idle flush") {
                try await !store.list(prefix: "lake/clicks/", continuationToken: nil, maxKeys: 10).objects.isEmpty
            }
        }
    }

    @Test func memoryLimitHoldsUnderAFastProducer() async throws {
        let env = try Self.env()
        let id = Self.unique(), bucket = "lakewriter-worker-tests/\(id)"  // one bucket, a prefix per test (SeaweedFS volumes per bucket)
        let store = try await Self.makeStore(env, bucket: bucket)
        // 256 KiB of buffered data at most (allocated column memory), rows and age limits out of reach.
        let config = try Self.config(env, id: id, bucket: bucket, extraFlush: "")
        var c = config
        c.flush.memoryLimit = 256 << 10
        c.flush.idle = .seconds(2)  // only the tail of the stream waits for it
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let total = 20_000
        let padding = String(repeating: "x", count: 100)
        for chunk in 0..<(total / 1000) {
            var cmds: [[String]] = []
            for i in 0..<1000 {
                let n = chunk * 1000 + i
                cmds.append(["XADD", "clicks-\(id)", "*", "ts", "\(1_795_280_400_000 + n)", "user_id", "\(n)", "path", padding])
            }
            for cmd in cmds { _ = try await client.command(cmd) }
        }
        let peak = Mutex(0)
        try await Self.withWorker(c) { worker in
            try await Self.waitUntil(timeout: .seconds(60), "all acknowledged") {
                let text = String(decoding: worker.metrics.render(), as: UTF8.self)
                peak.withLock { $0 = max($0, Self.gauge(text, "lakewriter_memory_peak_bytes")) }
                return try await Self.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
            }
        }
        // The limit plus at most one read batch (500 entries of ~150 bytes) of overshoot, counted
        // as allocated column capacity, which grows by doubling: up to twice the batch's bytes
        // (CI once saw 296 bytes past a single batch's 100 KB).
        let p = peak.withLock { $0 }
        #expect(p > 0)
        #expect(p <= (256 << 10) + 2 * 500 * 200, "peak \(p)")
        let (dir, keys) = try await Self.download(store, prefix: "lake/clicks/")
        #expect(keys.count > 3)  // memory flushes made several files
        let count = try await Self.duckdb(env, "select count(*), count(distinct _stream_id) from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        #expect(count[0][0] as? Int == total && count[0][1] as? Int == total)
    }

    static func gauge(_ text: String, _ name: String) -> Int {
        for line in text.split(separator: "\n") where line.hasPrefix(name + " ") || line.hasPrefix(name + "{") {
            return Int(Double(line.split(separator: " ").last ?? "0") ?? 0)
        }
        return 0
    }

    @Test func storageOutageLosesNothing() async throws {
        let env = try Self.env()
        let id = Self.unique(), bucket = "lakewriter-worker-tests/\(id)"  // one bucket, a prefix per test (SeaweedFS volumes per bucket)
        let store = try await Self.makeStore(env, bucket: bucket)
        let s3Port = Int(env.s3Endpoint.split(separator: ":").last!)!
        let proxy = try TCPProxy(targetPort: s3Port)
        defer { proxy.stop() }
        let config = try Self.config(env, id: id, bucket: bucket, endpoint: "http://127.0.0.1:\(proxy.port)")
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        proxy.setDown(true)
        var ids: Set<String> = []
        try await Self.withWorker(config) { _ in
            for i in 0..<200 {
                ids.insert(try await client.add(stream: "clicks-\(id)", fields: [
                    StreamField("ts", "\(1_795_280_400_000 + i)"), StreamField("user_id", "\(i)"),
                ]).description)
            }
            // Storage is down well past the idle flush: nothing may be acknowledged.
            try await Task.sleep(for: .seconds(3))
            let pending = try await client.pending(stream: "clicks-\(id)", group: "g-\(id)")
            #expect(pending.count == 200)
            proxy.setDown(false)
            try await Self.waitUntil(timeout: .seconds(60), "all acknowledged after storage returned") {
                try await Self.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
            }
        }
        let (dir, _) = try await Self.download(store, prefix: "lake/clicks/")
        let rows = try await Self.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        #expect(Set(rows.map { $0[0] as! String }) == ids)
        #expect(rows.count == ids.count)
    }
}

/// `lakewriter run` as a process: SIGTERM drains (flush, upload, acknowledge, exit 0); a second
/// signal exits at once without acknowledging.
@Suite(.serialized) struct WorkerProcessTests {
    static var binary: String {
        TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter").path
    }

    func start(_ yaml: String, arguments: [String] = []) throws -> (Process, URL) {
        let dir = try TestEnvironment.temporaryDirectory("run")
        let cfg = dir.appendingPathComponent("config.yaml")
        try yaml.write(to: cfg, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.binary)
        p.arguments = ["run", "--config", cfg.path] + arguments
        let log = dir.appendingPathComponent("log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        p.standardOutput = handle
        p.standardError = handle
        try p.run()
        return (p, log)
    }

    func yaml(_ env: WorkerTests.Env, id: String, bucket: String, endpoint: String) -> String {
        """
        \(WorkerTests.header(env, id: id, bucket: bucket, endpoint: endpoint,
                             flush: "max_rows: 100000, max_age: 10m, idle: 10m, shutdown_grace: 20s"))
        entities:
          clicks:
            stream: clicks-\(id)
            payload: fields
            columns:
              user_id: int64 not null
        """
    }

    func produce(_ client: RedisStreamClient, _ stream: String, _ n: Int) async throws -> Set<String> {
        var ids: Set<String> = []
        for i in 0..<n {
            ids.insert(try await client.add(stream: stream, fields: [StreamField("user_id", "\(i)")]).description)
        }
        return ids
    }

    func waitForExit(_ p: Process, timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        return p.isRunning ? nil : p.terminationStatus
    }

    @Test func sigtermDrainsEverythingAndExitsZero() async throws {
        let env = try WorkerTests.env()
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build lakewriter first (swift build)")
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let (p, log) = try start(yaml(env, id: id, bucket: bucket, endpoint: env.s3Endpoint))
        defer { if p.isRunning { p.terminate() } }
        let ids = try await produce(client, "clicks-\(id)", 300)
        // Everything read, nothing flushed yet (age and idle are 10 minutes).
        try await WorkerTests.waitUntil(timeout: .seconds(20), "all entries delivered") {
            let p = try? await client.pending(stream: "clicks-\(id)", group: "g-\(id)")
            return p?.count == 300
        }
        #expect(try await store.list(prefix: "lake/", continuationToken: nil, maxKeys: 10).objects.isEmpty)
        kill(p.processIdentifier, SIGTERM)
        let status = try await waitForExit(p, timeout: .seconds(25))
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(status == 0, "\(output)")
        #expect(try await client.pending(stream: "clicks-\(id)", group: "g-\(id)").count == 0)
        let (dir, _) = try await WorkerTests.download(store, prefix: "lake/clicks/")
        let rows = try await WorkerTests.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        #expect(Set(rows.map { $0[0] as! String }) == ids && rows.count == ids.count)
        #expect(output.contains("file written"))
        #expect(!output.contains(env.secretKey))
        // Every line the worker logged is strict logfmt; numbers read back as numbers.
        let lines = output.split(separator: "\n").map(String.init)
        #expect(!lines.isEmpty)
        for line in lines {
            #expect(throws: Never.self, "\(line)") { try Logfmt.parse(line) }
        }
        let written = try lines.map(Logfmt.fields).filter { $0["msg"] == "file written" }
        let rowCounts: [Int] = written.compactMap { (f: [String: String]) -> Int? in f["rows"].flatMap { Int($0) } }
        #expect(rowCounts.count == written.count && rowCounts.reduce(0, +) == 300)
        #expect(written.allSatisfy { Int($0["bytes"] ?? "x") != nil && $0["entity"] == "clicks" && $0["level"] == "info" })
    }

    /// Past `flush.shutdown_grace` the drain is cut short: exit 130 (as README and `--help` say),
    /// nothing unwritten acknowledged, and no Swift error dump in the log (JSON lines here).
    @Test func shutdownGraceExceededExits130() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        _ = try await WorkerTests.makeStore(env, bucket: bucket)
        let s3Port = Int(env.s3Endpoint.split(separator: ":").last!)!
        let proxy = try TCPProxy(targetPort: s3Port)
        defer { proxy.stop() }
        proxy.setDown(true)  // the drain cannot finish: uploads keep failing
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        let config = yaml(env, id: id, bucket: bucket, endpoint: "http://127.0.0.1:\(proxy.port)")
            .replacingOccurrences(of: "shutdown_grace: 20s", with: "shutdown_grace: 2s") + "\nlog: {format: json}\n"
        let (p, log) = try start(config)
        defer { if p.isRunning { p.terminate() } }
        _ = try await produce(client, "clicks-\(id)", 40)
        try await WorkerTests.waitUntil(timeout: .seconds(20), "all entries delivered") {
            let p = try? await client.pending(stream: "clicks-\(id)", group: "g-\(id)")
            return p?.count == 40
        }
        let signalled = ContinuousClock.now
        kill(p.processIdentifier, SIGTERM)
        let status = try await waitForExit(p, timeout: .seconds(30))
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        #expect(status == WorkerMain.interruptedExitCode, "\(output)")
        #expect(signalled.duration(to: .now) >= .seconds(2))  // it waited for the grace
        #expect(try await client.pending(stream: "clicks-\(id)", group: "g-\(id)").count == 40)
        #expect(!output.contains("CancellationError"), "\(output)")
        var messages: [String] = []
        for line in output.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object != nil, "\(line)")
            if let m = object?["msg"] as? String { messages.append(m) }
            if object?["msg"] as? String == "http listening" { #expect(object?["http.port"] is Int, "\(line)") }
        }
        #expect(messages.contains { $0.hasPrefix("shutdown grace exceeded: exiting with 130") }, "\(messages)")
        #expect(!messages.contains("lakewriter stopped on an error"), "\(messages)")
    }

    @Test func secondSignalExitsAtOnceWithoutAcknowledging() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        _ = try await WorkerTests.makeStore(env, bucket: bucket)
        let s3Port = Int(env.s3Endpoint.split(separator: ":").last!)!
        let proxy = try TCPProxy(targetPort: s3Port)
        defer { proxy.stop() }
        proxy.setDown(true)  // the drain cannot finish: uploads keep failing
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        // --log-level overrides log.level: only errors are logged.
        let (p, log) = try start(yaml(env, id: id, bucket: bucket, endpoint: "http://127.0.0.1:\(proxy.port)"),
                                 arguments: ["--log-level", "error"])
        defer { if p.isRunning { p.terminate() } }
        _ = try await produce(client, "clicks-\(id)", 50)
        try await WorkerTests.waitUntil(timeout: .seconds(20), "all entries delivered") {
            let p = try? await client.pending(stream: "clicks-\(id)", group: "g-\(id)")
            return p?.count == 50
        }
        kill(p.processIdentifier, SIGTERM)
        try await Task.sleep(for: .milliseconds(500))
        #expect(p.isRunning)  // still draining against the dead store
        kill(p.processIdentifier, SIGTERM)
        let status = try await waitForExit(p, timeout: .seconds(5))
        #expect(status == WorkerMain.interruptedExitCode)
        #expect(try await client.pending(stream: "clicks-\(id)", group: "g-\(id)").count == 50)
        let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let levels = try output.split(separator: "\n").filter { $0.hasPrefix("ts=") }.map { try Logfmt.fields(String($0))["level"] ?? "" }
        #expect(Set(levels).isSubset(of: ["error", "critical"]), "\(output)")
        #expect(!output.contains("worker starting") && output.contains("second signal"), "\(output)")  // info is not logged
    }
}
