@testable import LakeModel
@testable import LakeTools
import Foundation
import Parquet
import Testing
import TestSupport

/// The command-line conventions: `convert --output -` and created folders, `inspect` of several
/// files and folders with readable errors, `--help` with examples and exit codes, `--log-level`.
@Suite struct CLITests {
    static let config = """
    entities:
      small:
        stream: s
        payload: json:data
        columns:
          id: int64 not null
          name: string
      wide:
        stream: s2
        payload: json:data
        columns:
          id: string not null
          name: string
          n: float64
    """

    static var binary: String { TestEnvironment.repositoryRoot.appendingPathComponent(".build/debug/lakewriter").path }

    func setup() throws -> (dir: String, config: String) {
        let dir = try TestEnvironment.temporaryDirectory("cli").path
        try Self.config.write(toFile: dir + "/c.yaml", atomically: true, encoding: .utf8)
        return (dir, dir + "/c.yaml")
    }

    func convert(_ config: String, _ entity: String, _ lines: String, to output: String, box: OutputBox = OutputBox(),
                 rejects: String? = nil) async throws -> Int32 {
        let input = try TestEnvironment.temporaryDirectory("cli-in").path + "/in.jsonl"
        try lines.write(toFile: input, atomically: true, encoding: .utf8)
        return await Commands.convert(.init(config: config, entity: entity, input: input, output: output, rejects: rejects),
                                      environment: [:], output: box.output)
    }

    @Test func convertCreatesTheOutputFolders() async throws {
        let (dir, config) = try setup()
        let out = dir + "/new/deeper/o.parquet", rejects = dir + "/rej/r.jsonl"
        #expect(try await convert(config, "small", "{\"id\": 1}\n{\"id\": \"x\"}\n", to: out, rejects: rejects) == 3)
        #expect(try Inspector.inspect(path: out).rows == 1)
        #expect(try String(contentsOfFile: rejects, encoding: .utf8).contains("\"line\":2"))
        // A folder that cannot be made is an error naming it.
        try "x".write(toFile: dir + "/afile", atomically: true, encoding: .utf8)
        let box = OutputBox()
        #expect(try await convert(config, "small", "{\"id\": 1}\n", to: dir + "/afile/sub/o.parquet", box: box) == 1)
        #expect(box.err.contains("cannot create the folder \(dir)/afile/sub"), "\(box.err)")
    }

    @Test func convertToStandardOutput() async throws {
        let (dir, config) = try setup()
        let collected = DataBox()
        let box = OutputBox()
        let output = Commands.Output(out: box.output.out, err: box.output.err, data: { collected.append($0) })
        let input = dir + "/in.jsonl"
        try "{\"id\": 1, \"name\": \"a\"}\n{\"id\": 2}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let cwd = FileManager.default.currentDirectoryPath
        #expect(await Commands.convert(.init(config: config, entity: "small", input: input, output: "-"),
                                       environment: [:], output: output) == 0)
        #expect(!FileManager.default.fileExists(atPath: cwd + "/-"))  // no file named "-"
        let bytes = collected.bytes
        #expect(Array(bytes.prefix(4)) == Array("PAR1".utf8) && Array(bytes.suffix(4)) == Array("PAR1".utf8))
        #expect(try ParquetMetadataReader.read(bytes: bytes).numRows == 2)
        #expect(box.err.hasPrefix("standard output: 2 rows"), "\(box.err)")
        #expect(box.out.isEmpty)
        // Never to a terminal.
        let tty = Commands.Output(out: box.output.out, err: box.output.err, data: { _ in Issue.record("wrote to a terminal") },
                                  outIsTerminal: true)
        let ttyBox = box.err
        #expect(await Commands.convert(.init(config: config, entity: "small", input: input, output: "-"),
                                       environment: [:], output: tty) == 2)
        #expect(box.err.dropFirst(ttyBox.count).contains("which is a terminal"))
    }

    @Test func inspectSeveralFilesAFolderAndSchemaDifferences() async throws {
        let (dir, config) = try setup()
        let lake = dir + "/lake"
        #expect(try await convert(config, "small", "{\"id\": 1}\n{\"id\": 2}\n", to: lake + "/a/one.parquet") == 0)
        #expect(try await convert(config, "small", "{\"id\": 3}\n", to: lake + "/a/two.parquet") == 0)
        #expect(try await convert(config, "wide", "{\"id\": \"x\", \"n\": 1.5}\n{\"id\": \"y\"}\n{\"id\": \"z\"}\n",
                                  to: lake + "/b/three.parquet") == 0)
        try "not parquet".write(toFile: lake + "/notes.txt", atomically: true, encoding: .utf8)  // not *.parquet: skipped
        try "x".write(toFile: lake + "/a/.hidden.parquet", atomically: true, encoding: .utf8)  // hidden: skipped
        let box = OutputBox()
        #expect(await Commands.inspect(paths: [lake], json: false, output: box.output) == 0, "\(box.err)")
        let text = box.out
        #expect(text.contains("\(lake)/a/one.parquet") && text.contains("\(lake)/a/two.parquet") && text.contains("\(lake)/b/three.parquet"))
        #expect(!text.contains("notes.txt") && !text.contains("hidden"))
        #expect(text.contains("3 files, 6 rows"), "\(text)")
        #expect(text.contains("2 schemas: A in 2 files, B in 1 file"), "\(text)")
        #expect(text.contains("  + n: optional DOUBLE"), "\(text)")
        #expect(text.contains("  ~ id: required INT64 → required BYTE_ARRAY (STRING)"), "\(text)")
        #expect(box.err.isEmpty)

        // JSON, read back by a parser: per file rows and bytes, totals, the differences.
        let jbox = OutputBox()
        #expect(await Commands.inspect(paths: [lake + "/a/one.parquet", lake + "/b/three.parquet"], json: true, output: jbox.output) == 0)
        let j = try #require(try JSONSerialization.jsonObject(with: Data(jbox.out.utf8)) as? [String: Any])
        let files = try #require(j["files"] as? [[String: Any]])
        #expect(files.map { $0["rows"] as? Int } == [2, 3])
        let size = try FileManager.default.attributesOfItem(atPath: lake + "/a/one.parquet")[.size] as? Int
        #expect(files.first?["bytes"] as? Int == size)
        #expect((j["total"] as? [String: Any])?["rows"] as? Int == 5)
        let diff = try #require((j["differences"] as? [[String: Any]])?.first)
        #expect((diff["added"] as? [[String: Any]])?.map { $0["path"] as? String } == ["n"])
        #expect((diff["changed"] as? [[String: Any]])?.count == 1)
    }

    @Test func inspectErrorsAreReadable() async throws {
        let (dir, config) = try setup()
        try "redis-dump-not-parquet".write(toFile: dir + "/bad.parquet", atomically: true, encoding: .utf8)
        #expect(try await convert(config, "small", "{\"id\": 1}\n", to: dir + "/good.parquet") == 0)
        let one = OutputBox()
        #expect(await Commands.inspect(paths: [dir + "/bad.parquet"], json: false, output: one.output) == 1)
        #expect(one.err == "error: \(dir)/bad.parquet: not a Parquet file (starts with \"redi\", expected \"PAR1\")\n", "\(one.err)")
        let missing = OutputBox()
        #expect(await Commands.inspect(paths: [dir + "/nope.parquet"], json: false, output: missing.output) == 1)
        #expect(missing.err == "error: no such file: \(dir)/nope.parquet\n", "\(missing.err)")
        #expect(!missing.err.contains("errno"))
        // Several: the readable files are listed, each failure named, exit 1.
        let many = OutputBox()
        #expect(await Commands.inspect(paths: [dir + "/good.parquet", dir + "/bad.parquet", dir + "/nope.parquet"], json: false,
                                       output: many.output) == 1)
        #expect(many.out.contains("1 file, 1 row,") && many.out.contains("2 unreadable"), "\(many.out)")
        #expect(many.err.contains("no such file: \(dir)/nope.parquet") && many.err.contains("starts with \"redi\""))
        // A truncated file says so.
        let good = try Data(contentsOf: URL(fileURLWithPath: dir + "/good.parquet"))
        try good.prefix(good.count - 3).write(to: URL(fileURLWithPath: dir + "/cut.parquet"))
        let cut = OutputBox()
        #expect(await Commands.inspect(paths: [dir + "/cut.parquet"], json: false, output: cut.output) == 1)
        #expect(cut.err.contains("not a Parquet file or a truncated one (ends with"), "\(cut.err)")
        #expect(await Commands.inspect(paths: [], json: false, output: OutputBox().output) == 2)
    }

    // MARK: the binary

    @Test func everyCommandHasHelpWithExamplesExitCodesAndLogLevel() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) || TestEnvironment.isCI else { return }
        for command in ["run", "convert", "inspect", "check-config"] {
            let r = try ProcessRunner.run(Self.binary, [command, "--help"], check: false)
            #expect(r.status == 0, "\(command): \(r.stderr)")
            let help = r.stdoutString
            #expect(help.contains("Examples:") && help.contains("Exit status:") && help.contains("--log-level"), "\(command): \(help)")
            #expect(help.contains("  2  ") || help.contains("  2    "), "\(command): \(help)")
            let bad = try ProcessRunner.run(Self.binary, [command, "--log-level", "loud"], check: false)
            #expect(bad.status == 2, "\(command): \(bad.stderr)")
        }
        let run = try ProcessRunner.run(Self.binary, ["run", "--help"], check: false).stdoutString
        #expect(run.contains("130") && run.contains("flush.shutdown_grace"))
    }

    @Test func convertToStandardOutputPipesIntoPyarrow() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) || TestEnvironment.isCI else { return }
        guard let python = TestEnvironment.python else { return }
        let (dir, config) = try setup()
        let input = dir + "/in.jsonl"
        try (1...500).map { "{\"id\": \($0), \"name\": \"n\($0)\"}" }.joined(separator: "\n").write(toFile: input, atomically: true, encoding: .utf8)
        // One thread in pyarrow: the suite runs many processes at once.
        let script = """
        import sys, io, pyarrow as pa, pyarrow.parquet as pq
        pa.set_cpu_count(1)
        t = pq.read_table(io.BytesIO(sys.stdin.buffer.read()), use_threads=False)
        print(t.num_rows, sum(t.column("id").to_pylist()), t.column("name").to_pylist()[-1])
        """
        // A real shell pipe; pipefail makes a failing convert fail the pipeline.
        let r = try ProcessRunner.run("/bin/bash", ["-c", "set -o pipefail; cd \"$0\" && \"$1\" convert --config \"$2\" --entity small --input \"$3\" --output - --log-level warning | \"$4\" -c \"$5\"",
                                                    dir, Self.binary, config, input, python, script], check: false)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdoutString == "500 125250 n500\n", "\(r.stdoutString)")
        #expect(r.stderr.contains("standard output: 500 rows"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir + "/-"))
        // Rejected lines: exit 3 through the pipe, the file still complete.
        try "{\"id\": 1}\n{\"id\": \"x\"}\n".write(toFile: input, atomically: true, encoding: .utf8)
        let rej = try ProcessRunner.run("/bin/bash", ["-c", "set -o pipefail; \"$0\" convert --config \"$1\" --entity small --input \"$2\" --output - | \"$3\" -c \"$4\"",
                                                      Self.binary, config, input, python, script], check: false)
        #expect(rej.status == 3, "\(rej.stderr)")
        #expect(rej.stdoutString == "1 1 None\n", "\(rej.stdoutString)")
    }

    @Test func inspectBinaryExitCodes() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary) || TestEnvironment.isCI else { return }
        let dir = try TestEnvironment.temporaryDirectory("cli-bin").path
        try "redis-server dump, not Parquet".write(toFile: dir + "/r.parquet", atomically: true, encoding: .utf8)
        let bad = try ProcessRunner.run(Self.binary, ["inspect", dir + "/r.parquet"], check: false)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("not a Parquet file (starts with \"redi\", expected \"PAR1\")"), "\(bad.stderr)")
        let missing = try ProcessRunner.run(Self.binary, ["inspect", dir + "/x.parquet", "--log-level", "debug"], check: false)
        #expect(missing.status == 1 && missing.stderr.contains("no such file: \(dir)/x.parquet"), "\(missing.stderr)")
    }
}

/// Bytes a test collects from a binary sink.
final class DataBox: @unchecked Sendable {
    // Appended from one thread at a time; the lock keeps it safe anyway.
    private let lock = NSLock()
    private var data: [UInt8] = []
    func append(_ d: Data) { lock.withLock { data += d } }
    var bytes: [UInt8] { lock.withLock { data } }
}
