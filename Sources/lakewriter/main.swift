import ArgumentParser
import Foundation
import LakeModel
import Parquet
import LakeTools
import LakeWorker

/// `lakewriter`: argument parsing only; the work is in `LakeTools.Commands` and `LakeWorker.WorkerMain`.
struct LakewriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lakewriter",
        abstract: "Redis Streams to typed Parquet on S3-compatible storage.",
        discussion: """
        Every command takes --log-level (trace, debug, info, notice, warning, error, critical) and \
        documents its examples and exit codes in its --help. Usage errors exit with 2.
        """,
        version: "lakewriter \(LakewriterVersion.version)",
        subcommands: [Run.self, Convert.self, Inspect.self, CheckConfig.self, DeadLetters.self, Compact.self, Vacuum.self])
}

/// `--log-level`, validated by ArgumentParser (which lists the choices in --help and errors).
enum LogLevelOption: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// The diagnostics of the offline commands: text lines on stderr at `level` (default info).
func bootstrapToolLogs(_ level: LogLevelOption?) {
    var log = LogConfig()
    log.level = (level ?? .info).rawValue
    LogOutput.bootstrap(log)
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the worker (consume, buffer, flush, upload, acknowledge).",
        discussion: """
        Reads the configured streams with the consumer group redis.group as redis.consumer, writes \
        Parquet files to storage.url and acknowledges each entry once its file is stored. SIGTERM or \
        SIGINT drains: stop reading, flush, upload, acknowledge, exit.

        Examples:
          lakewriter run --config lw.yaml
          lakewriter run --config lw.yaml --log-level debug

        Exit status:
          0    drained after SIGTERM/SIGINT: every buffered row written and
               acknowledged
          1    stopped on an error (logged with its cause)
          2    usage or configuration error
          130  drain cut short, by a second signal or by flush.shutdown_grace
               running out: what was not written stays pending and is read
               again on the next start
        """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Option(name: .long, help: "Overrides the config's log.level.") var logLevel: LogLevelOption?

    func run() async throws {
        let code = await WorkerMain.run(configPath: config, logLevel: logLevel?.rawValue)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert JSON Lines (one payload object a line) into one Parquet file.",
        discussion: """
        Each line is decoded by the entity's columns, as the worker decodes a payload. The file is \
        written under a temporary name and renamed when complete; missing folders of --output and \
        --rejects are created. --output - writes the finished file to standard output (not to a terminal).

        Examples:
          lakewriter convert --config lw.yaml --entity orders \\
            --input orders.jsonl --output out/orders.parquet --rejects out/rej.jsonl
          gzip -dc orders.jsonl.gz | lakewriter convert --config lw.yaml \\
            --entity orders --input - --output s3://lake/orders.parquet
          lakewriter convert --config lw.yaml --entity orders \\
            --input orders.jsonl --output - | aws s3 cp - s3://lake/o.parquet

        Exit status:
          0  every line converted
          1  I/O or storage failure
          2  usage or configuration error
          3  some lines rejected (in --rejects, else the first 10 on stderr);
             the file holds the others
        """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Option(name: .long, help: "The entity whose columns the lines hold.") var entity: String
    @Option(name: .long, help: "JSON Lines file, or - for stdin.") var input: String
    @Option(name: .long, help: "PATH, file://PATH, s3://BUCKET/KEY, or - for stdout.") var output: String
    @Option(name: .long, help: "none, snappy, gzip, zstd or lz4_raw (default: the config's).") var compression: String?
    @Option(name: .long, help: "Write rejected lines here (JSON Lines with line number, reason and the line).") var rejects: String?
    @Option(name: .long, help: "Decoding threads (default: the processor count).") var threads: Int?
    @Option(name: .long, help: "Level of the diagnostics on stderr (default info; debug shows S3 retries).") var logLevel: LogLevelOption?

    func run() async throws {
        bootstrapToolLogs(logLevel)
        let code = await Commands.convert(.init(config: config, entity: entity, input: input, output: output,
                                                compression: compression, rejects: rejects, threads: threads))
        if code != 0 { throw ExitCode(code) }
    }
}

struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show Parquet files: one file's schema, row groups, chunks, statistics and metadata; or a table of several.",
        discussion: """
        One file: its schema with logical types, row groups, per column chunk the codec, encodings, \
        sizes, values, null count and min/max decoded by type, and the key-value metadata. Several \
        files, a folder (its *.parquet files, recursively) or an s3://BUCKET/PREFIX/ (ending in /): \
        one line per file (rows, bytes, row groups, schema), the totals, and how the schemas differ \
        (columns added, removed or changed against the first schema). At most 10000 files.

        Examples:
          lakewriter inspect lake/orders/year=2026/month=12/day=01/hour=10/x.parquet
          lakewriter inspect lake/orders/ --json
          lakewriter inspect a.parquet b.parquet
          lakewriter inspect s3://lake/events/orders/ --config lw.yaml

        Exit status:
          0  every file read
          1  a file missing or not Parquet (named on stderr, the others still
             listed), or a storage failure
          2  usage or configuration error
        """)
    @Argument(help: "Files, folders, file://PATH, s3://BUCKET/KEY or s3://BUCKET/PREFIX/.") var paths: [String]
    @Flag(name: .long, help: "Print JSON.") var json = false
    @Option(name: .long, help: "Configuration whose storage settings read s3:// paths.") var config: String?
    @Option(name: .long, help: "Level of the diagnostics on stderr (default info; debug shows S3 retries).") var logLevel: LogLevelOption?

    func run() async throws {
        bootstrapToolLogs(logLevel)
        let code = await Commands.inspect(paths: paths, json: json, config: config)
        if code != 0 { throw ExitCode(code) }
    }
}

struct CheckConfig: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config", abstract: "Validate a configuration and print it resolved, secrets masked.",
        discussion: """
        Prints the configuration with every default filled in (redis.consumer resolved from $HOSTNAME \
        or the host name) and secrets masked, or the first error with its file, line and key path, and \
        where an s3:// store's credentials will come from.

        With --connect it then contacts Redis (PING, each stream and the consumer group, the consumer-name \
        lease) and the store (writes, reads back and deletes a probe object under the prefix), one verdict per \
        line, so a wrong endpoint, bucket or password shows before deploying.

        Examples:
          lakewriter check-config --config lw.yaml
          HOSTNAME=worker-2 lakewriter check-config --config lw.yaml
          lakewriter check-config --config lw.yaml --connect

        Exit status:
          0  valid (and, with --connect, everything answered)
          1  a --connect check failed
          2  invalid (the error names the file, line and key), or a usage error
        """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Flag(name: .long, help: "Also contact Redis and the store and report each.") var connect = false
    @Option(name: .long, help: "Level of the diagnostics on stderr (default info).") var logLevel: LogLevelOption?

    func run() async throws {
        bootstrapToolLogs(logLevel)
        let code = Commands.checkConfig(path: config)
        if code != 0 { throw ExitCode(code) }
        if connect {
            let c = await Commands.checkConnections(path: config)
            if c != 0 { throw ExitCode(c) }
        }
    }
}

struct Compact: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compact", abstract: "Join the small files of each partition of the Delta tables into files of about the target size.",
        discussion: """
            Per partition directory, small files (under half the target size) older than --older-than are joined \
            row group by row group (no re-encoding: rows, their order and the schema stay) and committed as \
            remove + add with dataChange false, one commit per new file. It runs while the worker appends; a file \
            another compaction took first makes that commit a conflict, and the new file is deleted again.

            Examples:
              lakewriter compact --config lw.yaml
              lakewriter compact --config lw.yaml --entity orders --partition tenant_id=acme --target-size 256MiB

            Exit status: 0 done, 1 a storage or log error, 2 usage or configuration error.
            """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Option(name: .long, help: "Only this Delta entity (default: every one).") var entity: String?
    @Option(name: .long, help: "Only partition directories starting with this path (tenant=acme, year=2026/month=12).")
    var partition: String?
    @Option(name: .long, help: "Size of the joined files (default 128MiB).") var targetSize: String = "128MiB"
    @Option(name: .long, help: "Join a directory's small files only when it has at least this many (default 5).") var minFiles = 5
    @Option(name: .long, help: "Only files committed longer ago than this (default 1h).") var olderThan: String = "1h"
    @Option(name: .long, help: "Level of the diagnostics on stderr (default info).") var logLevel: LogLevelOption?

    func run() async throws {
        bootstrapToolLogs(logLevel)
        var r = Commands.CompactRequest(config: config)
        guard let size = ConfigSyntax.parseSize(targetSize) else { throw ValidationError("--target-size \(targetSize): expected a size such as 128MiB") }
        guard let age = ConfigSyntax.parseDuration(olderThan) else { throw ValidationError("--older-than \(olderThan): expected a duration such as 1h") }
        r.entity = entity
        r.partition = partition
        r.targetSize = size
        r.minFiles = minFiles
        r.olderThan = age
        let code = await Commands.compact(r)
        if code != 0 { throw ExitCode(code) }
    }
}

struct Vacuum: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vacuum", abstract: "Delete the data files of the Delta tables that no live version needs.",
        discussion: """
            Deletes files removed from the table (by compaction) longer ago than --retention, and files no commit \
            ever referenced (uploads whose commit never happened) last modified before it. Files of the current \
            version and files removed within the retention (time travel) are kept. A retention below 1h is refused \
            unless --force.

            Exit status: 0 done, 1 a storage or log error, 2 usage or configuration error.
            """)
    @Option(name: .long, help: "The YAML configuration file.") var config: String
    @Option(name: .long, help: "Only this Delta entity (default: every one).") var entity: String?
    @Option(name: .long, help: "Keep what versions of this age still need (default 7d).") var retention: String = "7d"
    @Flag(name: .long, help: "List what would be deleted; delete nothing.") var dryRun = false
    @Flag(name: .long, help: "Allow a retention below 1h.") var force = false
    @Option(name: .long, help: "Level of the diagnostics on stderr (default info).") var logLevel: LogLevelOption?

    func run() async throws {
        bootstrapToolLogs(logLevel)
        guard let r = ConfigSyntax.parseDuration(retention) else { throw ValidationError("--retention \(retention): expected a duration such as 7d") }
        let code = await Commands.vacuum(config: config, entity: entity, retention: r, dryRun: dryRun, force: force)
        if code != 0 { throw ExitCode(code) }
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
