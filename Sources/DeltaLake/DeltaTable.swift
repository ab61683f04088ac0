import Foundation
import LakeModel
import LakeOutput
import Logging
import NIOCore
import ObjectStore
import Parquet

/// **DeltaLake** — each entity as a Delta Lake table: the schema mapping, `add` statistics
/// from the files' own footers, the log reader and the committer.
///
/// Reads a table's log: the versions under `_delta_log/`, single commits, and the commit a
/// lakewriter run made (``findCommit(infoKey:value:limit:)``).
package struct DeltaLog: Sendable {
    package let store: any ObjectStore
    /// The table's key prefix, ending in `/` (`orders/`), relative to the store's prefix.
    package let root: String
    /// The largest commit file read (a commit of millions of files is refused, not loaded).
    package static let maxCommitBytes = 64 << 20

    package init(store: any ObjectStore, root: String) {
        self.store = store
        self.root = root.hasSuffix("/") || root.isEmpty ? root : root + "/"
    }

    package var logPrefix: String { root + "_delta_log/" }

    package static func commitName(_ version: Int64) -> String {
        let s = String(version)
        return String(repeating: "0", count: max(0, 20 - s.count)) + s + ".json"
    }

    package func commitKey(_ version: Int64) -> String { logPrefix + Self.commitName(version) }

    /// Every commit version present, ascending, and the checkpoint versions.
    package func listVersions() async throws -> (commits: [Int64], checkpoints: [Int64]) {
        var commits: [Int64] = [], checkpoints: [Int64] = []
        var token: String?
        repeat {
            let page = try await store.list(prefix: logPrefix, continuationToken: token, maxKeys: 1000)
            for o in page.objects {
                let name = o.key.split(separator: "/").last.map(String.init) ?? ""
                guard name.count >= 25, let v = Int64(name.prefix(20)) else { continue }
                let rest = name.dropFirst(20)
                if rest == ".json" { commits.append(v) } else if rest == ".checkpoint.parquet" { checkpoints.append(v) }
            }
            token = page.nextContinuationToken
        } while token != nil
        return (commits.sorted(), checkpoints.sorted())
    }

    /// The newest version (nil: no table yet).
    package func latestVersion() async throws -> Int64? {
        let (c, k) = try await listVersions()
        return max(c.last ?? -1, k.last ?? -1) >= 0 ? max(c.last ?? -1, k.last ?? -1) : nil
    }

    /// The actions of one commit, one JSON object per line (nil: no such commit).
    package func readCommit(_ version: Int64) async throws -> [JSONValue]? {
        let body: ByteBuffer
        do { body = try await store.get(key: commitKey(version)) } catch let e as ObjectStoreError where e.code == .notFound {
            return nil
        }
        guard body.readableBytes <= Self.maxCommitBytes else {
            throw DeltaError.log("commit \(version) of \(root) is \(body.readableBytes) bytes, more than \(Self.maxCommitBytes)")
        }
        return try Self.parseLines(Array(body.readableBytesView), what: "commit \(version) of \(root)")
    }

    package static func parseLines(_ bytes: [UInt8], what: String) throws -> [JSONValue] {
        var out: [JSONValue] = []
        var line = 0
        for chunk in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            line += 1
            if chunk.allSatisfy({ $0 == 0x20 || $0 == 0x0D || $0 == 0x09 }) { continue }
            do {
                out.append(try Array(chunk).withUnsafeBytes { try JSONValue.parse($0) })
            } catch {
                throw DeltaError.log("\(what), line \(line): \(error)")
            }
        }
        return out
    }

    /// The newest commit whose `commitInfo.lakewriter[infoKey]` is `value`, looking back at
    /// most `limit` commits (nil: none).
    package func findCommit(infoKey: String, value: String, limit: Int = 100_000) async throws -> Int64? {
        let (commits, _) = try await listVersions()
        for v in commits.reversed().prefix(limit) {
            guard let actions = try await readCommit(v) else { continue }
            if actions.contains(where: { $0["commitInfo"]?["lakewriter"]?[infoKey]?.string == value }) { return v }
        }
        return nil
    }
}

package enum DeltaError: Error, CustomStringConvertible, Sendable {
    case log(String)
    /// Another writer changed the table in a way this commit cannot be applied over.
    case conflict(String)
    case schema(DeltaSchemaError)

    package var description: String {
        switch self {
        case .log(let s): return "delta log: \(s)"
        case .conflict(let s): return "delta commit conflict: \(s)"
        case .schema(let e): return "delta schema: \(e)"
        }
    }
}

/// What one commit adds.
package struct DeltaCommit: Sendable {
    package var adds: [DeltaAdd]
    /// The schema the files were written with (the table's, or a new version of it).
    package var schema: ParquetSchema
    package var partitionColumns: [String]
    /// The entity's schema version (`unknown_fields: evolve`); a commit with a newer one than the
    /// table's carries a `metaData` action.
    package var schemaVersion: Int
    /// `WRITE` for the worker and the backfill.
    package var operation = "WRITE"
    /// Goes into `commitInfo.lakewriter` (entity, streams, run).
    package var info: [(String, String)] = []
    /// The table schema as Delta text, when the commit does not derive it from `schema`
    /// (compaction keeps the table's).
    package var schemaString: String?
    /// Unique per commit: a retried PUT that did land is recognised as this commit.
    package var id = UUID().uuidString.lowercased()
    /// The stream entries the files hold, per stream (``EntryRecord``): what a restart reads to
    /// acknowledge instead of writing again.
    package var entries: [(stream: String, record: String)] = []
    /// Files this commit takes out of the table (compaction); another commit removing one of
    /// them first is a conflict.
    package var removes: [DeltaRemove] = []
    /// `txn` application ids (`lakewriter:{group}:{stream}`), each advanced by one version.
    package var transactions: [String] = []

    package init(adds: [DeltaAdd], schema: ParquetSchema, partitionColumns: [String], schemaVersion: Int = 1) {
        self.adds = adds
        self.schema = schema
        self.partitionColumns = partitionColumns
        self.schemaVersion = schemaVersion
    }
}

/// One Delta table, committed to by this process: commits are serialized here, and made atomic
/// by a conditional create of `_delta_log/{version}.json` (`If-None-Match: *` on S3, a hard link
/// on `file://`). When another writer took the version, its commit is read: appends never
/// conflict, so the commit is retried at the next version; a schema change this commit cannot
/// include is a conflict.
package actor DeltaTable {
    package let log: DeltaLog
    let logger: Logger
    let checkpointInterval: Int
    private var latest: Int64?
    private var metadata: DeltaMetadata?
    private var loaded = false
    /// The table at `latest`: every commit since the load passes through here (ours, or read
    /// when another writer took a version), so a checkpoint is written from memory.
    private var state = DeltaState()
    /// One operation at a time: `commit` and `load` suspend (store calls), and an actor lets
    /// another call in at every suspension. Two commits computing the same version, or a second
    /// load resetting the state while the first commit applies to it, would lose files from the
    /// state a checkpoint is written from.
    private var busy = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    private func acquire() async {
        while busy { await withCheckedContinuation { waiters.append($0) } }
        busy = true
    }

    private func release() {
        busy = false
        if !waiters.isEmpty { waiters.removeFirst().resume() }
    }
    package private(set) var conflictsRetried = 0

    package init(store: any ObjectStore, root: String, checkpointInterval: Int = 10, logger: Logger) {
        log = DeltaLog(store: store, root: root)
        self.checkpointInterval = max(1, checkpointInterval)
        self.logger = logger
    }

    /// The newest version known to this process (nil: no table yet).
    package var version: Int64? { latest }
    package var currentMetadata: DeltaMetadata? { metadata }

    /// The table as of its newest version (read on first use), and that version.
    package func snapshot() async throws -> (version: Int64?, state: DeltaState) {
        await acquire()
        defer { release() }
        try await load()
        return (latest, state)
    }

    /// Reads the table: the newest checkpoint (when there is one and it reads), then the JSON
    /// commits after it.
    /// Times the log was read into the state (once per process while nothing fails).
    package private(set) var loads = 0

    private func load() async throws {
        guard !loaded else { return }
        loads += 1
        let (commits, checkpoints) = try await log.listVersions()
        var from: Int64 = 0
        state = DeltaState()
        for c in checkpoints.reversed() {
            do {
                if let s = try await DeltaCheckpoint.read(log: log, version: c) {
                    state = s
                    from = c + 1
                    break
                }
            } catch {
                logger.warning("delta checkpoint unreadable, replaying the JSON commits instead",
                               metadata: ["table": "\(log.root)", "version": "\(c)", "error": "\(error)"])
            }
        }
        let newest = max(commits.last ?? -1, checkpoints.last ?? -1)
        if newest >= from {
            for v in from...newest {
                guard let actions = try await log.readCommit(v) else {
                    throw DeltaError.log("\(log.root): commit \(v) is missing (and no checkpoint covers it)")
                }
                state.apply(actions)
            }
        }
        latest = newest >= 0 ? newest : nil
        metadata = state.metadataAction.flatMap(DeltaMetadata.init)
        loaded = true
    }

    /// Commits `commit`; returns its version. Throws on a conflict or a storage error (the caller
    /// retries the same commit: a landed earlier attempt is recognised by its id).
    package func commit(_ commit: DeltaCommit) async throws -> Int64 {
        await acquire()
        defer { release() }
        try await load()
        let schemaString: String
        if let given = commit.schemaString {
            schemaString = given
        } else {
            do { schemaString = try DeltaSchema.schemaString(commit.schema) } catch { throw DeltaError.schema(error) }
        }
        var attempts = 0
        while true {
            attempts += 1
            guard attempts <= 10_000 else { throw DeltaError.conflict("\(log.root): 10000 versions taken by other writers in a row") }
            let version = (latest ?? -1) + 1
            var lines: [String] = []
            let now = Int64(Date().timeIntervalSince1970 * 1000)
            if metadata == nil {
                lines.append(DeltaSchema.protocolAction(commit.schema))
            }
            if metadata == nil || commit.schemaVersion > metadata!.schemaVersion {
                var conf = metadata?.configuration ?? ["delta.checkpointInterval": String(checkpointInterval)]
                conf["lakewriter.schemaVersion"] = String(commit.schemaVersion)
                lines.append(DeltaMetadata(id: metadata?.id ?? UUID().uuidString.lowercased(), schemaString: schemaString,
                                           partitionColumns: metadata?.partitionColumns ?? commit.partitionColumns,
                                           createdTime: metadata?.createdTime ?? now, configuration: conf).json)
            }
            for app in commit.transactions {
                let next = (state.txns[app]?["version"]?.int64 ?? 0) + 1
                lines.append(#"{"txn":{"appId":"# + JSONText.quoted(app) + #","version":"# + String(next)
                    + #","lastUpdated":"# + String(now) + "}}")
            }
            // A file to remove must still be in the table (another compaction may have taken it).
            if let gone = commit.removes.first(where: { state.adds[$0.path] == nil }) {
                throw DeltaError.conflict("\(log.root): \(gone.path) is no longer in the table (removed by another commit)")
            }
            lines += commit.removes.map(\.json)
            lines += commit.adds.map(\.json)
            var info = #"{"commitInfo":{"timestamp":"# + String(now) + #","operation":"# + JSONText.quoted(commit.operation)
            info += commit.removes.isEmpty ? #","operationParameters":{"mode":"Append"},"isBlindAppend":true,"engineInfo":"#
                : #","operationParameters":{},"isBlindAppend":false,"engineInfo":"#
            info += JSONText.quoted("lakewriter/\(LakewriterVersion.version)") + #","txnId":"# + JSONText.quoted(commit.id)
            info += #","lakewriter":{"# + commit.info.map { JSONText.quoted($0.0) + ":" + JSONText.quoted($0.1) }.joined(separator: ",")
            if !commit.entries.isEmpty {
                info += (commit.info.isEmpty ? "" : ",") + #""entries":{"#
                info += commit.entries.map { JSONText.quoted($0.stream) + ":" + JSONText.quoted($0.record) }.joined(separator: ",") + "}"
            }
            info += "}}}"
            lines.append(info)
            let body = ByteBuffer(string: lines.joined(separator: "\n") + "\n")
            do {
                _ = try await log.store.putIfAbsent(key: log.commitKey(version), body: body)
            } catch let e as ObjectStoreError where e.code == .alreadyExists {
                if try await resolveTaken(version, commit: commit) { return version }
                conflictsRetried += 1
                continue
            }
            latest = version
            let written = try lines.map { try JSONValue.parse($0) }
            state.apply(written)
            metadata = state.metadataAction.flatMap(DeltaMetadata.init)
            if version > 0 && version % Int64(checkpointInterval) == 0 {
                do {
                    try await DeltaCheckpoint.write(log: log, version: version, state: state, logger: logger)
                } catch {
                    // A missing checkpoint only makes readers replay more JSON: the commit stands.
                    logger.warning("delta checkpoint not written", metadata: ["table": "\(log.root)", "version": "\(version)",
                                                                             "error": "\(error)"])
                }
            }
            return version
        }
    }

    /// `version` exists: learns what it changed. Our own earlier attempt is left for the caller
    /// to recognise; another writer's schema change this commit cannot sit on is a conflict.
    /// - Returns: true when the commit at `version` is this one (an earlier attempt landed).
    private func resolveTaken(_ version: Int64, commit: DeltaCommit) async throws -> Bool {
        guard let actions = try await log.readCommit(version) else {
            throw DeltaError.log("\(log.root): version \(version) exists but cannot be read")
        }
        latest = version
        let removedBefore = Set(commit.removes.map(\.path)).filter { state.adds[$0] != nil }
        state.apply(actions)
        if actions.contains(where: { $0["commitInfo"]?["txnId"]?.string == commit.id }) {
            metadata = state.metadataAction.flatMap(DeltaMetadata.init)
            return true
        }
        for a in actions {
            if let m = a["metaData"], let theirs = DeltaMetadata(m) {
                // Their schema must be within ours when we bring a newer one; otherwise our files
                // would be read with columns they lack.
                if let ours = metadata, commit.schemaVersion > ours.schemaVersion || ours.id != theirs.id {
                    let mine = Set(commit.schema.fields.map(\.name))
                    guard Set(theirs.fieldNames).isSubset(of: mine) || mine.isSubset(of: Set(theirs.fieldNames)) else {
                        throw DeltaError.conflict("\(log.root): version \(version) changed the schema to columns "
                            + "\(theirs.fieldNames.joined(separator: ", ")) while this commit writes \(commit.schema.fields.map(\.name).joined(separator: ", "))")
                    }
                }
                metadata = theirs
            }
            // Removes of other files, transactions and other appends never conflict with an append.
        }
        if let taken = removedBefore.first(where: { state.adds[$0] == nil }) {
            throw DeltaError.conflict("\(log.root): version \(version) removed \(taken), which this commit rewrites")
        }
        return false
    }
}
