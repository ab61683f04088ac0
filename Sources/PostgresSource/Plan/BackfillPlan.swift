import Parquet

/// The size of one relation that holds rows, as sized for the plan.
package struct RelationSize: Sendable, Hashable {
    package var relation: PGRelation
    /// `pg_relation_size / block_size` (not `relpages`, which can be 0 or stale).
    package var pages: Int
    package var bytes: Int64
    /// `reltuples`, nil when unknown (-1: never vacuumed or analyzed; 0 with pages on disk).
    package var estimatedRows: Int64?
}

/// One unit of work: one COPY statement over a relation (or a ctid page range of it), or over a query.
package struct BackfillJob: Sendable, Hashable {
    /// The relation read, nil for a query.
    package var relation: PGRelation?
    /// First page of the range (nil: from the start) and the page it stops before (nil: open, so
    /// pages added after sizing are read too).
    package var firstPage: Int?
    package var endPage: Int?
    /// The full `COPY (…) TO STDOUT (FORMAT binary)` statement.
    package var sql: String

    /// `ctid >= '(a,0)'::tid AND ctid < '(b,0)'::tid`, or nil for the whole relation.
    package static func ctidCondition(firstPage: Int?, endPage: Int?) -> String? {
        var parts: [String] = []
        if let a = firstPage { parts.append("ctid >= '(\(a),0)'::tid") }
        if let b = endPage { parts.append("ctid < '(\(b),0)'::tid") }
        return parts.isEmpty ? nil : parts.joined(separator: " AND ")
    }
}

/// What a backfill reads and how it is split: the Parquet schema, the SELECT list, one job per
/// COPY. Partitioned tables are read leaf by leaf (the parent has no heap); each heap is split
/// into ctid page ranges (TID range scans, PostgreSQL 14+), the last one open-ended.
///
/// Run every job inside the same snapshot (``SnapshotCoordinator``): ctid ranges are only
/// meaningful within one snapshot, and only then do the jobs together read each row once.
package struct BackfillPlan: Sendable {
    /// The table, or `query` for `--query`.
    package var source: String
    package var mapping: SourceMapping
    package var relations: [RelationSize]
    package var jobs: [BackfillJob]

    /// Sum of `reltuples`, nil when any relation's count is unknown (for `--dry-run`).
    package var estimatedRows: Int64? {
        var total: Int64 = 0
        for r in relations {
            guard let n = r.estimatedRows else { return nil }
            total += n
        }
        return relations.isEmpty ? nil : total
    }

    /// Bytes on disk of the relations read (`pg_relation_size`).
    package var estimatedBytes: Int64 { relations.reduce(0) { $0 + $1.bytes } }

    /// Plans reading `table` with at most `parallelism` ranges per relation (ranges are at least one page).
    package static func table(_ table: PGTableName, catalog: PostgresCatalog, parallelism: Int) throws(PostgresError)
        -> BackfillPlan
    {
        let conn = catalog.connection
        let root = try catalog.relation(table)
        let columns = try catalog.columns(of: root)
        let mapping = try SourceMapping(columns)
        var leaves: [PGRelation] = []
        if root.kind == "p" {
            let rows = try conn.query("""
                SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_catalog.pg_partition_tree($1::oid::regclass) t
                JOIN pg_catalog.pg_class c ON c.oid = t.relid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE t.isleaf ORDER BY c.oid
                """, [String(root.oid)], step: "partitions")
            for r in rows {
                leaves.append(PGRelation(oid: UInt32(r[0] ?? "") ?? 0, schema: r[1] ?? "", name: r[2] ?? "",
                                         kind: r[3]?.first ?? "r"))
            }
        } else {
            leaves = [root]
        }
        var sizes: [RelationSize] = []
        for rel in leaves {
            let r = try conn.query("""
                SELECT pg_catalog.pg_relation_size(c.oid), pg_catalog.current_setting('block_size')::int8, c.reltuples::int8
                FROM pg_catalog.pg_class c WHERE c.oid = $1
                """, [String(rel.oid)], step: "sizing").first ?? []
            let bytes = Int64(r.first.flatMap { $0 } ?? "0") ?? 0
            let block = max(1, Int64(r.count > 1 ? r[1] ?? "8192" : "8192") ?? 8192)
            let tuples = Int64(r.count > 2 ? r[2] ?? "-1" : "-1") ?? -1
            let pages = Int(bytes / block)
            // reltuples is -1 until the first VACUUM/ANALYZE and 0 when unknown; an empty heap is
            // known empty; views and foreign tables have no count.
            let estimate: Int64? = !rel.hasHeap ? nil : tuples > 0 ? tuples : pages == 0 ? 0 : nil
            sizes.append(RelationSize(relation: rel, pages: pages, bytes: bytes, estimatedRows: estimate))
        }
        let totalPages = sizes.reduce(0) { $0 + $1.pages }
        var jobs: [BackfillJob] = []
        for s in sizes {
            // A relation's share of the parallelism follows its share of the pages.
            var parts = 1
            if s.relation.hasHeap && totalPages > 0 && parallelism > 1 {
                let share = (Double(s.pages) * Double(parallelism) / Double(totalPages)).rounded(.up)
                parts = max(1, min(parallelism, s.pages, Int(share)))
            }
            let from = (root.kind == "p" ? "ONLY " : "") + s.relation.qualifiedName.quoted
            for range in pageRanges(pages: s.pages, parts: parts) {
                let condition = BackfillJob.ctidCondition(firstPage: range.first, endPage: range.end)
                jobs.append(BackfillJob(relation: s.relation, firstPage: range.first, endPage: range.end,
                                        sql: mapping.copyStatement(from: from, where: condition)))
            }
        }
        return BackfillPlan(source: root.qualifiedName.quoted, mapping: mapping, relations: sizes, jobs: jobs)
    }

    /// Plans reading the result of `sql` in one job; the column types come from describing it.
    package static func query(_ sql: String, catalog: PostgresCatalog) throws(PostgresError) -> BackfillPlan {
        var body = Substring(sql)
        while let l = body.last, l == ";" || l.isWhitespace { body.removeLast() }
        let columns = try catalog.columns(ofQuery: String(body))
        let mapping = try SourceMapping(columns, qualifier: "lw_q")
        let job = BackfillJob(relation: nil, firstPage: nil, endPage: nil,
                              sql: mapping.copyStatement(from: "(\(body)) AS lw_q"))
        return BackfillPlan(source: "query", mapping: mapping, relations: [], jobs: [job])
    }

    /// `parts` contiguous page ranges covering `0 ..< pages`; the first has no lower bound and
    /// the last no upper bound (rows in pages added after sizing are read by it). They shrink
    /// towards the end: weights 4 for all but the last `max(1, parts / 4)` × 2 ranges, then 2,
    /// then 1 (with 8 ranges: 4 4 4 4 2 2 1 1). Jobs take ranges in order, so the ones running
    /// last are short and the jobs end close together instead of one reading a whole range
    /// alone at the end. Every range has at least one page.
    package static func pageRanges(pages: Int, parts: Int) -> [(first: Int?, end: Int?)] {
        let k = max(1, min(parts, max(pages, 1)))
        if k == 1 { return [(nil, nil)] }
        let tail = max(1, k / 4)
        let weights = (0..<k).map { i in i >= k - tail ? 1 : i >= k - 2 * tail ? 2 : 4 }
        let total = weights.reduce(0, +)
        var out: [(first: Int?, end: Int?)] = []
        var start = 0, cumulative = 0
        for i in 0..<k {
            cumulative += weights[i]
            // At least one page for this range and for each after it.
            let end = i == k - 1 ? pages : min(max(pages * cumulative / total, start + 1), pages - (k - 1 - i))
            out.append((i == 0 ? nil : start, i == k - 1 ? nil : end))
            start = end
        }
        return out
    }
}
