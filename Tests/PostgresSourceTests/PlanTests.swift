import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

@Suite("Parallel plans and shared snapshots", .enabled(if: postgresAvailable))
struct PlanTests {
    struct Row: Hashable, Comparable {
        var id: Int64
        var payload: [UInt8]
        static func < (a: Row, b: Row) -> Bool { a.id != b.id ? a.id < b.id : a.payload.lexicographicallyPrecedes(b.payload) }
    }

    /// Rows of batches of `(id int8 NOT NULL, payload text)`.
    static func rows(_ batch: RowBatch) -> [Row] {
        let ids = batch.columns[0].int64s
        var p = 0
        return ids.indices.map { i in
            var payload: [UInt8] = []
            if batch.columns[1].defs[i] == 1 { payload = batch.columns[1].bytesValue(p); p += 1 }
            return Row(id: ids[i], payload: payload)
        }
    }

    /// Guarded by its lock (the jobs run on several threads).
    final class Results: @unchecked Sendable {
        let lock = NSLock()
        var rows: [Row] = []
        var failure: String? = nil
    }

    /// Runs every job of `plan` on its own connection and thread, inside `coordinator`'s snapshot.
    static func runAll(_ plan: BackfillPlan, _ coordinator: SnapshotCoordinator) throws -> [Row] {
        let results = Results()
        let jobs = plan.jobs
        DispatchQueue.concurrentPerform(iterations: jobs.count) { i in
            do {
                let c = try coordinator.openJobConnection(logger: testLogger)
                var mine: [Row] = []
                _ = try c.copy(jobs[i].sql, mapping: plan.mapping, limits: BatchLimits(maxRows: 700),
                               flush: { mine += rows($0) })
                try c.exec("COMMIT")
                results.lock.withLock { results.rows += mine }
            } catch {
                results.lock.withLock { results.failure = "\(error)" }
            }
        }
        if let f = results.failure { Issue.record("job failed: \(f)"); throw CancellationError() }
        return results.rows.sorted()
    }

    static func createTable(_ conn: PGConnection, _ s: String, rows: Int) throws {
        try conn.exec("""
            CREATE TABLE \(s).big (id int8 NOT NULL, payload text);
            INSERT INTO \(s).big SELECT g, CASE WHEN g % 97 = 0 THEN NULL ELSE repeat(md5(g::text), 1 + g % 7) END
            FROM generate_series(1, \(rows)) g;
            DELETE FROM \(s).big WHERE id % 50 = 0;
            ANALYZE \(s).big;
            """)
    }

    @Test func oneJobAndFourJobsReadTheSameRows() throws {
        try withSchema("plan") { conn, s in
            try Self.createTable(conn, s, rows: 6000)
            let table = PGTableName(schema: s, name: "big")
            let coordinator = try SnapshotCoordinator(dsn: try testDSN(), logger: testLogger)
            defer { coordinator.close() }
            let catalog = PostgresCatalog(coordinator.connection)
            let one = try BackfillPlan.table(table, catalog: catalog, parallelism: 1)
            let four = try BackfillPlan.table(table, catalog: catalog, parallelism: 4)
            #expect(one.jobs.count == 1 && four.jobs.count == 4)
            #expect(!one.jobs[0].sql.contains("ctid"))
            #expect(four.jobs[0].firstPage == nil && four.jobs[3].endPage == nil)
            #expect(four.jobs[1].sql.contains("ctid >= '("))
            let pages = try #require(four.relations.first?.pages)
            #expect(pages > 10)
            #expect(four.estimatedBytes == Int64(pages) * 8192)
            #expect(four.estimatedRows == 5880)
            let a = try Self.runAll(one, coordinator)
            let b = try Self.runAll(four, coordinator)
            #expect(a.count == 5880)
            #expect(a == b)
            #expect(Set(a.map(\.id)).count == a.count)
        }
    }

    @Test func jobsShareTheExportedSnapshot() throws {
        try withSchema("snap") { conn, s in
            try Self.createTable(conn, s, rows: 3000)
            let coordinator = try SnapshotCoordinator(dsn: try testDSN(), logger: testLogger)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "big"), catalog: PostgresCatalog(coordinator.connection),
                                              parallelism: 4)
            // Committed after the export: no job may see these rows, in old pages or new ones.
            try conn.exec("INSERT INTO \(s).big SELECT g, repeat('n', 500) FROM generate_series(100001, 103000) g")
            try conn.exec("UPDATE \(s).big SET payload = 'changed' WHERE id < 100")
            let rows = try Self.runAll(plan, coordinator)
            #expect(rows.count == 2940)
            #expect(rows.allSatisfy { $0.id < 100_000 && $0.payload != Array("changed".utf8) })
            coordinator.close()

            // The plan's last range is open-ended: read in a fresh snapshot, it finds rows in the
            // pages added after sizing.
            let later = try SnapshotCoordinator(dsn: try testDSN(), logger: testLogger)
            defer { later.close() }
            let all = try Self.runAll(plan, later)
            #expect(all.count == 5940)
            #expect(all.filter { $0.payload == Array("changed".utf8) }.count == 98)  // ids 1...99 but 50
        }
    }

    @Test func importingAnEndedSnapshotIsASnapshotError() throws {
        let coordinator = try SnapshotCoordinator(dsn: try testDSN(), logger: testLogger)
        let first = try coordinator.openJobConnection(logger: testLogger)
        _ = first
        coordinator.close()
        let e = try #require(throws: PostgresError.self) { try coordinator.openJobConnection(logger: testLogger) }
        #expect(e.kind == .snapshot, "\(e)")
        #expect(e.step == "import snapshot")
    }

    @Test func partitionedTablesAreReadLeafByLeaf() throws {
        try withSchema("parts") { conn, s in
            try conn.exec("""
                CREATE TABLE \(s).p (id int8 NOT NULL, payload text) PARTITION BY RANGE (id);
                CREATE TABLE \(s).p1 PARTITION OF \(s).p FOR VALUES FROM (0) TO (1000);
                CREATE TABLE \(s).p2 PARTITION OF \(s).p FOR VALUES FROM (1000) TO (5000) PARTITION BY RANGE (id);
                CREATE TABLE \(s).p2a PARTITION OF \(s).p2 FOR VALUES FROM (1000) TO (2000);
                CREATE TABLE \(s).p2b PARTITION OF \(s).p2 FOR VALUES FROM (2000) TO (5000);
                CREATE TABLE \(s).pempty PARTITION OF \(s).p FOR VALUES FROM (5000) TO (6000);
                CREATE TABLE \(s).pdef PARTITION OF \(s).p DEFAULT;
                INSERT INTO \(s).p SELECT g, repeat('p', g % 300) FROM generate_series(1, 4999) g;
                INSERT INTO \(s).p VALUES (10000, 'default'), (-5, NULL);
                """)
            let coordinator = try SnapshotCoordinator(dsn: try testDSN(), logger: testLogger)
            defer { coordinator.close() }
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "p"), catalog: PostgresCatalog(coordinator.connection),
                                              parallelism: 3)
            #expect(Set(plan.relations.map(\.relation.name)) == ["p1", "p2a", "p2b", "pempty", "pdef"])
            #expect(plan.jobs.filter { $0.relation?.name == "pempty" }.count == 1)  // 0 pages: read once
            #expect(plan.estimatedRows == nil)  // never analyzed
            let rows = try Self.runAll(plan, coordinator)
            #expect(rows.count == 5001)
            #expect(Set(rows.map(\.id)).count == 5001)
        }
    }
}
