import Foundation
import Parquet

/// A Redis stream entry id as the Delta log records it (milliseconds and sequence), without the
/// Redis module (the backfill links this module and never Redis).
package struct EntryID: Hashable, Comparable, Sendable {
    package var ms: UInt64
    package var seq: UInt64
    package init(ms: UInt64, seq: UInt64) {
        self.ms = ms
        self.seq = seq
    }
    package static func < (a: EntryID, b: EntryID) -> Bool { (a.ms, a.seq) < (b.ms, b.seq) }
}

/// The entries a commit holds, per stream, compactly: the sorted ids as varint deltas
/// (milliseconds, then the sequence: a delta when the millisecond repeats), zstd-compressed,
/// base64 in `commitInfo.lakewriter.entries`. Consecutive producer ids take a few bytes per
/// thousand entries; `EntryRecordTests` states the size per 100,000 rows.
package enum EntryRecord {
    /// Bounds on what a record from the log can make us decode.
    package static let maxEntries = 10_000_000
    package static let maxEncodedBytes = 64 << 20

    package struct Failure: Error, CustomStringConvertible {
        package var message: String
        package var description: String { "entry record: \(message)" }
    }

    static func putVarint(_ v: UInt64, _ out: inout [UInt8]) {
        var x = v
        while x >= 0x80 {
            out.append(UInt8(x & 0x7f) | 0x80)
            x >>= 7
        }
        out.append(UInt8(x))
    }

    static func varint(_ b: [UInt8], _ p: inout Int) throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard p < b.count, shift < 64 else { throw Failure(message: "truncated or overlong varint") }
            let x = b[p]
            p += 1
            v |= UInt64(x & 0x7f) << shift
            if x & 0x80 == 0 { return v }
            shift += 7
        }
    }

    package static func encode(_ ids: [EntryID]) throws -> String {
        let sorted = ids.sorted()
        var raw: [UInt8] = []
        raw.reserveCapacity(sorted.count * 2 + 8)
        putVarint(UInt64(sorted.count), &raw)
        var prev = EntryID(ms: 0, seq: 0)
        for (i, id) in sorted.enumerated() {
            let dms = id.ms &- prev.ms
            putVarint(dms, &raw)
            putVarint(i > 0 && dms == 0 ? id.seq &- prev.seq : id.seq, &raw)
            prev = id
        }
        let packed = try Compressor(.zstd(level: 3)).compress(raw)
        var framed: [UInt8] = []
        putVarint(UInt64(raw.count), &framed)
        framed += packed
        return Data(framed).base64EncodedString()
    }

    package static func decode(_ text: String) throws -> [EntryID] {
        guard text.utf8.count <= maxEncodedBytes, let data = Data(base64Encoded: text) else {
            throw Failure(message: "not base64 (or larger than \(maxEncodedBytes) bytes)")
        }
        let framed = [UInt8](data)
        var p = 0
        let rawCount = try varint(framed, &p)
        guard rawCount <= UInt64(maxEntries) * 20 + 10 else { throw Failure(message: "\(rawCount) bytes declared") }
        let raw: [UInt8]
        do {
            raw = try Array(framed[p...]).withUnsafeBytes {
                try Compressor.decompress($0, codec: .zstd, uncompressedSize: Int(rawCount))
            }
        } catch {
            throw Failure(message: "cannot decompress: \(error)")
        }
        guard raw.count == Int(rawCount) else { throw Failure(message: "decompressed to \(raw.count) bytes, not \(rawCount)") }
        var q = 0
        let n = try varint(raw, &q)
        guard n <= UInt64(maxEntries), n <= UInt64(raw.count) else { throw Failure(message: "\(n) entries declared") }
        var out: [EntryID] = []
        out.reserveCapacity(Int(n))
        var prev = EntryID(ms: 0, seq: 0)
        for i in 0..<Int(n) {
            let dms = try varint(raw, &q)
            let s = try varint(raw, &q)
            let (ms, over) = prev.ms.addingReportingOverflow(dms)
            guard !over else { throw Failure(message: "id past UInt64") }
            let seq: UInt64
            if i > 0 && dms == 0 {
                let (x, o) = prev.seq.addingReportingOverflow(s)
                guard !o else { throw Failure(message: "sequence past UInt64") }
                seq = x
            } else {
                seq = s
            }
            let id = EntryID(ms: ms, seq: seq)
            out.append(id)
            prev = id
        }
        guard q == raw.count else { throw Failure(message: "\(raw.count - q) bytes after the entries") }
        return out
    }
}

/// Which re-read entries are already in a committed file: the `commitInfo.lakewriter.entries`
/// records of the table's commits, newest first, back to a horizon (an entry's commit is never
/// older than the entry itself, allowing for clock skew). Decoded records are cached, so the
/// own pending entries read after a start, in many batches, scan the log once.
package actor CommittedEntries {
    let log: DeltaLog
    /// Versions read, newest first, and what each holds per stream.
    private var scanned: [Int64: [String: Set<EntryID>]] = [:]
    private var oldestTimestamp: [Int64: Int64] = [:]
    /// Most commits looked at per question (a bound on a start's work with a huge log).
    package static let maxCommits = 100_000
    /// Entries are at most this much older than the clock of the commit holding them.
    package static let skewMillis: Int64 = 10 * 60 * 1000

    package init(log: DeltaLog) { self.log = log }

    /// The ids among `ids` (of `stream`) that some commit of the table already holds.
    package func committed(stream: String, _ ids: [EntryID]) async throws -> Set<EntryID> {
        guard let oldest = ids.min() else { return [] }
        let horizon = Int64(clamping: oldest.ms) - Self.skewMillis
        let wanted = Set(ids)
        var found = Set<EntryID>()
        let (commits, _) = try await log.listVersions()
        var looked = 0
        for v in commits.reversed() {
            looked += 1
            if looked > Self.maxCommits { break }
            if scanned[v] == nil {
                guard let actions = try await log.readCommit(v) else { continue }
                var perStream: [String: Set<EntryID>] = [:]
                var ts: Int64 = .max
                for a in actions {
                    guard let info = a["commitInfo"] else { continue }
                    ts = info["timestamp"]?.int64 ?? .max
                    for (s, blob) in info["lakewriter"]?["entries"]?.object ?? [:] {
                        guard let text = blob.string else { continue }
                        perStream[s] = Set(try EntryRecord.decode(text))
                    }
                }
                scanned[v] = perStream
                oldestTimestamp[v] = ts
            }
            if let hit = scanned[v]?[stream] { found.formUnion(hit.intersection(wanted)) }
            if found.count == wanted.count { break }
            if let ts = oldestTimestamp[v], ts < horizon { break }
        }
        return found
    }
}
