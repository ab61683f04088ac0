@testable import LakeModel
@testable import LakeTools
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// `check-config --connect` against the real redis-server and SeaweedFS: every verdict says what
/// it found, a wrong password or secret fails with exit 1, nothing is left behind in the store,
/// and no secret is printed.
@Suite struct ConnectCheckTests {
    struct Servers {
        var redisURL: String, endpoint: String, key: String, secret: String
    }

    struct MissingServers: Error, CustomStringConvertible {
        var description: String { "run through scripts/test: redis-server and SeaweedFS are needed" }
    }

    static func servers() throws -> Servers {
        guard let r = TestEnvironment.redisURL, let e = TestEnvironment.s3Endpoint, let k = TestEnvironment.s3AccessKey,
              let s = TestEnvironment.s3SecretKey else {
            throw MissingServers()
        }
        return Servers(redisURL: r, endpoint: e, key: k, secret: s)
    }

    static func config(redisURL: String, bucket: String, s: Servers, secret: String? = nil, streams: (String, String),
                       group: String) throws -> LakewriterConfig {
        try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(redisURL)", group: \(group), consumer: probe-consumer}
            storage: {url: "s3://\(bucket)/lake", endpoint: "\(s.endpoint)", region: \(TestEnvironment.s3Region),
                      access_key_id: "\(s.key)", secret_access_key: "\(secret ?? s.secret)"}
            entities:
              a: {stream: "\(streams.0)", columns: {id: int64}}
              b: {stream: "\(streams.1)", columns: {id: int64}}
            """)
    }

    /// The bucket the worker tests share (SeaweedFS gives every bucket its own volumes), with a
    /// prefix per test: returns `bucket/prefix` and a store on it.
    static func makeBucket(_ s: Servers) async throws -> (String, any ObjectStore) {
        let bucket = "lakewriter-worker-tests"
        let options = ObjectStoreOptions(endpoint: s.endpoint, region: TestEnvironment.s3Region, addressing: .pathStyle,
                                         credentials: S3Credentials(accessKeyID: s.key, secretAccessKey: s.secret))
        try? await (try makeObjectStore(url: "s3://\(bucket)", options: options) as! S3ObjectStore).createBucket()
        let path = "\(bucket)/connect-\(UUID().uuidString.prefix(8).lowercased())"
        return (path, try makeObjectStore(url: "s3://\(path)", options: options))
    }

    @Test func reachableRedisAndStoreAreReportedAndNothingIsLeftBehind() async throws {
        let s = try Self.servers()
        let (bucket, store) = try await Self.makeBucket(s)
        let id = UUID().uuidString.prefix(8).lowercased()
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: s.redisURL), logger: Logger(label: "t"))
        defer { client.close() }
        for i in 0..<3 { _ = try await client.add(stream: "cc-\(id)-a", fields: [StreamField("id", "\(i)")]) }
        _ = try await client.command(["XGROUP", "CREATE", "cc-\(id)-a", "g-\(id)", "0"])
        let config = try Self.config(redisURL: s.redisURL, bucket: bucket, s: s, streams: ("cc-\(id)-a", "cc-\(id)-missing"),
                                     group: "g-\(id)")
        let box = OutputBox()
        let code = await Commands.connectCheck(config, output: box.output)
        #expect(code == 0, "\(box.out)\(box.err)")
        let lines = box.out.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("ok   redis: PONG from redis://127.0.0.1") && $0.contains("(Redis ") })
        #expect(lines.contains { $0.hasPrefix("ok   stream cc-\(id)-a: 3 entries; group g-\(id) exists (3 not yet delivered, 0 pending") })
        #expect(lines.contains { $0.hasPrefix("note stream cc-\(id)-missing: does not exist yet") })
        #expect(lines.contains { $0.hasPrefix("ok   consumer probe-consumer: no other worker") })
        #expect(lines.contains { $0.hasPrefix("ok   storage s3://\(bucket)/lake: wrote, read back and deleted _lakewriter/probe/") })
        #expect(box.err.contains("connect: OK"))
        // The probe is gone, and the check created nothing in Redis.
        #expect(try await store.listAll(prefix: "").isEmpty)
        #expect(try await client.command(["EXISTS", "cc-\(id)-missing"]).int == 0)

        // A lease held by a running worker under the same consumer name is reported.
        _ = try await client.command(["SET", "lakewriter:lease:g-\(id):probe-consumer", "x", "PX", "60000"])
        let held = OutputBox()
        #expect(await Commands.connectCheck(config, output: held.output) == 0)
        #expect(held.out.contains("note consumer probe-consumer: a worker holds this consumer name now"))
    }

    @Test func wrongPasswordAndWrongSecretFailWithoutPrintingThem() async throws {
        let s = try Self.servers()
        let (bucket, _) = try await Self.makeBucket(s)
        let redis = try RedisServerProcess(["--requirepass", "right-pass"])
        let config = try Self.config(redisURL: "redis://:Wr0ng%2Fpass@127.0.0.1:\(redis.port)/0", bucket: bucket, s: s,
                                     secret: "not-the-secret-xyz", streams: ("x", "y"), group: "g")
        let box = OutputBox()
        let code = await Commands.connectCheck(config, timeout: .seconds(5), output: box.output)
        #expect(code == 1)
        let all = box.out + box.err
        #expect(all.contains("FAIL redis: redis://:****@127.0.0.1:\(redis.port)/0:"), "\(all)")
        #expect(all.contains("FAIL storage s3://\(bucket)/lake: cannot write _lakewriter/probe/"), "\(all)")
        #expect(box.err.contains("2 checks failed"))
        #expect(!all.contains("Wr0ng") && !all.contains("not-the-secret-xyz"))

        // Nothing listens: a clear failure within the timeout, not a hang.
        let port = try RedisServerProcess.freePort()
        let gone = try Self.config(redisURL: "redis://127.0.0.1:\(port)/0", bucket: bucket, s: s, streams: ("x", "y"), group: "g")
        let started = ContinuousClock.now
        let down = OutputBox()
        #expect(await Commands.connectCheck(gone, timeout: .seconds(3), output: down.output) == 1)
        #expect(down.out.contains("FAIL redis: redis://127.0.0.1:\(port)/0:"))
        #expect(started.duration(to: .now) < .seconds(30))
    }
}
