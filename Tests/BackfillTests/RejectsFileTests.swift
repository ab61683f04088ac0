@testable import Backfill
import Foundation
import Testing
import TestSupport

/// The rejects file of a backfill: valid JSON Lines, put in place when the run ends, and never
/// written over an existing file by a run that failed.
@Suite struct RejectsFileTests {
    @Test func aFailedRunKeepsTheExistingFileAndASuccessfulOneReplacesIt() throws {
        let dir = try TestEnvironment.temporaryDirectory("rejects").path
        let path = dir + "/rejects.jsonl"
        try "earlier run\n".write(toFile: path, atomically: true, encoding: .utf8)

        let failed = RejectsFile(path: path, run: "r1")
        failed.add(chunk: 2, row: 7, key: "(0,7)", column: "amount", reason: "value exceeds decimal(5,2)")
        try failed.close(replacing: false)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "earlier run\n")
        #expect(failed.writtenPath == path + ".partial-r1")
        let line = try String(contentsOfFile: path + ".partial-r1", encoding: .utf8)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(json["run"] as? String == "r1" && json["row"] as? Int == 7 && json["column"] as? String == "amount")

        let done = RejectsFile(path: path, run: "r2")
        done.add(chunk: 0, row: 1, key: nil, column: nil, reason: "x")
        try done.close(replacing: true)
        #expect(done.writtenPath == path)
        #expect(try String(contentsOfFile: path, encoding: .utf8).contains("\"run\":\"r2\""))

        // Nothing rejected: no file, the existing one untouched, no temporary left behind.
        let clean = RejectsFile(path: path, run: "r3")
        try clean.close(replacing: false)
        #expect(clean.writtenPath == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["rejects.jsonl", "rejects.jsonl.partial-r1"])
    }
}

/// `lakewriter-backfill --log-level`: listed in the help, checked against the levels.
@Suite struct BackfillLogLevelTests {
    @Test func logLevelIsAnOptionWithTheLevels() throws {
        #expect(FileManager.default.isExecutableFile(atPath: BF.binary))
        let help = try ProcessRunner.run(BF.binary, ["--help"], check: false)
        #expect(help.status == 0 && help.stdoutString.contains("--log-level"))
        let bad = try ProcessRunner.run(BF.binary, ["--dsn", "x", "--table", "t", "--log-level", "loud"], check: false)
        #expect(bad.status == 2)
        #expect(!bad.stderr.contains("Unknown option") && bad.stderr.contains("debug"), "\(bad.stderr)")
    }
}
