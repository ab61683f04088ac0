@testable import LakeModel
@testable import LakeTools
import Foundation
import Testing
import TestSupport

/// Operator input past the configuration limits ends in a clear error and exit status 2 from
/// `check-config` and `convert`, and types at the limits convert.
@Suite struct LimitsCommandTests {
    static func lists(_ n: Int) -> String { String(repeating: "list<", count: n) + "int64" + String(repeating: ">", count: n) }
    static func structs(_ n: Int) -> String { String(repeating: "struct<a:", count: n) + "int64" + String(repeating: ">", count: n) }
    static func maps(_ n: Int) -> String { String(repeating: "map<string, ", count: n) + "int64" + String(repeating: ">", count: n) }

    @Test func checkConfigRefusesClusterStreamsWithoutAHashTag() throws {
        let dir = try TestEnvironment.temporaryDirectory("cluster-config").path
        let path = dir + "/c.yaml"
        try """
            redis: {url: "redis+cluster://127.0.0.1:7000,127.0.0.1:7001"}
            entities:
              clicks: {stream: clicks, columns: {id: int64}}
              views: {stream: "{views}", columns: {id: int64}}
            """.write(toFile: path, atomically: true, encoding: .utf8)
        let out = OutputBox()
        #expect(Commands.checkConfig(path: path, environment: [:], output: out.output) == Commands.Status.usage)
        #expect(out.err.contains("'clicks' a hash tag, e.g. '{clicks}'"), "\(out.err)")
        #expect(out.out.isEmpty)
        try "redis: {url: \"redis+sentinel://h:26379\"}\nentities: {e: {stream: s, columns: {id: int64}}}\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let bad = OutputBox()
        #expect(Commands.checkConfig(path: path, environment: [:], output: bad.output) == Commands.Status.usage)
        #expect(bad.err.contains("master name"), "\(bad.err)")
    }

    @Test func checkConfigRefusesDeepYAML() throws {
        let dir = try TestEnvironment.temporaryDirectory("limits-yaml").path
        for (name, text, line) in [
            ("flow", "entities:\n  e: " + String(repeating: "[", count: 100_000) + "\n", 2),
            ("block", String(repeating: "- ", count: 100_000) + "x\n", 1),
        ] {
            let path = dir + "/\(name).yaml"
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let out = OutputBox()
            #expect(Commands.checkConfig(path: path, environment: [:], output: out.output) == Commands.Status.usage)
            #expect(out.err == "error: \(path):\(line): nested deeper than 64 levels (the configuration limit)\n", "\(out.err)")
            #expect(out.out.isEmpty)
        }
        let big = dir + "/big.yaml"
        try String(repeating: "# padding\n", count: 110_000).write(toFile: big, atomically: true, encoding: .utf8)
        let out = OutputBox()
        #expect(Commands.checkConfig(path: big, environment: [:], output: out.output) == Commands.Status.usage)
        #expect(out.err.contains("\(big): the configuration is 1100000 bytes; the limit is 1048576 bytes (1 MiB)"), "\(out.err)")
    }

    @Test func checkConfigAndConvertRefuseDeepTypes() async throws {
        let dir = try TestEnvironment.temporaryDirectory("limits-types").path
        try "{\"id\": 1}\n".write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        for type in [Self.lists(128), Self.structs(256), Self.lists(10_000)] {
            let config = dir + "/c.yaml"
            try "entities:\n  e:\n    stream: s\n    columns:\n      id: int64\n      deep: \(type)\n"
                .write(toFile: config, atomically: true, encoding: .utf8)
            let out = OutputBox()
            #expect(Commands.checkConfig(path: config, environment: [:], output: out.output) == Commands.Status.usage)
            #expect(out.err.hasPrefix("error: \(config):6: entities.e.columns.deep: types nested deeper than 32 levels at position"),
                    "\(out.err)")
            #expect(out.err.count < 400)
            let convertOut = OutputBox()
            #expect(await Commands.convert(.init(config: config, entity: "e", input: dir + "/in.jsonl", output: dir + "/o.parquet"),
                                           environment: [:], output: convertOut.output) == Commands.Status.usage)
            #expect(convertOut.err.contains("types nested deeper than 32 levels"))
            #expect(!FileManager.default.fileExists(atPath: dir + "/o.parquet"))
        }
    }

    @Test func typesAtTheDepthLimitConvert() async throws {
        let dir = try TestEnvironment.temporaryDirectory("limits-convert").path
        let config = dir + "/c.yaml"
        try """
            entities:
              e:
                stream: s
                columns:
                  id: int64
                  l: \(Self.lists(32))
                  s: \(Self.structs(32))
                  m: \(Self.maps(32))
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let list = String(repeating: "[", count: 32) + "7" + String(repeating: "]", count: 32)
        let object = String(repeating: "{\"a\": ", count: 32) + "8" + String(repeating: "}", count: 32)
        let map = String(repeating: "{\"k\": ", count: 32) + "9" + String(repeating: "}", count: 32)
        try "{\"id\": 1, \"l\": \(list), \"s\": \(object), \"m\": \(map)}\n{\"id\": 2}\n"
            .write(toFile: dir + "/in.jsonl", atomically: true, encoding: .utf8)
        let out = OutputBox()
        #expect(Commands.checkConfig(path: config, environment: [:], output: out.output) == Commands.Status.ok, "\(out.err)")
        let convertOut = OutputBox()
        #expect(await Commands.convert(.init(config: config, entity: "e", input: dir + "/in.jsonl", output: dir + "/o.parquet"),
                                       environment: [:], output: convertOut.output) == Commands.Status.ok, "\(convertOut.err)")
        let report = try Inspector.inspect(path: dir + "/o.parquet")
        #expect(report.rows == 2)
        #expect(report.schema.map(\.depth).max() == 64) // a map or list level is two Parquet groups
    }
}
