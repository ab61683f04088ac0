import Foundation
import LakeModel
import LakeWorker
import Logging
import RedisStreams
import Testing
import TestSupport

/// The worker end to end on a local three-primary Redis Cluster: streams on different shards,
/// each written once to the lake and acknowledged on its own primary, a bad entry dead-lettered
/// to `{stream}:dlq` on the stream's shard; streams without a hash tag are refused at start
/// (`check-config` too: `LimitsCommandTests`).
@Suite(.serialized, .enabled(if: FileManager.default.isExecutableFile(atPath: TestEnvironment.redisServerBinary) || TestEnvironment.isCI))
struct WorkerClusterTests {
    @Test func theWorkerWritesStreamsOfThreeShardsOnce() async throws {
        let cluster = try RedisClusterProcess()
        let tag = UUID().uuidString.prefix(6)
        // Names whose slots are on different primaries.
        var byPrimary: [Int: String] = [:]
        for i in 0..<300 where byPrimary.count < 2 {
            let name = "{ev-\(tag)-\(i)}"
            if let p = try cluster.primary(ofSlot: HashSlot.of(name)), byPrimary[p] == nil { byPrimary[p] = name }
        }
        let streams = byPrimary.values.sorted()
        #expect(streams.count == 2)
        let lake = try TestEnvironment.temporaryDirectory("cluster-lake").path
        let yaml = """
            redis:
              url: "redis://127.0.0.1:\(cluster.nodes[0].port)"
              cluster: true
              group: g
              consumer: c
              block: 200ms
            storage: {url: "file://\(lake)"}
            flush: {idle: 300ms, max_age: 2s}
            http: {listen: "127.0.0.1:0"}
            entities:
              clicks:
                stream: "\(streams[0])"
                columns: {user_id: int64 not null}
              views:
                stream: "\(streams[1])"
                columns: {user_id: int64 not null}
            """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        #expect(config.maskedYAML.contains("cluster: true"))
        let client = RedisStreamClient(configuration: try config.redis.connection(), logger: Logger(label: "test"))
        defer { client.close() }
        for s in streams {
            for i in 0..<120 { _ = try await client.add(stream: s, fields: [StreamField("user_id", "\(i)")]) }
        }
        _ = try await client.add(stream: streams[0], fields: [StreamField("user_id", "not a number")])
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "everything acknowledged on both shards") {
                try await WorkerTests.allAcknowledged(client, streams: streams, group: "g")
            }
        }
        // The dead letter is on the stream's own primary.
        let owner = try #require(try cluster.primary(ofSlot: HashSlot.of(streams[0])))
        #expect(try redisCLI(owner, ["XLEN", streams[0] + ":dlq"]) == "1")
        guard let python = TestEnvironment.python else { return }
        for entity in ["clicks", "views"] {
            #expect(try WorkerTests.sortedInts(column: "user_id", in: "\(lake)/\(entity)", python: python) == Array(0..<120), "\(entity)")
        }
    }

    @Test func streamsWithoutAHashTagAreRefused() throws {
        let yaml = """
            redis: {url: "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"}
            entities:
              clicks: {stream: clicks, columns: {id: int64}}
              views: {stream: "{views}", columns: {id: int64}}
            """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        #expect(throws: WorkerError.self) {
            _ = try LakewriterWorker(config: config, logger: Logger(label: "test"), store: nil)
        }
        let problem = try #require(config.redis.clusterSlotProblem(streams: ["clicks", "{views}"]))
        #expect(problem.contains("'clicks'") && !problem.contains("'{views}'") && problem.contains("{clicks}"))
        // The same streams are fine outside a cluster; redis.cluster does not mix with sentinel.
        #expect(try ConfigLoader(environment: [:]).load(yaml: yaml.replacingOccurrences(of: "redis+cluster://127.0.0.1:7000,127.0.0.1:7001", with: "redis://h:6379"))
            .redis.clusterSlotProblem(streams: ["clicks"]) == nil)
        let mixed = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "redis+sentinel://h:26379/m", cluster: true, sentinel_password: "sp-s3cret"}
            entities: {e: {stream: s, columns: {id: int64}}}
            """)
        #expect(throws: RedisError.self) { try mixed.redis.connection() }
        #expect(mixed.maskedYAML.contains("sentinel_password: \"****\"") && !mixed.maskedYAML.contains("sp-s3cret"))
    }
}
