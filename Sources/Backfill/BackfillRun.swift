import Dispatch
import DeltaLake
import Foundation
import LakeDecoding
import LakeModel
import LakeOutput
import Logging
import ObjectStore
import Parquet
import PostgresSource
import Synchronization

/// What `lakewriter-backfill` was asked to do.
package struct BackfillOptions: Sendable {
    package var dsn: String
    package var table: String?
    package var query: String?
    /// `file://…` or `s3://bucket[/prefix]`; nil: the config's `storage.url`.
    package var output: String?
    package var configPath: String?
    package var entity: String?
    package var partitionBy: String?
    package var jobs: Int
    package var compression: String?
    package var rowGroupRows: Int?
    package var maxFileBytes: Int64?
    package var resume: String?
    package var dryRun = false
    /// Parquet files only, or one Delta commit of them all at the end (nil: the entity's format).
    package var tableFormat: TableFormat?
    /// JSON Lines of rejected rows; nil: `lakewriter-backfill-RUN_ID.rejects.jsonl` in the working directory.
    package var rejects: String?
    /// A progress line on stderr (a terminal); otherwise a log line every 10 s.
    package var progressLine = false

    package init(dsn: String, jobs: Int = ProcessInfo.processInfo.activeProcessorCount) {
        self.dsn = dsn
        self.jobs = jobs
    }
}

/// Exit codes of `lakewriter-backfill` (README lists them).
package enum BackfillStatus {
    package static let ok: Int32 = 0
    /// Storage failure or an unexpected error.
    package static let failure: Int32 = 1
    /// Usage or configuration error (nothing was read).
    package static let usage: Int32 = 2
    /// Finished, but some rows were rejected (see the rejects file).
    package static let rejected: Int32 = 3
    /// PostgreSQL: connection, authentication, missing table, permission, a query failing.
    package static let source: Int32 = 4
    /// Interrupted (SIGINT/SIGTERM): resume with `--resume RUN_ID`.
    package static let interrupted: Int32 = 130
}

/// An error that ends the run with `status`.
package struct BackfillFailure: Error, CustomStringConvertible {
    package var status: Int32
    package var description: String
    package init(_ status: Int32, _ description: String) {
        self.status = status
        self.description = description
    }
}

/// **Backfill** — one `lakewriter-backfill` run: PostgreSQL read through COPY BINARY by parallel
/// jobs sharing one snapshot, converted to the catalog's Parquet schema or to an entity's (the
/// worker's rules), written to the lake row group by row group with the output module, and
/// recorded in a manifest that `--resume` continues from.
package final class BackfillRun: @unchecked Sendable {
    package let options: BackfillOptions
    let environment: [String: String]
    let logger: Logger
    let out: @Sendable (String) -> Void
    let err: @Sendable (String) -> Void
    private let cancelled = Atomic<Bool>(false)
    private let failed = Mutex<BackfillFailure?>(nil)
    private let connections = Mutex<[ObjectIdentifier: PGConnection]>([:])
    // Progress counters.
    private let rowsRead = Atomic<Int>(0)
    private let bytesRead = Atomic<Int>(0)
    private let pagesDone = Atomic<Int>(0)

    package init(options: BackfillOptions, environment: [String: String] = ProcessInfo.processInfo.environment,
                 logger: Logger = Logger(label: "lakewriter-backfill"),
                 out: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) },
                 err: @escaping @Sendable (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.options = options
        self.environment = environment
        self.logger = logger
        self.out = out
        self.err = err
    }

    /// Stops the run (SIGINT/SIGTERM): running COPYs are cancelled, open files abandoned, the
    /// manifest records where it stopped. Safe from any thread.
    package func cancel() {
        guard !cancelled.exchange(true, ordering: .sequentiallyConsistent) else { return }
        for c in connections.withLock({ Array($0.values) }) { c.cancel() }
    }

    private func fail(_ f: BackfillFailure) {
        let first = failed.withLock { current -> Bool in
            if current == nil { current = f; return true }
            return false
        }
        if first {
            for c in connections.withLock({ Array($0.values) }) { c.cancel() }
        }
    }

    private var stopping: Bool { cancelled.load(ordering: .relaxed) || failed.withLock { $0 != nil } }

    /// Ends the run with a job's error (a COPY cancelled by ``cancel()`` or by another job's
    /// failure is not one).
    private func report(_ error: any Error) {
        switch error {
        case let f as BackfillFailure:
            fail(f)
        case let e as PostgresError:
            if e.kind == .cancelled && (cancelled.load(ordering: .relaxed) || failed.withLock({ $0 != nil })) { return }
            fail(BackfillFailure(BackfillStatus.source, "\(e)"))
        default:
            if stopping { return }
            fail(BackfillFailure(BackfillStatus.failure, "\(error)"))
        }
    }

    /// Runs to the end and returns the exit status; every error is reported on stderr first.
    package func run() -> Int32 {
        do {
            return try runThrowing()
        } catch let f as BackfillFailure {
            err("error: \(f.description)\n")
            return f.status
        } catch let e as PostgresError {
            err("error: \(e)\n")
            return BackfillStatus.source
        } catch {
            err("error: \(error)\n")
            return BackfillStatus.failure
        }
    }

    // MARK: - Setup

    struct Setup {
        var config: LakewriterConfig?
        var entity: EntityConfig?
        var storage: StorageConfig
        var properties: WriterProperties
        var maxFileBytes: Int64
        var tableFormat: TableFormat = .parquet
    }

    func setup() throws -> Setup {
        let o = options
        guard (o.table == nil) != (o.query == nil) else {
            throw BackfillFailure(BackfillStatus.usage, "give exactly one of --table and --query")
        }
        guard o.jobs >= 1, o.jobs <= 256 else { throw BackfillFailure(BackfillStatus.usage, "--jobs must be 1…256") }
        var config: LakewriterConfig?
        if let path = o.configPath {
            do { config = try ConfigLoader(environment: environment).load(path: path) } catch {
                throw BackfillFailure(BackfillStatus.usage, "\(error)")
            }
        }
        var entity: EntityConfig?
        if let name = o.entity {
            guard let config else { throw BackfillFailure(BackfillStatus.usage, "--entity needs --config") }
            guard let e = config.entity(named: name) else {
                throw BackfillFailure(BackfillStatus.usage, "--entity \(name): no such entity in \(o.configPath!) "
                    + "(entities: \(config.entities.map(\.name).joined(separator: ", ")))")
            }
            entity = e
            if o.partitionBy != nil {
                throw BackfillFailure(BackfillStatus.usage, "--partition-by is for output without --entity: "
                    + "an entity's files are partitioned by its time column, as the worker's")
            }
        }
        var storage = config?.storage ?? StorageConfig()
        if let output = o.output { storage.url = output } else if config == nil {
            throw BackfillFailure(BackfillStatus.usage, "--output is required without --config")
        }
        guard StorageLocation(storage.url) != nil else {
            throw BackfillFailure(BackfillStatus.usage, "--output \(storage.url): expected file://PATH or s3://BUCKET[/PREFIX]")
        }
        var parquet: ParquetConfig
        if let c = config?.parquet {
            parquet = c
        } else {
            // Without a config: row groups of 128Ki rows (DuckDB writes 122,880), so a job's
            // memory does not follow the table: a range of a big table is one file of many row
            // groups, not one row group of up to 1Mi rows held until the file is closed.
            parquet = ParquetConfig()
            parquet.rowGroupRows = Self.defaultRowGroupRows
        }
        if let c = o.compression {
            guard let codec = ParquetConfig.Compression(name: c) else {
                throw BackfillFailure(BackfillStatus.usage, "--compression \(c): expected none, snappy, gzip, zstd or lz4_raw")
            }
            parquet.compression = codec
        }
        if let r = o.rowGroupRows {
            guard r >= 1 else { throw BackfillFailure(BackfillStatus.usage, "--row-group-rows must be at least 1") }
            parquet.rowGroupRows = r
        }
        let maxFileBytes = o.maxFileBytes ?? config?.flush.maxBytes ?? (128 << 20)
        guard maxFileBytes >= 1 << 20 else { throw BackfillFailure(BackfillStatus.usage, "--max-file-bytes must be at least 1MiB") }
        let format = o.tableFormat ?? entity?.tableFormat ?? .parquet
        if format == .delta, let e = entity, e.tableFormat != .delta {
            // The files must be written with the Delta mapping of the entity's types.
            entity?.tableFormat = .delta
            if let c = e.columns.lazy.compactMap({ $0.type.deltaRefusal }).first {
                throw BackfillFailure(BackfillStatus.usage, "--table-format delta: entity \(e.name): \(c)")
            }
        }
        return Setup(config: config, entity: entity, storage: storage, properties: parquet.writerProperties,
                     maxFileBytes: maxFileBytes, tableFormat: format)
    }

    /// Rows per row group without `--row-group-rows` or a config.
    package static let defaultRowGroupRows = 131_072

    /// Sets the session so text conversions are stable: UTC, ISO dates, shortest exact floats.
    static let sessionSettings = "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD'; SET IntervalStyle = 'iso_8601'; "
        + "SET extra_float_digits = 1"

    /// Applies ``sessionSettings`` and the client encoding: UTF8, so text comes in UTF-8
    /// whatever the database's encoding (the server converts it, so it is valid and the decoder
    /// need not check it again), except on a SQL_ASCII database, whose bytes PostgreSQL never
    /// checked: there the bytes come as stored and the decoder checks them, refusing the rows
    /// that are not UTF-8 (rejects) instead of the server failing the whole COPY.
    static func applySessionSettings(_ conn: PGConnection) throws {
        try conn.exec(sessionSettings, step: "session settings")
        let sqlASCII = conn.parameterStatus("server_encoding") == "SQL_ASCII"
        try conn.exec("SET client_encoding = '\(sqlASCII ? "SQL_ASCII" : "UTF8")'", step: "session settings")
    }

    // MARK: - Run

    /// How one chunk is read and written.
    struct Reader: @unchecked Sendable {
        var mapping: SourceMapping
        var entityMapping: EntityMapping?
        var entitySchema: EntitySchema?
        var schema: ParquetSchema
        /// Columns decoded but left out of the files (`partition_columns_in_file: false`).
        var droppedColumns: Set<String> = []
        var keyColumn: String?
        var partitionColumn: Int?
        var partitionIsDate = false
        var query: String?
        /// SQL of a chunk.
        func sql(_ c: BackfillManifest.Chunk, from: String) -> String {
            let condition = BackfillJob.ctidCondition(firstPage: c.firstPage, endPage: c.endPage)
            if let e = entityMapping {
                var select = "SELECT \(e.expressions.joined(separator: ", ")) FROM \(from)"
                if let condition { select += " WHERE \(condition)" }
                return "COPY (\(select)) TO STDOUT (FORMAT binary)"
            }
            return mapping.copyStatement(from: from, where: condition)
        }
    }

    func runThrowing() throws -> Int32 {
        let setup = try setup()
        let o = options
        let runStart = Date()
        let runID = o.resume ?? Self.newRunID(runStart)
        if o.resume != nil && o.dryRun {
            throw BackfillFailure(BackfillStatus.usage, "--dry-run and --resume do not combine")
        }

        // One snapshot for every job; a single connection's transaction when it cannot be shared.
        var coordinator: SnapshotCoordinator?
        var jobs = o.jobs
        let planConnection: PGConnection
        let attempt = Result { () throws(PostgresError) -> SnapshotCoordinator in
            try SnapshotCoordinator(dsn: o.dsn, logger: logger)
        }
        switch attempt {
        case .success(let c):
            coordinator = c
            planConnection = c.connection
        case .failure(let e):
            guard e.kind == .snapshot else { throw e }
            if jobs > 1 {
                logger.warning("the snapshot cannot be shared between jobs: running one job", metadata: ["error": "\(e)"])
                err("warning: \(e.message): running one job instead of \(jobs)\n")
            }
            jobs = 1
            let c = try PGConnection(o.dsn, logger: logger)
            try c.exec(SnapshotCoordinator.beginStatement, step: "begin transaction")
            planConnection = c
        }
        defer { coordinator?.close() }
        try Self.applySessionSettings(planConnection)
        let catalog = PostgresCatalog(planConnection)

        let plan: BackfillPlan
        var primaryKey: [String] = []
        var tableName: PGTableName?
        var rootIsPartitioned = false
        if let t = o.table {
            let name = try PGTableName(parsing: t)
            tableName = name
            plan = try BackfillPlan.table(name, catalog: catalog, parallelism: o.query == nil ? max(1, jobs * 4) : 1)
            let root = try catalog.relation(name)
            rootIsPartitioned = root.kind == "p"
            primaryKey = try planConnection.query("""
                SELECT a.attname FROM pg_catalog.pg_index i
                JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
                WHERE i.indrelid = $1::oid AND i.indisprimary ORDER BY array_position(i.indkey, a.attnum)
                """, [String(root.oid)], step: "primary key").compactMap { $0.first ?? nil }
        } else {
            plan = try BackfillPlan.query(o.query!, catalog: catalog)
        }
        let isQuery = o.query != nil

        // The schema: the entity's (converted by the worker's rules) or the catalog's.
        var reader = Reader(mapping: plan.mapping, schema: plan.mapping.schema)
        var properties = setup.properties
        properties.keyValueMetadata["lakewriter.backfill.run_id"] = runID
        properties.keyValueMetadata["lakewriter.backfill.source"] = plan.source
        if let entity = setup.entity {
            let idExpr = isQuery ? StreamIDExpression.query(run: runID)
                : StreamIDExpression.table(tableName!.description, primaryKey: primaryKey)
            do {
                reader.entityMapping = try EntityMapping(entity: entity, columns: plan.mapping.columns.map(\.column),
                                                         qualifier: isQuery ? "lw_q" : nil, streamID: idExpr)
            } catch {
                throw BackfillFailure(BackfillStatus.usage, error.description)
            }
            let schema = EntitySchema(entity: entity)
            reader.entitySchema = schema
            do {
                reader.schema = try schema.parquetSchema()
                if (!entity.partitionColumnsInFile || entity.tableFormat == .delta) && !entity.partitionBy.isEmpty {
                    reader.droppedColumns = Set(entity.partitionBy)
                    reader.schema = try RowBatch(reader.schema).removingTopLevelFields(reader.droppedColumns).schema
                }
            } catch {
                throw BackfillFailure(BackfillStatus.usage, "entity \(entity.name): \(error)")
            }
            properties.keyValueMetadata["lakewriter.entity"] = entity.name
        } else {
            reader.keyColumn = primaryKey.first.flatMap { k in plan.mapping.columns.contains { $0.column.name == k } ? k : nil }
            properties.keyValueMetadata["lakewriter.postgres.columns"] = "["
                + plan.mapping.columns.map { "{\"name\":\(JSONText.quoted($0.column.name)),\"type\":\(JSONText.quoted($0.column.typeName))"
                    + ($0.isCastToText ? ",\"cast\":\"text\"" : "") + "}" }.joined(separator: ",") + "]"
            if let p = o.partitionBy {
                guard let i = plan.mapping.columns.firstIndex(where: { $0.column.name == p }) else {
                    throw BackfillFailure(BackfillStatus.usage, "--partition-by \(p): no such column "
                        + "(columns: \(plan.mapping.columns.map(\.column.name).joined(separator: ", ")))")
                }
                switch plan.mapping.columns[i].wireType {
                case .timestamp, .timestamptz: break
                case .date: reader.partitionIsDate = true
                default:
                    throw BackfillFailure(BackfillStatus.usage, "--partition-by \(p): must be a timestamp, timestamptz or date "
                        + "column, not \(plan.mapping.columns[i].column.typeName)")
                }
                guard let leaf = reader.schema.columnIndex(p) else {
                    throw BackfillFailure(BackfillStatus.usage, "--partition-by \(p): not a top-level column")
                }
                reader.partitionColumn = leaf
            }
        }
        if !plan.mapping.castColumns.isEmpty && setup.entity == nil {
            logger.notice("read as text (no binary reader for their type)", metadata: [
                "columns": "\(plan.mapping.castColumns.joined(separator: ","))",
            ])
        }
        reader.query = o.query

        // Chunks: a new plan, or the manifest's for a resume.
        // A leaf of a partitioned table is read with ONLY (its parent has no rows of its own).
        let partitioned = rootIsPartitioned || plan.relations.count > 1
        let from: (PGRelation) -> String = { rel in (partitioned ? "ONLY " : "") + rel.qualifiedName.quoted }
        var chunks = plan.jobs.enumerated().map { i, job in
            BackfillManifest.Chunk(id: i, relation: job.relation.map(from), firstPage: job.firstPage,
                                   endPage: job.endPage, state: "pending")
        }
        let schemaLines = reader.schema.columns.map { "\($0.dottedPath): \($0.type)\($0.maxDefinitionLevel > 0 ? "" : " required")" }

        if o.dryRun {
            printPlan(plan: plan, reader: reader, chunks: chunks, jobs: jobs, setup: setup, schemaLines: schemaLines)
            return BackfillStatus.ok
        }

        // The store, and the manifest (written before any row is read: an unwritable store fails first).
        let store: any ObjectStore
        do { store = try setup.storage.openStore(logger: logger) } catch {
            throw BackfillFailure(BackfillStatus.failure, "storage \(setup.storage.url): \(error)")
        }
        defer { _ = try? BlockingWork.wait { try await store.shutdown() } }
        var manifest = BackfillManifest(runID: runID, source: plan.source, query: o.query, dsn: maskedDSN(o.dsn),
                                        snapshot: coordinator?.snapshotID, output: setup.storage.url,
                                        entity: setup.entity?.name, partitionBy: o.partitionBy, schema: schemaLines,
                                        startedAt: Self.timestamp(runStart), state: "running", chunks: chunks)
        if let id = o.resume {
            let previous: BackfillManifest
            do { previous = try BlockingWork.wait { try await ManifestStore.load(runID: id, store: store) } } catch {
                throw BackfillFailure(BackfillStatus.usage, "--resume \(id): cannot read \(BackfillManifest.key(runID: id)) "
                    + "in \(setup.storage.url): \(error)")
            }
            guard previous.source == plan.source, previous.query == o.query, previous.entity == setup.entity?.name,
                  previous.schema == schemaLines, previous.partitionBy == o.partitionBy else {
                throw BackfillFailure(BackfillStatus.usage, "--resume \(id): the run read \(previous.source)"
                    + (previous.entity.map { " as entity \($0)" } ?? "") + " with another schema or options; "
                    + "resume it with the same --table/--query, --entity and --partition-by")
            }
            // Chunks that did not finish start again; the files they had finished are removed first.
            chunks = previous.chunks
            for i in chunks.indices where chunks[i].state != "done" {
                for f in chunks[i].files {
                    do { try BlockingWork.wait { try await store.delete(key: f.key) } } catch {
                        throw BackfillFailure(BackfillStatus.failure, "--resume: removing \(f.key) of an unfinished chunk: \(error)")
                    }
                }
                chunks[i].files = []
                chunks[i].rows = 0
                chunks[i].rejected = 0
                chunks[i].state = "pending"
            }
            manifest = previous
            manifest.chunks = chunks
            manifest.resumedFrom.append(previous.startedAt)
            manifest.snapshot = coordinator?.snapshotID
            manifest.state = "running"
            manifest.endedAt = nil
            manifest.error = nil
        }
        let manifests = ManifestStore(manifest, store: store)
        do { try BlockingWork.wait { try await manifests.update { _ in } } } catch {
            throw BackfillFailure(BackfillStatus.failure, "storage \(setup.storage.url): writing the manifest: \(error)")
        }

        let rejects = RejectsFile(path: o.rejects ?? "lakewriter-backfill-\(runID).rejects.jsonl", run: runID)
        let todo = chunks.filter { $0.state != "done" }
        let totalPages = plan.relations.reduce(0) { $0 + $1.pages }
        for c in chunks where c.state == "done" { pagesDone.add(pages(of: c, plan: plan), ordering: .relaxed) }
        logger.info("backfill starting", metadata: [
            "run": "\(runID)", "source": "\(plan.source)", "jobs": .stringConvertible(min(jobs, max(1, todo.count))),
            "chunks": "\(todo.count) of \(chunks.count)", "output": "\(setup.storage.url)",
            "snapshot": "\(coordinator?.snapshotID ?? "-")",
        ])

        // Jobs: threads, each with its own connection in the shared snapshot, taking chunks in turn.
        let queue = Mutex(todo)
        let workers = min(jobs, max(1, todo.count))
        let group = DispatchGroup()
        let startedAt = ContinuousClock.now
        let progress = ProgressReporter(enabled: true, line: o.progressLine, totalPages: totalPages,
                                        rows: { self.rowsRead.load(ordering: .relaxed) },
                                        bytes: { self.bytesRead.load(ordering: .relaxed) },
                                        pages: { self.pagesDone.load(ordering: .relaxed) }, logger: logger, err: err)
        progress.start()
        let runHour = HourPartition(epochMillis: Int64(runStart.timeIntervalSince1970 * 1000))
        let context = JobContext(reader: reader, properties: properties, store: store,
                                 options: setup.storage.writerOptions, maxFileBytes: setup.maxFileBytes,
                                 prefix: setup.entity.map { $0.name + "/" } ?? "", manifests: manifests,
                                 rejects: rejects, runHour: runHour, delta: setup.tableFormat == .delta)
        let shared = coordinator
        for w in 0..<workers {
            group.enter()
            let thread = Thread { [self] in
                defer { group.leave() }
                do {
                    let conn: PGConnection
                    if let shared {
                        conn = try shared.openJobConnection(logger: logger)
                    } else if w == 0 {
                        conn = planConnection
                    } else {
                        return
                    }
                    connections.withLock { $0[ObjectIdentifier(conn)] = conn }
                    defer { _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(conn)) } }
                    if shared != nil { try Self.applySessionSettings(conn) }
                    let batches = BatchPool()  // this job's batches, reused chunk after chunk
                    // A chunk's files are closed while the next chunk's COPY runs; the job ends
                    // only when the last close did.
                    let closer = ChunkCloser { [self] in report($0) }
                    defer { closer.wait() }
                    while !stopping, let chunk = queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) {
                        try runChunk(chunk, conn: conn, context: context, plan: plan, batches: batches, closer: closer)
                    }
                } catch {
                    report(error)
                }
            }
            thread.stackSize = 8 << 20
            thread.name = "backfill-job-\(w)"
            thread.start()
        }
        group.wait()
        progress.stop()
        let elapsed = startedAt.duration(to: .now)

        let failure = failed.withLock { $0 }
        let interrupted = cancelled.load(ordering: .relaxed)
        try? rejects.close(replacing: failure == nil && !interrupted)
        let finalState = failure != nil ? "failed" : interrupted ? "cancelled" : rejects.rejected > 0 ? "done_with_rejects" : "done"
        let endedAt = Self.timestamp(Date())
        let failureText = failure?.description
        _ = try? BlockingWork.wait {
            try await manifests.update { m in
                m.state = finalState
                m.endedAt = endedAt
                m.error = failureText
                for i in m.chunks.indices where m.chunks[i].state == "running" || m.chunks[i].state == "pending" {
                    m.chunks[i].state = interrupted ? "cancelled" : (failureText != nil ? "failed" : m.chunks[i].state)
                }
            }
        }
        var final = BlockingWork.waitValue { await manifests.manifest }
        var deltaNote = ""
        if setup.tableFormat == .delta && failure == nil && !interrupted {
            let root = setup.entity.map { $0.name + "/" } ?? ""
            do {
                let schema = try setup.entity.map { try EntitySchema(entity: $0).parquetSchema() } ?? plan.mapping.schema
                let manifest = final
                let version = try BlockingWork.wait {
                    try await self.commitDelta(manifest, store: store, root: root, schema: schema,
                                               partitionColumns: setup.entity?.partitionBy ?? [], runID: runID,
                                               source: plan.source, interval: setup.storage.deltaCheckpointInterval)
                }
                deltaNote = "; Delta table \(root.isEmpty ? "." : root) version \(version)"
            } catch {
                final.state = "failed"
                err("error: every file is written but the Delta commit failed: \(error); commit them with --resume \(runID)\n")
                _ = try? BlockingWork.wait { try await manifests.update { m in m.state = "failed"; m.error = "delta commit: \(error)" } }
                return BackfillStatus.failure
            }
        }
        let secs = max(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18, 1e-9)
        let summary = "backfill \(runID) \(finalState): \(final.rows) rows in \(final.files.count) files "
            + "(\(final.bytes) bytes) in \(String(format: "%.2f", secs)) s, \(String(format: "%.0f", Double(rowsRead.load(ordering: .relaxed)) / secs)) rows/s"
            + (rejects.rejected > 0 ? ", \(rejects.rejected) rejected (\(rejects.writtenPath ?? rejects.path))" : "")
            + "; manifest \(BackfillManifest.key(runID: runID))" + deltaNote + "\n"
        err(summary)
        logger.info("backfill ended", metadata: ["run": "\(runID)", "state": "\(finalState)", "rows": .stringConvertible(final.rows),
                                                 "files": .stringConvertible(final.files.count), "rejected": .stringConvertible(rejects.rejected)])
        if let failure {
            err("error: \(failure.description)\n")
            return failure.status
        }
        if interrupted {
            err("interrupted: continue with --resume \(runID)\n")
            return BackfillStatus.interrupted
        }
        return rejects.rejected > 0 ? BackfillStatus.rejected : BackfillStatus.ok
    }

    /// Commits every file of the run to the Delta table at `root` in one commit, whose commitInfo
    /// names the run. A resume of a run whose commit already landed finds it and commits nothing.
    func commitDelta(_ manifest: BackfillManifest, store: any ObjectStore, root: String, schema: ParquetSchema,
                     partitionColumns: [String], runID: String, source: String, interval: Int) async throws -> Int64 {
        let log = DeltaLog(store: store, root: root)
        if let v = try await log.findCommit(infoKey: "run", value: runID) {
            logger.info("the run is already committed to the Delta table", metadata: ["run": "\(runID)", "version": "\(v)"])
            return v
        }
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        var adds: [DeltaAdd] = []
        for f in manifest.files {
            guard f.key.hasPrefix(root) else { throw DeltaError.log("file \(f.key) is not under the table \(root)") }
            guard let values = DeltaAdd.partitionValues(ofKey: f.key, columns: partitionColumns) else {
                throw DeltaError.log("file \(f.key) has no segment for a partition column (\(partitionColumns.joined(separator: ", ")))")
            }
            adds.append(DeltaAdd(path: String(f.key.dropFirst(root.count)), partitionValues: values, size: Int64(f.bytes),
                                 modificationTime: now, stats: f.stats))
        }
        let table = DeltaTable(store: store, root: root, checkpointInterval: interval, logger: logger)
        var commit = DeltaCommit(adds: adds, schema: schema, partitionColumns: partitionColumns)
        commit.info = [("run", runID), ("source", source), ("files", String(adds.count)), ("rows", String(manifest.rows))]
        var attempt = 0
        while true {
            do {
                let v = try await table.commit(commit)
                logger.info("backfill committed to the Delta table", metadata: ["run": "\(runID)", "version": "\(v)",
                                                                                 "files": .stringConvertible(adds.count)])
                return v
            } catch let e as DeltaError {
                throw e
            } catch {
                attempt += 1
                guard attempt < 8 else { throw error }
                try await Task.sleep(for: .milliseconds(200 << attempt))
            }
        }
    }

    /// What a job thread needs to run chunks.
    struct JobContext: @unchecked Sendable {
        var reader: Reader
        var properties: WriterProperties
        var store: any ObjectStore
        var options: ObjectWriterOptions
        var maxFileBytes: Int64
        var prefix: String
        var manifests: ManifestStore
        var rejects: RejectsFile
        var runHour: HourPartition
        var delta = false
    }

    func pages(of c: BackfillManifest.Chunk, plan: BackfillPlan) -> Int {
        let relPages = plan.relations.first { c.relation?.hasSuffix($0.relation.qualifiedName.quoted) ?? false }?.pages ?? 0
        return max(0, (c.endPage ?? relPages) - (c.firstPage ?? 0))
    }

    /// Reads one chunk into its files; the chunk is done (in the manifest) only when every file
    /// of it is stored. On any error its open files are abandoned and the finished ones removed.
    /// The files are finished on `closer`'s thread once the COPY ended, so the job's next COPY
    /// starts meanwhile (the PostgreSQL backend and the decoder do not wait for file closes,
    /// fsyncs and manifest writes); at most one chunk of a job is closing at a time.
    func runChunk(_ chunk: BackfillManifest.Chunk, conn: PGConnection, context: JobContext, plan: BackfillPlan,
                  batches: BatchPool = BatchPool(), closer: ChunkCloser? = nil) throws {
        let id = chunk.id
        let manifests = context.manifests
        try BlockingWork.wait { try await manifests.update { m in m.chunks[id].state = "running" } }
        var finished: [BackfillManifest.File] = []
        let output = ChunkOutput(schema: context.reader.schema, dropping: context.reader.droppedColumns, deltaStats: context.delta,
                                 properties: context.properties, store: context.store,
                                 options: context.options, prefix: context.prefix, maxFileBytes: context.maxFileBytes) { file in
            finished.append(file)
            try BlockingWork.wait { try await manifests.update { m in m.chunks[id].files.append(file) } }
        }
        let from = chunk.relation ?? "(\(Self.queryBody(context.reader.query ?? ""))) AS lw_q"
        let sql = context.reader.sql(chunk, from: from)
        let abandon = { [self] in
            output.abortAll()
            for f in finished { _ = try? BlockingWork.wait { try await context.store.delete(key: f.key) } }
            let state = cancelled.load(ordering: .relaxed) ? "cancelled" : "failed"
            _ = try? BlockingWork.wait {
                try await manifests.update { m in
                    m.chunks[id].state = state
                    m.chunks[id].files = []
                }
            }
        }
        let rows: Int, rejected: Int, encoded: () throws -> Void
        let started = ContinuousClock.now
        do {
            if let e = context.reader.entityMapping {
                (rows, rejected) = try readEntity(sql, mapping: e, schema: context.reader.entitySchema!, conn: conn,
                                                  output: output, chunk: id, context: context)
                encoded = {}
            } else {
                (rows, rejected, encoded) = try readCatalog(sql, conn: conn, output: output, chunk: id, context: context,
                                                            batches: batches)
            }
        } catch {
            abandon()
            throw error
        }
        let read = ContinuousClock.now
        logger.debug("chunk read", metadata: ["chunk": "\(id)", "rows": "\(rows)", "seconds": "\(Self.seconds(started, read))"])
        let close = { [self] in
            do {
                try encoded()
                try output.finishAll()
            } catch {
                abandon()
                throw error
            }
            logger.debug("chunk written", metadata: ["chunk": "\(id)", "files": "\(finished.count)",
                                                     "close_seconds": "\(Self.seconds(read, .now))"])
            try BlockingWork.wait {
                try await manifests.update { m in
                    m.chunks[id].state = "done"
                    m.chunks[id].rows = rows
                    m.chunks[id].rejected = rejected
                }
            }
            pagesDone.add(pages(of: chunk, plan: plan), ordering: .relaxed)
        }
        if let closer { closer.submit(close) } else { try close() }
    }

    /// Catalog mode: COPY BINARY decoded straight into column builders on the job thread, while
    /// an encoder thread writes the previous batch (split by hour with `--partition-by`): the COPY
    /// stream never waits for encoding, and two batches alternate so no buffer is reallocated
    /// (they come from `batches` and go back to it, grown, for the job's next chunk).
    /// Returns the rows read and rejected, and what waits for the encoder to write the last
    /// batches (call it before finishing `output`).
    func readCatalog(_ sql: String, conn: PGConnection, output: ChunkOutput, chunk: Int,
                     context: JobContext, batches: BatchPool) throws -> (Int, Int, () throws -> Void) {
        let reader = context.reader
        var rejected = 0
        // Three batches per chunk: one decoded into, one waiting for the encoder, one encoded.
        let pipe = EncodePipe(schema: reader.mapping.schema,
                              spares: [batches.take(reader.mapping.schema), batches.take(reader.mapping.schema)]) { batch in
            self.rowsRead.add(batch.rowCount, ordering: .relaxed)
            guard let p = reader.partitionColumn else {
                try output.write(batch, to: .none)
                return
            }
            var keys: [Int] = []
            keys.reserveCapacity(batch.rowCount)
            let isDate = reader.partitionIsDate
            batch.columns[p].forEachFlatInteger { v in
                guard let v else { keys.append(Int.min); return }
                keys.append(Int(isDate ? HourPartition(hoursSinceEpoch: v &* 24).hoursSinceEpoch
                                       : HourPartition(epochMicros: v).hoursSinceEpoch))
            }
            for part in batch.split(byRowKeys: keys) {
                try output.write(part.batch, to: part.key == Int.min ? .nullTime
                                                 : .hour(HourPartition(hoursSinceEpoch: Int64(part.key))))
            }
        }
        var batch = batches.take(reader.mapping.schema)
        let finishEncoding = {
            defer { batches.give(pipe.takeSpares()) }
            try pipe.finish()
        }
        var reading = true
        defer {
            batch.removeAll()
            batches.give([batch])
            if reading { try? finishEncoding() }
        }
        var decoder = try CopyBinaryDecoder(mapping: reader.mapping, keyColumn: reader.keyColumn,
                                            textIsValidUTF8: conn.deliversValidUTF8)
        let maxRows = 16_384, maxBytes = 8 << 20
        var nextByteCheck = 1024
        var lastBytes = 0
        try conn.copyOut(sql) { buffer in
            try decoder.decode(buffer, into: &batch) { e in
                rejected += 1
                context.rejects.add(chunk: chunk, row: e.row, key: e.key, column: e.column, reason: e.reason)
            }
            let rows = batch.rowCount
            var full = rows >= maxRows
            if !full && rows >= nextByteCheck {
                nextByteCheck = rows + 1024
                full = batch.byteCount >= maxBytes
            }
            if full {
                bytesRead.add(decoder.bytesConsumed - lastBytes, ordering: .relaxed)
                lastBytes = decoder.bytesConsumed
                batch = try pipe.handoff(batch)
                nextByteCheck = 1024
            }
        }
        try decoder.finish()
        bytesRead.add(decoder.bytesConsumed - lastBytes, ordering: .relaxed)
        if batch.rowCount > 0 { batch = try pipe.handoff(batch) }
        reading = false
        return (decoder.rowsDecoded, rejected, finishEncoding)
    }

    /// A batch of entity mode: the rows of one partition (field values and time period).
    struct EntityBatchKey: Hashable {
        var time: HourPartition
        var values: [UInt8]
    }

    /// Entity mode: every column read as the text the worker's rules take, decoded row by row by
    /// the entity's decoder into the batch of the row's partition (the worker's layout: the
    /// `partition_by` values, then the `time_partition` segments).
    func readEntity(_ sql: String, mapping: EntityMapping, schema: EntitySchema, conn: PGConnection,
                    output: ChunkOutput, chunk: Int, context: JobContext) throws -> (Int, Int) {
        let decoder = try EntityDecoder(entity: mapping.decoding, schema: EntitySchema(entity: mapping.decoding))
        let granularity = mapping.decoding.timePartition
        let partitionColumns = mapping.decoding.partitionBy
        var batches: [EntityBatchKey: (partition: FilePartition, batch: RowBatch)] = [:]
        var scratch: [UInt8] = []
        let batchRows = 16_384
        var tuples = CopyTupleReader(columns: mapping.expressions.count)
        let fields = mapping.fieldNames.count
        var names: [UInt8] = []
        var nameRanges: [Range<Int>] = []
        for n in mapping.fieldNames {
            let s = names.count
            names += Array(n.utf8)
            nameRanges.append(s..<names.count)
        }
        var present = [Int](repeating: 0, count: fields)
        var rows = 0, rejected = 0, row = 0
        try names.withUnsafeBytes { nameBytes in
            try conn.copyOut(sql) { buffer in
                bytesRead.add(buffer.count, ordering: .relaxed)
                try tuples.feed(buffer) { t in
                    defer { row += 1 }
                    var k = 0
                    for f in 0..<fields where t.field(f) != nil {
                        present[k] = f
                        k += 1
                    }
                    let id = t.field(fields) ?? UnsafeRawBufferPointer(start: nil, count: 0)
                    do throws(DecodeError) {
                        try decoder.stageFields(count: k, name: { UnsafeRawBufferPointer(rebasing: nameBytes[nameRanges[present[$0]]]) },
                                                value: { t.field(present[$0])! })
                    } catch {
                        rejected += 1
                        context.rejects.add(chunk: chunk, row: row, key: String(decoding: id, as: UTF8.self),
                                            column: error.field, reason: "\(error)")
                        return
                    }
                    let hour = (decoder.stagedTimeMicros.map { HourPartition(epochMicros: $0) } ?? context.runHour)
                        .truncated(to: granularity)
                    if decoder.hasPartitionColumns { decoder.stagedPartitionKey(into: &scratch) }
                    let key = EntityBatchKey(time: hour, values: decoder.hasPartitionColumns ? scratch : [])
                    if batches[key] == nil {
                        let fields = zip(partitionColumns, decoder.stagedPartitionValues()).map {
                            FilePartition.PartitionValue(column: $0, value: $1)
                        }
                        let partition = FilePartition(fields: fields, granularity: granularity, time: hour)
                        if let long = partition.overlongSegment {
                            rejected += 1
                            context.rejects.add(chunk: chunk, row: row, key: String(decoding: id, as: UTF8.self), column: nil,
                                                reason: "the partition segment is \(long.utf8.count) bytes, more than \(HivePath.maxSegmentBytes)")
                            return
                        }
                        batches[key] = (partition, decoder.makeBatch())
                    }
                    decoder.commitStaged(streamID: id, into: &batches[key]!.batch)
                    rows += 1
                    if batches[key]!.batch.rowCount >= batchRows {
                        rowsRead.add(batchRows, ordering: .relaxed)
                        try output.write(batches[key]!.batch, to: .path(batches[key]!.partition.path))
                        batches[key]!.batch.removeAll()
                    }
                }
            }
        }
        try tuples.finish()
        for (_, b) in batches where b.batch.rowCount > 0 {
            rowsRead.add(b.batch.rowCount, ordering: .relaxed)
            try output.write(b.batch, to: .path(b.partition.path))
        }
        return (rows, rejected)
    }

    // MARK: - Dry run and helpers

    func printPlan(plan: BackfillPlan, reader: Reader, chunks: [BackfillManifest.Chunk], jobs: Int, setup: Setup,
                   schemaLines: [String]) {
        var s = "source: \(plan.source)\n"
        if let e = setup.entity { s += "entity: \(e.name) (the worker's schema and conversion rules)\n" }
        s += "output: \(setup.storage.url)\n"
        s += "schema:\n" + schemaLines.map { "  \($0)\n" }.joined()
        if let e = reader.entityMapping {
            s += "columns:\n" + e.lines.map { "  \($0)\n" }.joined()
        } else {
            for c in plan.mapping.columns {
                s += "  \(c.column.name) ← \(c.column.typeName)\(c.isCastToText ? " (read as text)" : "")"
                    + (c.note.map { ": \($0)" } ?? "") + "\n"
            }
        }
        s += "plan: \(min(jobs, chunks.count)) jobs, \(chunks.count) chunks, estimated "
            + (plan.estimatedRows.map { "\($0) rows" } ?? "unknown rows") + ", \(plan.estimatedBytes) bytes on disk\n"
        for r in plan.relations {
            s += "  \(r.relation.qualifiedName.quoted): \(r.pages) pages, \(r.bytes) bytes, "
                + (r.estimatedRows.map { "~\($0) rows" } ?? "rows unknown") + "\n"
        }
        for c in chunks {
            s += "  chunk \(c.id): \(c.relation ?? "query") pages \(c.firstPage.map(String.init) ?? "start")…\(c.endPage.map(String.init) ?? "end")\n"
        }
        out(s)
    }

    /// `--query` without trailing semicolons and blanks, to wrap as a subquery.
    static func queryBody(_ sql: String) -> Substring {
        var body = Substring(sql)
        while let l = body.last, l == ";" || l.isWhitespace { body.removeLast() }
        return body
    }

    /// `a` to `b` in seconds, to the millisecond (for log lines).
    static func seconds(_ a: ContinuousClock.Instant, _ b: ContinuousClock.Instant) -> String {
        let d = a.duration(to: b)
        return String(format: "%.3f", Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18)
    }

    static func newRunID(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        let rand = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        return String(format: "%04d%02d%02dT%02d%02d%02dZ-", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                      tmv.tm_hour, tmv.tm_min, tmv.tm_sec) + String(repeating: "0", count: 4 - rand.count) + rand
    }

    static func timestamp(_ d: Date) -> String {
        var t = time_t(d.timeIntervalSince1970)
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                      tmv.tm_hour, tmv.tm_min, tmv.tm_sec)
    }
}

extension BlockingWork {
    /// `wait` for work that cannot fail.
    static func waitValue<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
        (try? wait { await body() })!
    }
}

/// The progress of a run: on a terminal one line redrawn every second (rows, rows/s, MB/s,
/// pages done of total, ETA); otherwise a log line every 10 s.
final class ProgressReporter: @unchecked Sendable {
    let line: Bool
    let totalPages: Int
    let rows: () -> Int, bytes: () -> Int, pages: () -> Int
    let logger: Logger
    let err: @Sendable (String) -> Void
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)
    /// Signalled by ``stop()``, so the reporter does not finish its 250 ms wait first.
    private let wake = DispatchSemaphore(value: 0)
    private let started = ContinuousClock.now

    init(enabled: Bool, line: Bool, totalPages: Int, rows: @escaping () -> Int, bytes: @escaping () -> Int,
         pages: @escaping () -> Int, logger: Logger, err: @escaping @Sendable (String) -> Void) {
        self.line = line
        self.totalPages = totalPages
        self.rows = rows
        self.bytes = bytes
        self.pages = pages
        self.logger = logger
        self.err = err
    }

    func start() {
        let t = Thread { [self] in
            var ticks = 0
            while !stopped.load(ordering: .relaxed) {
                if wake.wait(timeout: .now() + .milliseconds(250)) == .success { break }
                ticks += 1
                if line ? ticks % 4 == 0 : ticks % 40 == 0 { report() }
            }
            if line { err("\n") }
            done.signal()
        }
        t.start()
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        wake.signal()
        done.wait()
    }

    func report() {
        let e = started.duration(to: .now)
        let secs = max(Double(e.components.seconds) + Double(e.components.attoseconds) / 1e18, 1e-3)
        let r = rows(), b = bytes(), p = pages()
        var eta = "?"
        if totalPages > 0 && p > 0 {
            let remaining = secs * Double(totalPages - p) / Double(p)
            eta = String(format: "%.0fs", max(0, remaining))
        }
        let text = String(format: "%d rows, %.0f rows/s, %.1f MB/s, pages %d/%d, ETA %@", r, Double(r) / secs,
                          Double(b) / secs / 1e6, p, totalPages, eta)
        if line {
            err("\r\u{1B}[K" + text)
        } else {
            logger.info("backfill progress", metadata: ["progress": "\(text)"])
        }
    }
}


/// One job's encoder thread: takes full batches from the decoding thread (one at a time, so the
/// decoder is at most one batch ahead) and hands back emptied ones for reuse.
final class EncodePipe: @unchecked Sendable {
    // All state is guarded by `condition`.
    private let condition = NSCondition()
    private var slot: RowBatch?
    private var spare: [RowBatch] = []
    private var failure: (any Error)?
    private var closed = false
    private let done = DispatchSemaphore(value: 0)
    private let schema: ParquetSchema

    init(schema: ParquetSchema, spares: [RowBatch] = [], work: @escaping (RowBatch) throws -> Void) {
        self.schema = schema
        spare = spares
        let box = WorkBox(work: work)
        let thread = Thread { [self] in
            defer { done.signal() }
            while true {
                condition.lock()
                while slot == nil && !closed { condition.wait() }
                guard var batch = slot else {
                    condition.unlock()
                    return
                }
                slot = nil
                condition.broadcast()
                condition.unlock()
                do {
                    try box.work(batch)
                } catch {
                    condition.lock()
                    failure = error
                    condition.broadcast()
                    condition.unlock()
                    return
                }
                batch.removeAll()
                condition.lock()
                spare.append(batch)
                condition.unlock()
            }
        }
        thread.stackSize = 8 << 20
        thread.name = "backfill-encode"
        thread.start()
    }

    private struct WorkBox: @unchecked Sendable {
        let work: (RowBatch) throws -> Void
    }

    /// Gives `batch` to the encoder (waiting while it still has the previous one) and returns an
    /// empty batch to decode into next.
    func handoff(_ batch: RowBatch) throws -> RowBatch {
        condition.lock()
        defer { condition.unlock() }
        while slot != nil && failure == nil { condition.wait() }
        if let failure { throw failure }
        slot = batch
        condition.broadcast()
        return spare.popLast() ?? RowBatch(schema)
    }

    /// The emptied batches the encoder handed back (call after ``close()``).
    func takeSpares() -> [RowBatch] {
        condition.withLock {
            defer { spare = [] }
            return spare
        }
    }

    /// Waits until every batch handed over is written; rethrows the encoder's error.
    func finish() throws {
        close()
        if let failure = condition.withLock({ failure }) { throw failure }
    }

    /// Stops the encoder after the batch it has (idempotent) and waits for it.
    func close() {
        condition.lock()
        let first = !closed
        closed = true
        condition.broadcast()
        condition.unlock()
        if first { done.wait() }
    }
}

/// A job's row batches, kept (emptied, with their grown buffers) from one chunk to the next so
/// a chunk does not grow its column buffers from nothing again. The job thread takes them; the
/// job's closing chunk gives its encoder's back.
final class BatchPool: @unchecked Sendable {
    private let batches = Mutex<[RowBatch]>([])

    /// An empty batch of `schema`: a kept one, else a new one.
    func take(_ schema: ParquetSchema) -> RowBatch {
        batches.withLock { batches in
            while let b = batches.popLast() {
                if b.schema == schema { return b }
            }
            return nil
        } ?? RowBatch(schema)
    }

    /// Keeps `returned` (each emptied) for the next ``take(_:)``; at most four are kept (a
    /// chunk takes three; the one its decoder held comes back as the next chunk starts, the
    /// encoder's when the chunk is closed).
    func give(_ returned: [RowBatch]) {
        for var b in returned {
            b.removeAll()
            let kept = batches.withLock { batches -> Bool in
                guard batches.count < 4 else { return false }
                batches.append(b)
                return true
            }
            if !kept { return }
        }
    }
}

/// Runs a job's chunk closes (the encoder's last batches, the files' finish, the manifest) on
/// their own thread, one at a time: ``submit(_:)`` first waits for the previous close. A close
/// that fails goes to `onError` (which ends the run) as soon as it fails.
final class ChunkCloser: @unchecked Sendable {
    private let condition = NSCondition()
    private var busy = false
    private let onError: @Sendable (any Error) -> Void

    init(onError: @escaping @Sendable (any Error) -> Void) {
        self.onError = onError
    }

    func submit(_ work: @escaping () throws -> Void) {
        wait()
        condition.withLock { busy = true }
        let box = WorkBox(work: work)
        let thread = Thread { [self] in
            do { try box.work() } catch { onError(error) }
            condition.withLock {
                busy = false
                condition.broadcast()
            }
        }
        thread.stackSize = 8 << 20
        thread.name = "backfill-close"
        thread.start()
    }

    /// Until the close in progress (if any) ended.
    func wait() {
        condition.withLock {
            while busy { condition.wait() }
        }
    }

    private struct WorkBox: @unchecked Sendable {
        let work: () throws -> Void
    }
}
