import Foundation

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
        public var description: String { "\(command) exited \(result.status): \(result.stderr)" }
    }

    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
                           environment: [String: String]? = nil, check: Bool = true) throws -> ProcessResult {
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
        // Read both pipes concurrently so a chatty child never blocks on a full pipe.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        if let stdin { inp.fileHandleForWriting.write(stdin) }
        try? inp.fileHandleForWriting.close()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        let result = ProcessResult(status: p.terminationStatus, stdout: outData,
                                   stderr: String(decoding: errBox.data, as: UTF8.self))
        if check && result.status != 0 {
            throw Failure(command: ([executable] + arguments).joined(separator: " "), result: result)
        }
        return result
    }
}

// Written by one dispatch block and read after group.wait(): no concurrent access.
private final class DataBox: @unchecked Sendable { var data = Data() }
