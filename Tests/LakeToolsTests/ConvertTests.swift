@testable import LakeModel
@testable import LakeDecoding
@testable import LakeOutput
@testable import LakeTools
import Foundation
import Parquet
import Testing
import TestSupport

/// `convert` of a corpus covering every type, read back by pyarrow, DuckDB and polars;
/// rejects, exit statuses, and `inspect` against pyarrow's metadata.
@Suite struct ConvertTests {
    static let config = """
    parquet: {compression: zstd}
    entities:
      all:
        stream: s
        payload: json:data
    \(Fixtures.allTypesColumns)
    """

    static let lines = [
        #"{"b": true, "i8": -128, "i16": 32767, "i32": "42", "i64": -9223372036854775808, "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615, "f32": 1.5, "f64": -2.5e-3, "d": "123.4", "dbig": 12345678901234567890.1234, "s": "h\u00e9llo \"q\" 😀", "bin": "aGVsbG8=", "id": "550E8400-e29b-41d4-A716-446655440000", "day": "2024-02-29", "tod": "23:59:59.999999", "ts": "2024-05-01T14:00:00.25+02:00", "tsl": "2024-05-01 12:00:00.5", "j": {"a": [1, null]}, "tags": [1, null, 3], "items": [{"sku": "A", "qty": 2}, {"sku": "B"}], "attrs": {"x": 1, "y": null}, "geo": {"lat": 52.52, "lon": 13.4}}"#,
        #"{"i64": 7}"#,
        #"{"i64": 8, "d": 1.234}"#,
        "",
        #"{"i64": "9", "b": false, "s": 12.50, "tags": [], "items": [], "attrs": {}, "ts": 1714564800000, "j": "text", "geo": null, "extra": 1}"#,
        #"not json"#,
        #"{"i64": 10, "items": [{"qty": 1}]}"#,
    ]

    static let columns = ["b", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "f32", "f64", "d", "dbig", "s", "bin", "id",
                          "day", "tod", "ts", "tsl", "j", "tags", "items", "attrs", "lat", "_stream_id"]

    static var expected: [[ReadbackValue]] {
        [
            ["true", "-128", "32767", "42", "-9223372036854775808", "255", "65535", "4294967295", "18446744073709551615",
             "1.5", "-0.0025", "123.40", "12345678901234567890.1234", "héllo \"q\" 😀", "68656c6c6f",
             "550e8400e29b41d4a716446655440000", "2024-02-29", "23:59:59.999999", "2024-05-01T12:00:00.250000Z",
             "2024-05-01T12:00:00.500000", #"{"a": [1, null]}"#, ["1", nil, "3"],
             [["sku": "A", "qty": "2"], ["sku": "B", "qty": nil]], [["x", "1"], ["y", nil]], "52.52", "1"],
            [nil, nil, nil, nil, "7", nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "2"],
            ["false", nil, nil, nil, "9", nil, nil, nil, nil, nil, nil, nil, nil, "12.50", nil, nil, nil, nil,
             "2024-05-01T12:00:00.000000Z", nil, "\"text\"", [], [], [], nil, "5"],
        ]
    }

    func writeInputs(_ dir: String) throws -> (config: String, input: String) {
        let config = dir + "/lakewriter.yaml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        let input = dir + "/in.jsonl"
        try (Self.lines.joined(separator: "\n") + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        return (config, input)
    }

    @Test func corpusReadsBackEqualEverywhere() async throws {
        let dir = try TestEnvironment.temporaryDirectory("convert").path
        let (config, input) = try writeInputs(dir)
        let output = dir + "/out.parquet"
        let rejects = dir + "/rejects.jsonl"
        let box = OutputBox()
        let code = await Commands.convert(.init(config: config, entity: "all", input: input, output: "file://" + output, rejects: rejects),
                                          environment: [:], output: box.output)
        #expect(code == 3, "\(box.err)")
        #expect(box.err.contains("3 rows"), "\(box.err)")
        #expect(box.err.contains("3 rejected"))

        // Rejects: line number, reason and the line itself.
        let rejected = try String(contentsOfFile: rejects, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        #expect(rejected.map { $0["line"] as? Int } == [3, 6, 7])
        #expect(rejected.map { $0["reason"] as? String } == ["decimal_scale", "not_an_object", "required_missing"])
        #expect(rejected.map { $0["field"] as? String } == ["d", "", "items[0].sku"])
        #expect(rejected[0]["input"] as? String == Self.lines[2])
        #expect(rejected[1]["input"] as? String == "not json")
        #expect(rejected[0]["entity"] as? String == "all")

        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        let problems = try ParquetReadback.mismatches(path: output, columns: Self.columns, expected: Self.expected)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    @Test func inspectMatchesPyarrow() async throws {
        let dir = try TestEnvironment.temporaryDirectory("inspect").path
        let (config, input) = try writeInputs(dir)
        let output = dir + "/out.parquet"
        let code = await Commands.convert(.init(config: config, entity: "all", input: input, output: output, compression: "snappy"),
                                          environment: [:], output: OutputBox().output)
        #expect(code == 3)
        let report = try Inspector.inspect(path: output)
        #expect(report.rows == 3)
        #expect(report.keyValueMetadata.contains { $0.key == "lakewriter.entity" && $0.value == "all" })
        let text = report.text
        #expect(text.contains("required FIXED_LEN_BYTE_ARRAY(16) id") == false) // id is optional
        #expect(text.contains("optional FIXED_LEN_BYTE_ARRAY(16) id (UUID)"))
        #expect(text.contains("optional INT64 ts (TIMESTAMP(MICROS, UTC))"))
        #expect(text.contains("optional INT32 d (DECIMAL(5,2))"))
        #expect(text.contains("required INT64 i64"))

        let json = try JSONSerialization.jsonObject(with: Data(report.json.utf8)) as! [String: Any]
        #expect(json["num_rows"] as? Int == 3)
        let jgroups = json["row_groups"] as! [[String: Any]]
        let jcols = jgroups[0]["columns"] as! [[String: Any]]
        let byPath = Dictionary(uniqueKeysWithValues: jcols.map { ($0["path"] as! String, $0) })
        #expect(byPath["i64"]?["min"] as? String == "-9223372036854775808")
        #expect(byPath["i64"]?["max"] as? String == "9")
        #expect(byPath["d"]?["min"] as? String == "123.40")
        #expect(byPath["ts"]?["min"] as? String == "2024-05-01T12:00:00Z")
        #expect(byPath["ts"]?["max"] as? String == "2024-05-01T12:00:00.250000Z")
        #expect(byPath["id"]?["min"] as? String == "550e8400-e29b-41d4-a716-446655440000")
        #expect(byPath["day"]?["min"] as? String == "2024-02-29")
        #expect(byPath["s"]?["null_count"] as? Int == 1)

        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        let meta = try await ParquetReadback.metadata(path: output)
        #expect(report.rows == Int64(meta.num_rows))
        #expect(report.rowGroups.count == meta.num_row_groups)
        #expect(report.createdBy == meta.created_by)
        for (g, pg) in zip(report.rowGroups, meta.row_groups) {
            #expect(g.rows == Int64(pg.num_rows))
            #expect(g.columns.count == pg.columns.count)
            for (c, pc) in zip(g.columns, pg.columns) {
                #expect(c.path == pc.path)
                #expect(c.codec == pc.compression)
                #expect(Set(c.encodings) == Set(pc.encodings), "\(c.path)")
                #expect(c.values == Int64(pc.num_values))
                #expect(c.compressedBytes == Int64(pc.total_compressed_size))
                #expect(c.uncompressedBytes == Int64(pc.total_uncompressed_size))
                #expect(c.nullCount == pc.statistics?.null_count.map(Int64.init), "\(c.path)")
            }
        }
        for (k, v) in report.keyValueMetadata { #expect(meta.key_value[k] == v) }
        // Min/max of a few types, as pyarrow decodes them.
        let pcols = Dictionary(uniqueKeysWithValues: meta.row_groups[0].columns.map { ($0.path, $0) })
        #expect(pcols["i64"]?.statistics?.min == "-9223372036854775808")
        #expect(pcols["s"]?.statistics?.max == .string(byPath["s"]?["max"] as! String))
        #expect(pcols["f64"]?.statistics?.min == "-0.0025")
        #expect(byPath["f64"]?["min"] as? String == "-0.0025")
    }

    @Test func exitStatuses() async throws {
        let dir = try TestEnvironment.temporaryDirectory("exit").path
        let (config, _) = try writeInputs(dir)
        let good = dir + "/good.jsonl"
        try "{\"i64\": 1}\n{\"i64\": 2}".write(toFile: good, atomically: true, encoding: .utf8)
        let box = OutputBox()
        #expect(await Commands.convert(.init(config: config, entity: "all", input: good, output: dir + "/g.parquet"),
                                       environment: [:], output: box.output) == 0)
        #expect(box.err.contains("2 rows"))
        #expect(await Commands.convert(.init(config: config, entity: "nope", input: good, output: dir + "/x.parquet"),
                                       environment: [:], output: OutputBox().output) == 2)
        #expect(await Commands.convert(.init(config: dir + "/missing.yaml", entity: "all", input: good, output: dir + "/x.parquet"),
                                       environment: [:], output: OutputBox().output) == 2)
        #expect(await Commands.convert(.init(config: config, entity: "all", input: good, output: dir + "/x.parquet", compression: "lz4"),
                                       environment: [:], output: OutputBox().output) == 2)
        #expect(await Commands.convert(.init(config: config, entity: "all", input: dir + "/none.jsonl", output: dir + "/x.parquet"),
                                       environment: [:], output: OutputBox().output) == 1)
        // An empty input gives a valid empty file.
        let empty = dir + "/empty.jsonl"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        #expect(await Commands.convert(.init(config: config, entity: "all", input: empty, output: dir + "/e.parquet"),
                                       environment: [:], output: OutputBox().output) == 0)
        #expect(try Inspector.inspect(path: dir + "/e.parquet").rows == 0)
    }

    /// A failing convert never destroys an existing file: output and rejects are written under
    /// temporary names and renamed into place only on success.
    @Test func failingConvertKeepsTheExistingOutput() async throws {
        let dir = try TestEnvironment.temporaryDirectory("keep").path
        let (config, _) = try writeInputs(dir)
        let good = dir + "/good.jsonl"
        try "{\"i64\": 1}\n{\"i64\": 2}\n{\"i64\": \"x\"}\n".write(toFile: good, atomically: true, encoding: .utf8)
        let out = dir + "/o.parquet", rejects = dir + "/r.jsonl"
        #expect(await Commands.convert(.init(config: config, entity: "all", input: good, output: out, rejects: rejects),
                                       environment: [:], output: OutputBox().output) == 3)
        let before = try Data(contentsOf: URL(fileURLWithPath: out))
        let rejectsBefore = try Data(contentsOf: URL(fileURLWithPath: rejects))
        #expect(before.count > 100 && !rejectsBefore.isEmpty)
        // Failing runs: a missing input, and an output the final rename cannot replace.
        #expect(await Commands.convert(.init(config: config, entity: "all", input: dir + "/none.jsonl", output: out,
                                             rejects: rejects), environment: [:], output: OutputBox().output) == 1)
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == before)
        #expect(try Data(contentsOf: URL(fileURLWithPath: rejects)) == rejectsBefore)
        let blocked = dir + "/a-directory"
        try FileManager.default.createDirectory(atPath: blocked + "/inside", withIntermediateDirectories: true)
        #expect(await Commands.convert(.init(config: config, entity: "all", input: good, output: blocked),
                                       environment: [:], output: OutputBox().output) == 1)
        #expect(FileManager.default.fileExists(atPath: blocked + "/inside"))
        // No temporary file is left behind.
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains(".tmp-") }.isEmpty)
        // A successful run replaces the file whole.
        try "{\"i64\": 5}\n".write(toFile: good, atomically: true, encoding: .utf8)
        #expect(await Commands.convert(.init(config: config, entity: "all", input: good, output: out),
                                       environment: [:], output: OutputBox().output) == 0)
        #expect(try Inspector.inspect(path: out).rows == 1)
    }

    /// The rejects file stays valid JSON Lines for input that is not UTF-8: such a line is given
    /// in base64 (`input_base64`).
    @Test func rejectsOfInvalidUTF8AreValidJSONLines() async throws {
        let dir = try TestEnvironment.temporaryDirectory("rej8").path
        let (config, _) = try writeInputs(dir)
        let input = dir + "/in.jsonl"
        let bad: [UInt8] = Array("{\"i64\": 1, \"s\": \"".utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        try Data(Array("{\"i64\": \"x\"}\n".utf8) + bad + [0x0A]).write(to: URL(fileURLWithPath: input))
        let rejects = dir + "/r.jsonl"
        #expect(await Commands.convert(.init(config: config, entity: "all", input: input, output: dir + "/o.parquet",
                                             rejects: rejects), environment: [:], output: OutputBox().output) == 3)
        let lines = try Data(contentsOf: URL(fileURLWithPath: rejects)).split(separator: 0x0A)
        #expect(lines.count == 2)
        for l in lines {
            let obj = try JSONSerialization.jsonObject(with: Data(l)) as? [String: Any]
            #expect(obj != nil)
        }
        let second = try #require(try JSONSerialization.jsonObject(with: Data(lines[1])) as? [String: Any])
        #expect(second["input"] == nil)
        #expect(Data(base64Encoded: second["input_base64"] as? String ?? "") == Data(bad))
    }

    /// Many blocks decoded in parallel keep input order and line numbers.
    @Test func parallelBlocksKeepOrder() throws {
        let dir = try TestEnvironment.temporaryDirectory("blocks").path
        let e = try #require(try ConfigLoader(environment: [:]).load(yaml: Self.config).entity(named: "all"))
        var text = ""
        for i in 1...5000 {
            text += i % 997 == 0 ? "{\"i64\": \"bad\"}\n" : "{\"i64\": \(i), \"s\": \"row \(i)\"}\n"
        }
        let input = dir + "/many.jsonl"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        var converter = Converter(entity: e, parquet: ParquetConfig(), threads: 3)
        converter.blockBytes = 4096
        let out = dir + "/many.parquet"
        let result = try converter.run(inputPath: input, outputPath: out, rejectsPath: nil)
        #expect(result.rows == 4995)
        #expect(result.rejected == 5)
        #expect(result.sampleRejects.map(\.line) == [997, 1994, 2991, 3988, 4985])
        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        let values = try ParquetReadback.values(path: out)
        let rows = try #require(values["pyarrow"]?.rows)
        let ids = rows.map { $0[4] }
        let streamIDs = rows.map { $0.last! }
        let want = (1...5000).filter { $0 % 997 != 0 }
        #expect(ids == want.map { .string(String($0)) })
        #expect(streamIDs == want.map { .string(String($0)) })
    }

    @Test func binaryUsageErrorsExitTwo() throws {
        let bin = TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter").path
        guard FileManager.default.isExecutableFile(atPath: bin) else { return }
        let missing = try ProcessRunner.run(bin, ["convert", "--config", "x.yaml"], check: false)
        #expect(missing.status == 2, "\(missing.stderr)")
        let run = try ProcessRunner.run(bin, ["run", "--config", "x.yaml"], check: false)
        #expect(run.status == 2)
        #expect(run.stderr.contains("x.yaml"))  // the config error names the file
        let dir = try TestEnvironment.temporaryDirectory("bin").path
        let config = dir + "/c.yaml"
        try Self.config.write(toFile: config, atomically: true, encoding: .utf8)
        let check = try ProcessRunner.run(bin, ["check-config", "--config", config], check: false)
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdoutString.contains("compression: zstd"))
        let conv = try ProcessRunner.run(bin, ["convert", "--config", config, "--entity", "all", "--input", "-", "--output", dir + "/o.parquet"],
                                         stdin: Data("{\"i64\": 5}\n{\"i64\": 5.5}\n".utf8), check: false)
        #expect(conv.status == 3, "\(conv.stderr)")
        #expect(conv.stderr.contains("line 2:"))
        let insp = try ProcessRunner.run(bin, ["inspect", dir + "/o.parquet", "--json"], check: false)
        #expect(insp.status == 0)
        #expect(insp.stdoutString.contains("\"num_rows\":1"))
    }
}

/// The progress line of `convert` on a terminal: redrawn as blocks are written, ending at 100%
/// with the row count, then a newline; never for small inputs or when stderr is not a terminal.
@Suite struct ConvertProgressTests {
    final class Lines: @unchecked Sendable {
        let lock = NSLock()
        var items: [String] = []
        func add(_ s: String) { lock.withLock { items.append(s) } }
    }

    @Test func progressEndsAtTheWholeInputAndIsSilentOtherwise() async throws {
        let dir = try TestEnvironment.temporaryDirectory("progress").path
        let e = try #require(try ConfigLoader(environment: [:]).load(yaml: ConvertTests.config).entity(named: "all"))
        let text = (1...20000).map { "{\"i64\": \($0), \"s\": \"row \($0)\"}\n" }.joined()
        let input = dir + "/in.jsonl"
        try text.write(toFile: input, atomically: true, encoding: .utf8)
        let lines = Lines()
        var converter = Converter(entity: e, parquet: ParquetConfig(), threads: 2)
        converter.blockBytes = 16 << 10
        converter.progress = ConvertProgress(minimumBytes: 0) { lines.add($0) }
        _ = try converter.run(inputPath: input, outputPath: dir + "/out.parquet", rejectsPath: nil)
        let drawn = lines.items
        #expect(drawn.last == "\n")
        let last = try #require(drawn.dropLast().last)
        #expect(last.hasPrefix("converting: 100% (") && last.contains(", 20000 rows, "), "\(last)")
        let percents = drawn.dropLast().compactMap { Int($0.dropFirst("converting:".count).prefix { $0 != "%" }.trimmingCharacters(in: .whitespaces)) }
        #expect(percents == percents.sorted() && percents.count == drawn.count - 1)

        // Through the command: nothing when stderr is not a terminal, nor below 64 MiB.
        let config = dir + "/c.yaml"
        try ConvertTests.config.write(toFile: config, atomically: true, encoding: .utf8)
        for terminal in [false, true] {
            let box = OutputBox()
            let output = Commands.Output(out: box.output.out, err: box.output.err, errIsTerminal: terminal)
            #expect(await Commands.convert(.init(config: config, entity: "all", input: input, output: dir + "/o\(terminal).parquet"),
                                           environment: [:], output: output) == 0)
            #expect(!box.err.contains("converting:"))
        }
    }
}
