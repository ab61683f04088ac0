import Foundation
import Synchronization

/// Where the servers started by `scripts/test` listen, read from the environment
/// (see scripts/lib/services.sh). Tests that need a server are skipped only when
/// run outside scripts/test; CI always sets every variable.
public enum TestEnvironment {
    public static func value(_ name: String) -> String? {
        let v = ProcessInfo.processInfo.environment[name]
        return (v?.isEmpty ?? true) ? nil : v
    }
    public static var redisURL: String? { value("LAKEWRITER_TEST_REDIS_URL") }
    public static var postgres: String? { value("LAKEWRITER_TEST_PG") }
    public static var s3Endpoint: String? { value("LAKEWRITER_TEST_S3_ENDPOINT") }
    public static var s3AccessKey: String? { value("LAKEWRITER_TEST_S3_ACCESS_KEY") }
    public static var s3SecretKey: String? { value("LAKEWRITER_TEST_S3_SECRET_KEY") }
    public static var s3Region: String { value("LAKEWRITER_TEST_S3_REGION") ?? "us-east-1" }
    public static var python: String? { value("LAKEWRITER_TEST_PYTHON") }
    /// A Python with deltalake, polars and DuckDB with its delta extension (scripts/test makes it).
    public static var deltaPython: String? { value("LAKEWRITER_TEST_DELTA_PYTHON") }
    public static var redisServerBinary: String { value("LAKEWRITER_REDIS_SERVER") ?? "/usr/bin/redis-server" }
    public static var weedBinary: String? { value("LAKEWRITER_WEED") }
    /// True under CI (`CI=true`): missing servers are then a failure, not a skip.
    public static var isCI: Bool { value("CI") != nil }

    /// The repository root, found from this file's path.
    public static var repositoryRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A fresh temporary directory for one test.
    public static func temporaryDirectory(_ label: String = "test") throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("lakewriter-\(label)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Runs a child process and captures its output.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: Data
    public var stderr: String
    public var stdoutString: String { String(decoding: stdout, as: UTF8.self) }
}

public enum ProcessRunner {
    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var result: ProcessResult
        public var timedOut = false
        public var description: String {
            timedOut ? "\(command) was killed after running past its time limit: \(result.stderr)"
                : "\(command) exited \(result.status): \(result.stderr)"
        }
    }

    /// Runs `executable` to its end and returns its status and output. A child still running
    /// after `timeout` is killed and the call throws: a stuck reader never holds a test (and the
    /// cooperative thread it blocks) for good.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, check: Bool = true,
                           timeout: Duration = .seconds(240)) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let environment {
            p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        let pid = p.processIdentifier
        let killed = Flag()
        let limit = DispatchWorkItem {
            killed.set()
            kill(pid, SIGKILL)
        }
        let (seconds, attoseconds) = timeout.components
        DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18, execute: limit)
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        // Standard input from a thread of its own too: a child may write much before it has read
        // all of it. A child that exits without reading it makes the write fail (EPIPE), not
        // this process die of SIGPIPE.
        _ = ignoreBrokenPipes
        let input = inp.fileHandleForWriting
        group.enter()
        DispatchQueue.global().async {
            if let stdin { try? input.write(contentsOf: stdin) }
            try? input.close()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        limit.cancel()
        let result = ProcessResult(status: p.terminationStatus, stdout: outData,
                                   stderr: String(decoding: errBox.data, as: UTF8.self))
        let command = ([executable] + arguments).joined(separator: " ")
        if killed.isSet { throw Failure(command: command, result: result, timedOut: true) }
        if check && result.status != 0 {
            throw Failure(command: command, result: result)
        }
        return result
    }
}

/// Writes to a pipe whose reader is gone fail with EPIPE instead of ending the test process.
private let ignoreBrokenPipes: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

extension ProcessRunner {
    /// ``run(_:_:stdin:environment:check:timeout:)`` for async callers: the child is waited for on
    /// a thread of its own, never on Swift's cooperative pool. That pool has one thread per core;
    /// on two cores, two tests blocked on their DuckDB read-backs would stall every other test,
    /// the worker under test and the HTTP server a child may be talking to.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, check: Bool = true,
                           timeout: Duration = .seconds(240)) async throws -> ProcessResult {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, Error>) in
            let thread = Thread {
                continuation.resume(with: Result {
                    try run(executable, arguments, stdin: stdin, environment: environment, check: check, timeout: timeout) as ProcessResult
                })
            }
            thread.start()
        }
    }
}

// Written by one dispatch block and read after group.wait(): no concurrent access.
private final class DataBox: @unchecked Sendable { var data = Data() }

private final class Flag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
