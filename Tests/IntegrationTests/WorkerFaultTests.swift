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

#if canImport(Glibc)
import Glibc
#endif


/// The port the health server bound (port 0 in the config), set from its `onBound` callback.
final class PortBox: Sendable {
    let port = Mutex<Int?>(nil)
}

/// Faults around the worker: Redis going away while buffers hold data, and `/readyz` following
/// storage reachability.
@Suite(.serialized) struct WorkerFaultTests {
    static func config(_ env: WorkerTests.Env, redisURL: String, id: String, bucket: String, endpoint: String? = nil,
                       idle: String) throws -> LakewriterConfig {
        let yaml = """
        \(WorkerTests.header(env, id: id, bucket: bucket, redisURL: redisURL, endpoint: endpoint,
                             flush: "max_rows: 100000, max_age: 60s, idle: \(idle), shutdown_grace: 20s"))
        entities:
          clicks:
            stream: clicks-\(id)
            payload: fields
            columns:
              user_id: int64 not null
        """
        return try ConfigLoader(environment: [:]).load(yaml: yaml)
    }

    static func produce(_ client: RedisStreamClient, _ stream: String, _ range: Range<Int>) async throws -> Set<String> {
        var ids: Set<String> = []
        for i in range {
            ids.insert(try await client.add(stream: stream, fields: [StreamField("user_id", "\(i)")]).description)
        }
        return ids
    }

    @Test
    func redisDownWhileBuffersHoldDataLosesNothing() async throws {
        let env = try WorkerTests.env()
        let redis = try RedisServerProcess(["--appendonly", "yes", "--appendfsync", "always"])
        let id = WorkerTests.unique(), bucket = "r-\(id)"
        let stream = "clicks-\(id)"
        let store = try await WorkerTests.makeStore(env, bucket: bucket)
        // The idle flush fires well after the entries were read, while redis-server is stopped.
        let config = try Self.config(env, redisURL: redis.url, id: id, bucket: bucket, idle: "2s")
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: redis.url), logger: Logger(label: "test"))
        defer { client.close() }

        var ids: Set<String> = []
        try await WorkerTests.withWorker(config) { _ in
            ids.formUnion(try await Self.produce(client, stream, 0..<150))
            try await WorkerTests.waitUntil(timeout: .seconds(30), "the entries read into buffers") {
                (try? await client.pending(stream: stream, group: "g-\(id)"))?.count == 150
            }
            #expect(try await store.list(prefix: "lake/", continuationToken: nil, maxKeys: 10).objects.isEmpty)
            redis.kill()
            // Buffered data is still written while Redis is away; the acknowledgement waits.
            try await WorkerTests.waitUntil(timeout: .seconds(20), "the file written with Redis down") {
                try await !store.list(prefix: "lake/clicks/", continuationToken: nil, maxKeys: 10).objects.isEmpty
            }
            try await Task.sleep(for: .seconds(1))
            try redis.start()
            try await WorkerTests.waitUntil(timeout: .seconds(30), "the first entries acknowledged after the restart") {
                (try? await WorkerTests.allAcknowledged(client, streams: [stream], group: "g-\(id)")) == true
            }
            // Reading resumed on the reconnected connection.
            ids.formUnion(try await Self.produce(client, stream, 150..<300))
            // After the AOF reload the group's lag may be unknown: wait for the second file too.
            try await WorkerTests.waitUntil(timeout: .seconds(30), "every entry written and acknowledged") {
                guard (try? await WorkerTests.allAcknowledged(client, streams: [stream], group: "g-\(id)")) == true else { return false }
                return try await store.list(prefix: "lake/clicks/", continuationToken: nil, maxKeys: 10).objects.count >= 2
            }
        }
        #expect(ids.count == 300)
        let (dir, _) = try await WorkerTests.download(store, prefix: "lake/clicks/")
        let rows = try await WorkerTests.duckdb(env, "select _stream_id from read_parquet('\(dir.path)/lake/clicks/**/*.parquet')") as! [[Any]]
        #expect(rows.count == ids.count)
        #expect(Set(rows.map { $0[0] as! String }) == ids)
        #expect(try await client.pending(stream: stream, group: "g-\(id)").count == 0)
    }

    /// GET `path` on the local port; returns the status code and body.
    static func get(_ env: WorkerTests.Env, port: Int, _ path: String) async throws -> (Int, String) {
        let script = """
        import sys, urllib.request, urllib.error
        try:
            r = urllib.request.urlopen(sys.argv[1], timeout=30)
            code, body = r.status, r.read()
        except urllib.error.HTTPError as e:
            code, body = e.code, e.read()
        print(code)
        sys.stdout.write(body.decode())
        """
        let r = try await ProcessRunner.run(env.python, ["-c", script, "http://127.0.0.1:\(port)\(path)"])
        let text = String(decoding: r.stdout, as: UTF8.self)
        let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? String(lines[1]) : "")
    }

    @Test func readyzFollowsStorageReachability() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "h-\(id)"
        _ = try await WorkerTests.makeStore(env, bucket: bucket)
        let s3Port = Int(env.s3Endpoint.split(separator: ":").last!)!
        let proxy = try TCPProxy(targetPort: s3Port)
        defer { proxy.stop() }
        proxy.setDown(true)
        let config = try Self.config(env, redisURL: env.redisURL, id: id, bucket: bucket,
                                     endpoint: "http://127.0.0.1:\(proxy.port)", idle: "1s")
        var logger = Logger(label: "readyz-test")
        logger.logLevel = .critical
        let worker = try LakewriterWorker(config: config, logger: logger)
        let bound = PortBox()
        let http = try HealthServer(listen: "127.0.0.1:0", metrics: worker.metrics, logger: logger,
                                    readiness: { await worker.readiness() }, onBound: { p in bound.port.withLock { $0 = p } })
        let group = ServiceGroup(configuration: .init(services: [.init(service: worker), .init(service: http)], logger: logger))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            do {
                try await Self.checkReadyz(env, proxy: proxy, bound: bound)
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
    }

    static func checkReadyz(_ env: WorkerTests.Env, proxy: TCPProxy, bound: PortBox) async throws {
        try await WorkerTests.waitUntil(timeout: .seconds(10), "the HTTP port") { bound.port.withLock { $0 } != nil }
        let port = bound.port.withLock { $0! }
        await #expect(try Self.get(env, port: port, "/healthz").0 == 200)
        var body = ""
        try await WorkerTests.waitUntil(timeout: .seconds(30), "/readyz 503 while storage is down") {
            let (code, b) = try await Self.get(env, port: port, "/readyz")
            body = b
            return code == 503
        }
        #expect(body.contains("storage"), "\(body)")
        proxy.setDown(false)
        try await WorkerTests.waitUntil(timeout: .seconds(40), "/readyz 200 once storage is back") {
            try await Self.get(env, port: port, "/readyz").0 == 200
        }
    }
}
