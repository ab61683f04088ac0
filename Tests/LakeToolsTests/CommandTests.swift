@testable import LakeModel
@testable import LakeDecoding
@testable import LakeOutput
@testable import LakeTools
import Foundation
import LakeWorker
import RedisStreams
import Testing
import TestSupport

/// Collects a command's output.
typealias OutputBox = Commands.CapturedOutput

@Suite struct CommandTests {
    @Test func checkConfigCommand() throws {
        let dir = try TestEnvironment.temporaryDirectory("check").path
        let good = dir + "/good.yaml"
        try Fixtures.exampleConfig.write(toFile: good, atomically: true, encoding: .utf8)
        let out = OutputBox()
        let code = Commands.checkConfig(path: good, environment: Fixtures.exampleEnvironment, output: out.output)
        #expect(code == 0)
        #expect(out.out.contains("compression: snappy"))
        #expect(!out.out.contains("wJalrXUtnFEMI"))
        let bad = dir + "/bad.yaml"
        try "redis:\n  block: never\nentities: {e: {stream: s, columns: {a: int64}}}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let out2 = OutputBox()
        #expect(Commands.checkConfig(path: bad, environment: [:], output: out2.output) == 2)
        #expect(out2.err.contains("bad.yaml:2: redis.block: expected a duration"))
    }
    @Test func convertEvolvesToFinalSchema() async throws {
        let dir = try TestEnvironment.temporaryDirectory("evolve").path
        let config = dir + "/c.yaml"
        try Fixtures.evolvingEntityConfig.write(toFile: config, atomically: true, encoding: .utf8)
        let input = dir + "/in.jsonl"
        try "{\"id\": 1}\n{\"id\": 2, \"n\": 5}\n{\"id\": 3, \"n\": 1.5, \"s\": \"x\"}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let out = dir + "/o.parquet"
        #expect(await Commands.convert(.init(config: config, entity: "ev", input: input, output: out), environment: [:],
                                       output: OutputBox().output) == 0)
        let report = try Inspector.inspect(path: out)
        #expect(report.schema.map(\.path) == ["id", "n", "s", "_stream_id"])
        #expect(report.keyValueMetadata.first { $0.key == "lakewriter.schema_version" }?.value == "3") // v2: n added; v3: n widened and s added (one payload)
        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        let problems = try ParquetReadback.mismatches(path: out, columns: ["id", "n", "s", "_stream_id"], expected: [
            ["1", nil, nil, "1"], ["2", "5.0", nil, "2"], ["3", "1.5", "x", "3"],
        ])
        #expect(problems.isEmpty, "\(problems)")
    }
}

/// The example configs under deploy/examples pass check-config with the variables they document.
@Suite struct ExampleConfigTests {
    @Test func everyExamplePassesCheckConfig() throws {
        let dir = TestEnvironment.repositoryRoot.appendingPathComponent("deploy/examples").path
        let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names == ["config.aws.yaml", "config.cluster.yaml", "config.delta.yaml", "config.minio.yaml", "config.r2.yaml"])
        let env = ["LAKEWRITER_REDIS_URL": "redis://:pw@redis:6379/0", "AWS_ACCESS_KEY_ID": "AKIAEXAMPLE",
                   "AWS_SECRET_ACCESS_KEY": "secret-example-value", "R2_ACCOUNT_ID": "0123abcd", "LAKE_BUCKET": "my-lake"]
        for name in names {
            let out = OutputBox()
            #expect(Commands.checkConfig(path: dir + "/" + name, environment: env, output: out.output) == 0, "\(name): \(out.err)")
            #expect(!out.out.contains("secret-example-value") && !out.out.contains(":pw@"))
            let config = try ConfigLoader(environment: env).load(path: dir + "/" + name)
            switch name {
            case "config.cluster.yaml":
                #expect(try config.redis.connection().isCluster)
                #expect(config.redis.clusterSlotProblem(streams: config.entities.map(\.stream)) == nil)
                #expect(config.redis.clusterSlotProblem(streams: ["orders"]) != nil)
            case "config.aws.yaml":
                #expect(config.storage.endpoint == nil && !config.storage.pathStyle)
                #expect(config.storage.url == "s3://my-lake/events")
            case "config.delta.yaml":
                #expect(config.entities.allSatisfy { $0.tableFormat == .delta && $0.timePartition == .none })
                #expect(config.entities[0].partitionBy == ["tenant_id"])
            case "config.r2.yaml":
                #expect(config.storage.endpoint == "https://0123abcd.r2.cloudflarestorage.com" && config.storage.region == "auto")
            default:
                #expect(config.storage.pathStyle && config.storage.endpoint == "http://127.0.0.1:9000")
            }
        }
    }
}
