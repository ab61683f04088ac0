import Foundation
import LakeModel
import LakeOutput
import Logging
import NIOCore
import ObjectStore
import Parquet

/// `lakewriter compact` and `lakewriter vacuum` on one Delta table.
///
/// Compaction joins the small files of each partition directory into files of about the target
/// size, row group by row group without re-encoding (``ParquetConcatenation``: rows, order and
/// schema unchanged; the new file's row groups are the old files'), and commits `remove` +
/// `add` with `dataChange: false` in one commit per new file. Appends never conflict with it;
/// a file another compaction removed first makes that commit a conflict, and the new file is
/// deleted again. Vacuum deletes data files no live version needs.
package enum DeltaMaintenance {
    package struct CompactOptions: Sendable {
        package var targetSize: Int64 = 128 << 20
        /// A directory is compacted when it has at least this many small files.
        package var minFiles = 5
        /// Only files older than this (by their commit's modification time).
        package var olderThan: Duration = .seconds(3600)
        /// Only directories whose path starts with this (`tenant=acme/`, `year=2026/month=12`).
        package var partition: String?
        package init() {}
    }

    package struct CompactReport: Sendable {
        package var filesBefore = 0
        package var filesAfter = 0
        package var filesRemoved = 0
        package var filesAdded = 0
        package var commits: [Int64] = []
        package var conflicts = 0
        package var medianBefore: Int64 = 0
        package var medianAfter: Int64 = 0
    }

    static func median(_ sizes: [Int64]) -> Int64 {
        let s = sizes.sorted()
        return s.isEmpty ? 0 : s[s.count / 2]
    }

    package static func compact(store: any ObjectStore, root: String, options: CompactOptions, logger: Logger,
                                line: (String) -> Void = { _ in }) async throws -> CompactReport {
        let table = DeltaTable(store: store, root: root, logger: logger)
        let (version, state) = try await table.snapshot()
        var report = CompactReport()
        guard version != nil, let meta = state.metadataAction.flatMap(DeltaMetadata.init) else { return report }
        let sizes = state.adds.values.compactMap { $0["size"]?.int64 }
        report.filesBefore = sizes.count
        report.medianBefore = median(sizes)
        let cutoff = Int64(Date().timeIntervalSince1970 * 1000) - Int64(options.olderThan.components.seconds * 1000)
        // Small, old enough files per directory.
        var groups: [String: [(path: String, size: Int64, add: JSONValue)]] = [:]
        for (path, add) in state.adds {
            guard let size = add["size"]?.int64, size < options.targetSize / 2,
                  let mtime = add["modificationTime"]?.int64, mtime <= cutoff else { continue }
            let dir = path.split(separator: "/").dropLast().joined(separator: "/")
            if let p = options.partition, !(dir + "/").hasPrefix(p.hasSuffix("/") ? p : p + "/") { continue }
            groups[dir, default: []].append((path, size, add))
        }
        for dir in groups.keys.sorted() {
            let files = groups[dir]!.sorted { $0.path < $1.path }
            guard files.count >= options.minFiles else { continue }
            // Bins of about the target size, in name (time) order.
            var bins: [[(path: String, size: Int64, add: JSONValue)]] = [[]]
            var binSize: Int64 = 0
            for f in files {
                if binSize + f.size > options.targetSize && !bins[bins.count - 1].isEmpty {
                    bins.append([])
                    binSize = 0
                }
                bins[bins.count - 1].append(f)
                binSize += f.size
            }
            for bin in bins where bin.count >= 2 {
                var bytes: [[UInt8]] = []
                for f in bin { bytes.append(Array(try await store.get(key: root + f.path).readableBytesView)) }
                let joined: [UInt8]
                do {
                    joined = try ParquetConcatenation.join(bytes, keyValueMetadata: ["lakewriter.compacted_from": String(bin.count)])
                } catch {
                    // Files of two schema versions (evolution) are not joined.
                    line("\(dir.isEmpty ? "." : dir): \(bin.count) files skipped: \(error)")
                    continue
                }
                let name = (dir.isEmpty ? "" : dir + "/") + "\(UUIDv7()).parquet"
                _ = try await store.put(key: root + name, bytes: joined)
                let now = Int64(Date().timeIntervalSince1970 * 1000)
                let values = DeltaAdd.partitionValues(ofKey: name, columns: meta.partitionColumns) ?? []
                var add = DeltaAdd(path: name, partitionValues: values, size: Int64(joined.count), modificationTime: now,
                                   stats: DeltaStats.merge(bin.map { $0.add["stats"]?.string }))
                add.dataChange = false
                let schema = try ParquetSchema([.required("_", .int64)])
                var commit = DeltaCommit(adds: [add], schema: schema, partitionColumns: meta.partitionColumns,
                                         schemaVersion: meta.schemaVersion)
                commit.removes = bin.map {
                    DeltaRemove(path: $0.path, partitionValues: DeltaAdd.partitionValues(ofKey: $0.path, columns: meta.partitionColumns) ?? [],
                                size: $0.size, deletionTimestamp: now)
                }
                commit.operation = "OPTIMIZE"
                commit.info = [("files", String(bin.count)), ("directory", dir)]
                commit.schemaString = meta.schemaString
                do {
                    let v = try await table.commit(commit)
                    report.commits.append(v)
                    report.filesRemoved += bin.count
                    report.filesAdded += 1
                    line("\(dir.isEmpty ? "." : dir): \(bin.count) files → \(name) (\(joined.count) bytes), version \(v)")
                } catch let e as DeltaError {
                    // Another compaction took some of these files: ours is dropped.
                    try? await store.delete(key: root + name)
                    report.conflicts += 1
                    line("\(dir.isEmpty ? "." : dir): skipped, \(e)")
                }
            }
        }
        let after = try await table.snapshot().state.adds.values.compactMap { $0["size"]?.int64 }
        report.filesAfter = after.count
        report.medianAfter = median(after)
        return report
    }

    package struct VacuumReport: Sendable {
        package var deleted: [String] = []
        package var kept = 0
    }

    /// Deletes data files no live version needs: files no longer in the table whose removal is
    /// older than `retention`, and files no commit ever referenced (uploads whose commit never
    /// happened) last modified before `retention`. Files of the current version, and files
    /// removed within `retention` (time travel to those versions), are kept.
    package static func vacuum(store: any ObjectStore, root: String, retention: Duration, dryRun: Bool,
                               logger: Logger) async throws -> VacuumReport {
        let table = DeltaTable(store: store, root: root, logger: logger)
        let (_, state) = try await table.snapshot()
        let now = Date()
        let horizonMillis = Int64(now.timeIntervalSince1970 * 1000) - Int64(retention.components.seconds * 1000)
        var report = VacuumReport()
        var token: String?
        repeat {
            let page = try await store.list(prefix: root, continuationToken: token, maxKeys: 1000)
            for o in page.objects {
                let rel = String(o.key.dropFirst(root.count))
                guard !rel.hasPrefix("_delta_log/"), !rel.hasPrefix("_"), rel.hasSuffix(".parquet") else { continue }
                if state.adds[rel] != nil { report.kept += 1; continue }
                if let r = state.removes[rel] {
                    if (r["deletionTimestamp"]?.int64 ?? .max) >= horizonMillis { report.kept += 1; continue }
                } else if let modified = o.lastModified, Int64(modified.timeIntervalSince1970 * 1000) >= horizonMillis {
                    report.kept += 1
                    continue
                } else if o.lastModified == nil {
                    report.kept += 1
                    continue
                }
                if !dryRun { try await store.delete(key: o.key) }
                report.deleted.append(rel)
            }
            token = page.nextContinuationToken
        } while token != nil
        return report
    }
}

extension DeltaStats {
    /// The statistics of files joined into one: record counts and null counts added, the least
    /// minimum and greatest maximum; a column missing from any file's statistics is left out.
    package static func merge(_ stats: [String?]) -> String? {
        var parsed: [JSONValue] = []
        for s in stats {
            guard let s, let v = try? JSONValue.parse(s) else { return nil }
            parsed.append(v)
        }
        guard let first = parsed.first else { return nil }
        var records: Int64 = 0
        for p in parsed { records += p["numRecords"]?.int64 ?? 0 }
        func combine(_ key: String, _ pick: (JSONValue, JSONValue) -> JSONValue?) -> [String: JSONValue] {
            var out: [String: JSONValue] = [:]
            for (col, v0) in first[key]?.object ?? [:] {
                var acc: JSONValue? = v0
                for p in parsed.dropFirst() {
                    guard let a = acc, let v = p[key]?[col] else { acc = nil; break }
                    acc = pick(a, v)
                }
                if let acc { out[col] = acc }
            }
            return out
        }
        func less(_ a: JSONValue, _ b: JSONValue) -> Bool? {
            switch (a, b) {
            case (.number(let x), .number(let y)):
                if let i = Int64(x), let j = Int64(y) { return i < j }
                guard let d = Double(x), let e = Double(y) else { return nil }
                return d < e
            case (.string(let x), .string(let y)): return Array(x.utf8).lexicographicallyPrecedes(Array(y.utf8))
            default: return nil
            }
        }
        let mins = combine("minValues") { a, b in less(a, b).map { $0 ? a : b } }
        let maxs = combine("maxValues") { a, b in less(a, b).map { $0 ? b : a } }
        let nulls = combine("nullCount") { a, b in
            guard let x = a.int64, let y = b.int64 else { return nil }
            return .number(String(x + y))
        }
        return JSONValue.object(["numRecords": .number(String(records)), "minValues": .object(mins),
                                 "maxValues": .object(maxs), "nullCount": .object(nulls)]).text
    }
}
