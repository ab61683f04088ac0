import Logging

/// Shares one snapshot between the connections of a parallel backfill.
///
/// The coordinator's connection runs `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY` and
/// `SELECT pg_export_snapshot()` and keeps that transaction open (the snapshot lives only as
/// long as it); each job connection begins the same kind of transaction and imports the
/// snapshot with `SET TRANSACTION SNAPSHOT`. All jobs then see exactly the same rows.
///
/// When the export or an import fails (a standby, a pooler in transaction mode, a server or
/// role that refuses it), the error has kind ``PostgresError/Kind-swift.enum/snapshot``: the
/// caller must refuse or fall back to one job. It never reads different snapshots silently.
///
/// `@unchecked Sendable`: ``openJobConnection(logger:)`` only reads immutable state (the DSN
/// and the snapshot id) and makes a new connection, so job threads may call it concurrently;
/// ``connection`` and ``close()`` belong to the thread that made the coordinator.
package final class SnapshotCoordinator: @unchecked Sendable {
    /// The connection holding the exporting transaction; plan queries may run on it.
    package let connection: PGConnection
    /// The exported snapshot's id (`00000003-0000001B-1`).
    package let snapshotID: String
    private let dsn: String

    package static let beginStatement = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"

    package init(dsn: String, logger: Logger = Logger(label: "lakewriter.postgres")) throws(PostgresError) {
        self.dsn = dsn
        connection = try PGConnection(dsn, logger: logger)
        do throws(PostgresError) {
            try connection.exec(Self.beginStatement, step: "begin snapshot transaction")
            guard let id = try connection.query("SELECT pg_catalog.pg_export_snapshot()", step: "export snapshot")
                .first?.first ?? nil else {
                throw PostgresError(.snapshot, step: "export snapshot", message: "pg_export_snapshot() returned no id")
            }
            snapshotID = id
        } catch {
            throw Self.asSnapshotError(error, step: "export snapshot")
        }
        logger.debug("snapshot exported", metadata: ["postgres.snapshot": "\(snapshotID)"])
    }

    /// A new connection inside a transaction that sees the exported snapshot. Close it (or
    /// `COMMIT`) when its job is done; the coordinator must stay open until every job
    /// connection has imported the snapshot.
    package func openJobConnection(logger: Logger = Logger(label: "lakewriter.postgres")) throws(PostgresError) -> PGConnection {
        let c = try PGConnection(dsn, logger: logger)
        do throws(PostgresError) {
            try c.exec(Self.beginStatement, step: "begin job transaction")
            try c.exec("SET TRANSACTION SNAPSHOT " + quoteLiteral(snapshotID), step: "import snapshot")
        } catch {
            throw Self.asSnapshotError(error, step: "import snapshot")
        }
        return c
    }

    /// Ends the exporting transaction.
    package func close() {
        try? connection.exec("COMMIT", step: "end snapshot transaction")
    }

    static func asSnapshotError(_ e: PostgresError, step: String) -> PostgresError {
        // A broken connection or cancellation stays what it is; anything else means no shared snapshot.
        if e.kind == .connection || e.kind == .cancelled || e.kind == .authentication { return e }
        var s = e
        s.kind = .snapshot
        s.step = step
        s.message = "cannot share one snapshot between jobs (\(e.message)); use one job, or connect to the primary directly"
        return s
    }
}
