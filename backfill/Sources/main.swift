import ArgumentParser
import Backfill
import Dispatch
import Foundation
import LakeModel
import Parquet
import Synchronization

/// `lakewriter-backfill`: argument parsing and signals only; the run is `Backfill.BackfillRun`.
struct BackfillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lakewriter-backfill",
        abstract: "Copy a PostgreSQL table or query to Parquet in the lake (COPY BINARY, parallel, one snapshot).",
        discussion: """
            Exit status: 0 done, 3 done with rejected rows (see the rejects file), 2 usage or configuration \
            error, 4 PostgreSQL error (connection, authentication, missing table, permission, a failing query), \
            1 storage or other failure, 130 interrupted (continue with --resume RUN_ID).
            """)

    @Option(name: .long, help: "libpq conninfo or URI (PG* variables and ~/.pgpass apply).") var dsn: String
    @Option(name: .long, help: "SCHEMA.NAME of the table to copy (partitioned tables: every leaf).") var table: String?
    @Option(name: .long, help: "A query to copy instead of a table (one job).") var query: String?
    @Option(name: .long, help: "file://PATH or s3://BUCKET[/PREFIX] (default: the config's storage.url).") var output: String?
    @Option(name: .long, help: "lakewriter configuration: storage settings, parquet settings, entities.") var config: String?
    @Option(name: .long, help: "Write the rows as this entity of --config (its schema, rules, time partitions).") var entity: String?
    @Option(name: .long, help: "Hive year/month/day/hour partitions by this timestamp or date column (without --entity).")
    var partitionBy: String?
    @Option(name: .long, help: "Parallel jobs (connections), all in one snapshot (default: the processor count).") var jobs: Int?
    @Option(name: .long, help: "none, snappy, gzip, zstd or lz4_raw (default: the config's, else snappy).") var compression: String?
    @Option(name: .long, help: "Rows per row group (default: the config's parquet.row_group_rows, else 131072).") var rowGroupRows: Int?
    @Option(name: .long, help: "Target file size, e.g. 128MiB (default: the config's flush.max_bytes, else 128MiB).")
    var maxFileBytes: String?
    @Option(name: .long, help: "Continue the run RUN_ID (its manifest _backfill/RUN_ID.json): finished chunks are skipped.")
    var resume: String?
    @Option(name: .long, help: "JSON Lines of rejected rows (default: lakewriter-backfill-RUN_ID.rejects.jsonl).") var rejects: String?
    @Option(name: .long, help: "parquet or delta: commit every file of the run to a Delta table in one commit at the end (default: the entity's table_format, else parquet).")
    var tableFormat: String?
    @Flag(name: .long, help: "Print the schema and the plan, read nothing.") var dryRun = false
    @Flag(name: .long, help: "Print the version and exit.") var version = false
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical (default: the config's log.level, else info).")
    var logLevel: BackfillLogLevel?

    mutating func validate() throws {
        if version { return }
        if table == nil && query == nil { throw ValidationError("give --table SCHEMA.NAME or --query SQL") }
        if table != nil && query != nil { throw ValidationError("give --table or --query, not both") }
        if let j = jobs, j < 1 { throw ValidationError("--jobs must be at least 1") }
        if let f = tableFormat, TableFormat(rawValue: f) == nil { throw ValidationError("--table-format \(f): expected parquet or delta") }
        if let s = maxFileBytes, ConfigSyntax.parseSize(s) == nil {
            throw ValidationError("--max-file-bytes \(s): expected a size such as 128MiB")
        }
    }

    func run() throws {
        var options = BackfillOptions(dsn: dsn, jobs: jobs ?? ProcessInfo.processInfo.activeProcessorCount)
        options.table = table
        options.query = query
        options.output = output
        options.configPath = config
        options.entity = entity
        options.partitionBy = partitionBy
        options.compression = compression
        options.rowGroupRows = rowGroupRows
        options.maxFileBytes = maxFileBytes.flatMap(ConfigSyntax.parseSize)
        options.resume = resume
        options.dryRun = dryRun
        options.tableFormat = tableFormat.flatMap(TableFormat.init(rawValue:))
        options.rejects = rejects
        options.progressLine = isatty(2) != 0
        var log = LogConfig()
        if let path = config, let c = try? ConfigLoader().load(path: path) { log = c.log }
        if let logLevel { log.level = logLevel.rawValue }
        LogOutput.bootstrap(log)
        let run = BackfillRun(options: options, logger: LogOutput.logger("lakewriter-backfill", log))
        let signals = installSignalHandlers(run)
        defer { for s in signals { s.cancel() } }
        let code = run.run()
        if code != 0 { throw ExitCode(code) }
    }

    /// The first SIGINT/SIGTERM cancels the run cleanly (no partial file visible, the manifest
    /// says where it stopped); a second one exits at once.
    func installSignalHandlers(_ run: BackfillRun) -> [DispatchSourceSignal] {
        let count = SignalCount()
        return [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if count.increment() == 1 {
                    FileHandle.standardError.write(Data("\nlakewriter-backfill: stopping (a second signal exits at once)\n".utf8))
                    run.cancel()
                } else {
                    _exit(130)
                }
            }
            source.resume()
            return source
        }
    }
}

/// Signals received so far (from the global queue's handlers).
final class SignalCount: Sendable {
    private let n = Mutex(0)
    func increment() -> Int { n.withLock { $0 += 1; return $0 } }
}

// --version prints the version files carry in created_by.
if CommandLine.arguments.dropFirst().contains("--version") {
    print("lakewriter-backfill \(LakewriterVersion.version)")
    exit(0)
}
do {
    var command = try BackfillCommand.parseAsRoot()
    try command.run()
} catch {
    let code = BackfillCommand.exitCode(for: error)
    if code == .validationFailure {
        FileHandle.standardError.write(Data((BackfillCommand.fullMessage(for: error) + "\n").utf8))
        exit(BackfillStatus.usage)
    }
    BackfillCommand.exit(withError: error)
}

enum BackfillLogLevel: String, ExpressibleByArgument, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
