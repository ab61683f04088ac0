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
        subcommands: [Run.self, Convert.self, Inspect.self, CheckConfig.self, DeadLetters.self])
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

struct DeadLetters: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dlq", abstract: "Dead-letter streams ({stream}:dlq): a summary, and replay after a config fix.",
        subcommands: [DeadLetterStats.self, DeadLetterReplay.self])
}

struct DeadLetterStats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stats", abstract: "Count dead letters per stream, entity and reason, with the oldest and newest id.",
        discussion: "Exit status: 0 done, 2 usage or configuration error, 1 Redis failure.")
    @Option(name: .long, help: "The YAML configuration file (its redis.url and streams).") var config: String
    @Option(name: .long, help: "One dead-letter stream, NAME:dlq (default: every configured stream's).") var stream: String?

    func run() async throws {
        let code = await Commands.dlqStats(config: config, stream: stream)
        if code != 0 { throw ExitCode(code) }
    }
}

struct DeadLetterReplay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Put dead letters back on their source stream with their original fields, removing each one re-added.",
        discussion: """
            Each dead letter is re-added (new id) and deleted in one atomic step, so an interrupted or concurrent \
            replay adds none twice. Exit status: 0 all selected replayed, 3 some left (malformed, or their source \
            stream is not NAME or not configured; listed on stderr), 2 usage or configuration error, 1 Redis failure.
            """)
    @Option(name: .long, help: "The YAML configuration file (its redis.url and streams).") var config: String
    @Option(name: .long, help: "The dead-letter stream, NAME:dlq.") var stream: String
    @Option(name: .long, help: "Only the dead letters of this entity.") var entity: String?
    @Option(name: .long, help: "Only dead letters from this dead-letter id on (inclusive).") var since: String?
    @Flag(name: .long, help: "Print what would be replayed; change nothing.") var dryRun = false

    func run() async throws {
        let code = await Commands.dlqReplay(.init(config: config, stream: stream, entity: entity, since: since, dryRun: dryRun))
        if code != 0 { throw ExitCode(code) }
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
