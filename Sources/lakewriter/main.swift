import ArgumentParser
import Foundation
import Parquet
import LakeTools
import LakeWorker

/// `lakewriter`: argument parsing only; the work is in `LakeTools.Commands` and `LakeWorker.WorkerMain`.
struct LakewriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lakewriter",
        abstract: "Redis Streams to typed Parquet on S3-compatible storage.",
        version: "lakewriter \(LakewriterVersion.version)",
        subcommands: [Run.self, Convert.self, Inspect.self, CheckConfig.self])
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the worker (consume, buffer, flush, upload, acknowledge).")
    @Option(name: .long, help: "The YAML configuration file.") var config: String

    func run() async throws {
        let code = await WorkerMain.run(configPath: config)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert JSON Lines (one payload object a line) into one Parquet file.",
        discussion: "Exit status: 0 all lines converted, 3 some rejected, 2 usage or configuration error, 1 other failure.")
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Option(name: .long, help: "The entity whose columns the lines hold.") var entity: String
    @Option(name: .long, help: "JSON Lines file, or - for stdin.") var input: String
    @Option(name: .long, help: "PATH, file://PATH or s3://BUCKET/KEY.") var output: String
    @Option(name: .long, help: "none, snappy, gzip, zstd or lz4_raw (default: the config's).") var compression: String?
    @Option(name: .long, help: "Write rejected lines here (JSON Lines with line number, reason and the line).") var rejects: String?
    @Option(name: .long, help: "Decoding threads (default: the processor count).") var threads: Int?

    func run() async throws {
        let code = await Commands.convert(.init(config: config, entity: entity, input: input, output: output,
                                                compression: compression, rejects: rejects, threads: threads))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a Parquet file's schema, row groups, column chunks, statistics and metadata.")
    @Argument(help: "PATH, file://PATH or s3://BUCKET/KEY.") var path: String
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "Configuration whose storage credentials read s3:// paths.") var config: String?

    func run() async throws {
        let code = await Commands.inspect(path: path, json: json, config: config)
        if code != 0 { throw ExitCode(code) }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration and print it resolved, secrets masked.",
        discussion: """
            With --connect it then contacts Redis (PING, each stream and the consumer group, the consumer-name
            lease) and the store (writes, reads back and deletes a probe object under the prefix), one verdict per
            line, so a wrong endpoint, bucket or password shows before deploying.

            Exit codes: 0 valid (and, with --connect, everything answered); 1 a --connect check failed;
            2 the configuration is invalid.
            """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Flag(name: .long, help: "Also contact Redis and the store and report each.") var connect = false

    func run() async throws {
        let code = Commands.checkConfig(path: config)
        if code != 0 { throw ExitCode(code) }
        if connect {
            let c = await Commands.checkConnections(path: config)
            if c != 0 { throw ExitCode(c) }
        }
    }
}

/// Calls the async `run()` (through a generic, so the sync default that prints help is not chosen).
func runAsync<C: AsyncParsableCommand>(_ command: C) async throws {
    var command = command
    try await command.run()
}

// Usage errors exit with 2 (ArgumentParser's default is 64).
do {
    var command = try LakewriterCommand.parseAsRoot()
    if let asyncCommand = command as? any AsyncParsableCommand {
        try await runAsync(asyncCommand)
    } else {
        try command.run()
    }
} catch {
    let code = LakewriterCommand.exitCode(for: error)
    if code == .validationFailure {
        FileHandle.standardError.write(Data((LakewriterCommand.fullMessage(for: error) + "\n").utf8))
        exit(Commands.Status.usage)
    }
    LakewriterCommand.exit(withError: error)
}
