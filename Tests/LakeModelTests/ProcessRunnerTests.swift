import Foundation
import Testing
import TestSupport

/// The tests' child-process helper: output of both streams, exit codes, and a child that runs
/// past its time limit is killed and reported instead of holding its test for good.
@Suite struct ProcessRunnerTests {
    @Test func streamsAndExitCodes() throws {
        let r = try ProcessRunner.run("/bin/sh", ["-c", "cat; echo err >&2; exit 3"], stdin: Data("in".utf8), check: false)
        #expect(r.status == 3)
        #expect(r.stdoutString == "in" && r.stderr == "err\n")
        // More than a pipe holds, in and out at once.
        let big = Data((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
        #expect(try ProcessRunner.run("/bin/cat", [], stdin: big).stdout == big)
        #expect(throws: ProcessRunner.Failure.self) { try ProcessRunner.run("/bin/false", []) }
    }

    @Test func aChildPastItsTimeLimitIsKilled() throws {
        let started = ContinuousClock.now
        do {
            try ProcessRunner.run("/bin/sh", ["-c", "echo started >&2; exec sleep 60"], timeout: .milliseconds(500))
            Issue.record("the sleep was not stopped")
        } catch let failure as ProcessRunner.Failure {
            #expect(failure.timedOut)
            #expect(failure.result.stderr == "started\n")
            #expect("\(failure)".contains("past its time limit"), "\(failure)")
        }
        #expect(started.duration(to: .now) < .seconds(30))
        // A child that ends in time is not reported as stopped.
        #expect(try ProcessRunner.run("/bin/sh", ["-c", "exit 0"], timeout: .seconds(30)).status == 0)
    }
}
