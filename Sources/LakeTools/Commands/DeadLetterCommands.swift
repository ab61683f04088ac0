import Foundation
import LakeModel
import LakeWorker
import Logging
import RedisStreams

/// `lakewriter dlq stats` and `lakewriter dlq replay`: what is in the dead-letter streams, and
/// putting dead letters back on their source stream once the config is fixed.
///
/// A dead letter (``RedisStreamClient/deadLetter(entry:of:to:error:reason:entity:maxLength:)``)
/// is the entry's own fields, then `error`, `reason` (absent before it was added), `entity`,
/// `source_id` and `source_stream`: replay strips those trailing fields and adds the rest.
extension Commands {
    /// Exit statuses of `dlq replay` beyond ``Status``: some dead letters were left (malformed,
    /// or their source stream is not configured).
    public static let dlqSkipped: Int32 = 3

    /// The most entries read per XRANGE, and the most (entity, reason) groups `stats` keeps.
    static let dlqPage = 500
    static let dlqMaxGroups = 10_000
    /// Entity and reason text is cut to this many characters in the output (dead letters are
    /// written by lakewriter, but anyone may XADD to the stream).
    static let dlqMaxLabel = 200
    /// Fields of one replayed entry: the script passes them through Lua's `unpack`, whose stack
    /// holds about 8,000 values.
    static let maxReplayFields = 3_000

    /// One dead letter, parsed.
    struct DeadLetterEntry {
        var id: StreamID
        /// The original entry's fields, in order.
        var fields: [(name: [UInt8], value: [UInt8])]
        var error: String
        var reason: String?
        var entity: String
        var sourceID: String
        var sourceStream: String
    }

    /// Parses `[id, [field, value, …]]` of XRANGE; nil when it is not in the dead-letter layout.
    static func parseDeadLetter(_ v: RedisValue) -> (StreamID?, DeadLetterEntry?) {
        guard let pair = v.array, pair.count == 2, let idText = pair[0].text, let id = StreamID(idText) else { return (nil, nil) }
        guard let flat = pair[1].array, flat.count % 2 == 0 else { return (id, nil) }
        var fields: [(name: [UInt8], value: [UInt8])] = []
        fields.reserveCapacity(flat.count / 2)
        for i in stride(from: 0, to: flat.count, by: 2) {
            guard case .string(let n) = flat[i], case .string(let val) = flat[i + 1] else { return (id, nil) }
            fields.append((n, val))
        }
        func name(_ k: Int) -> String? {
            k >= 0 && k < fields.count ? String(decoding: fields[k].name, as: UTF8.self) : nil
        }
        func text(_ k: Int) -> String { String(decoding: fields[k].value, as: UTF8.self) }
        let n = fields.count
        guard name(n - 1) == "source_stream", name(n - 2) == "source_id", name(n - 3) == "entity" else { return (id, nil) }
        var ours = 4
        var reason: String?
        if name(n - 4) == "reason" && name(n - 5) == "error" {
            ours = 5
            reason = text(n - 4)
        } else if name(n - 4) != "error" {
            return (id, nil)
        }
        let entry = DeadLetterEntry(id: id, fields: Array(fields[..<(n - ours)]), error: text(n - ours),
                                    reason: reason, entity: text(n - 3), sourceID: text(n - 2), sourceStream: text(n - 1))
        return (id, entry)
    }

    /// Pages through a dead-letter stream from `since` (inclusive), `dlqPage` entries a call.
    static func scanDeadLetters(_ client: RedisStreamClient, stream: String, since: StreamID,
                                _ body: (StreamID, DeadLetterEntry?) async throws -> Void) async throws {
        var start = since.description
        while true {
            let reply = try await client.command(["XRANGE", stream, start, "+", "COUNT", "\(dlqPage)"], retryable: true)
            guard let entries = reply.array else { throw DLQError("XRANGE \(stream): unexpected reply") }
            var last: StreamID?
            for e in entries {
                let (id, entry) = parseDeadLetter(e)
                guard let id else { throw DLQError("XRANGE \(stream): malformed entry") }
                try await body(id, entry)
                last = id
            }
            guard entries.count == dlqPage, let last, last.successor != last else { return }
            start = last.successor.description
        }
    }

    struct DLQError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    static func label(_ s: String) -> String {
        var out = ""
        for u in s.unicodeScalars.prefix(dlqMaxLabel) {
            out += u.value < 0x20 || u.value == 0x7f ? "\\u{\(String(u.value, radix: 16))}" : String(u)
        }
        return s.unicodeScalars.count > dlqMaxLabel ? out + "…" : out
    }

    /// The config and a client, or an exit status after printing why not.
    static func dlqSetup(config path: String, stream: String?, environment: [String: String],
                         output: Output) -> Result<(LakewriterConfig, RedisStreamClient, [String]), DLQSetupFailure> {
        let config: LakewriterConfig
        do {
            config = try ConfigLoader(environment: environment).load(path: path)
        } catch {
            output.err("error: \(error)\n")
            return .failure(DLQSetupFailure(status: Status.usage))
        }
        let streams: [String]
        if let stream {
            guard stream.hasSuffix(":dlq"), stream.count > 4 else {
                output.err("error: --stream \(label(stream)): expected a dead-letter stream, NAME:dlq\n")
                return .failure(DLQSetupFailure(status: Status.usage))
            }
            streams = [stream]
        } else {
            var seen = Set<String>()
            streams = config.entities.map { $0.stream + ":dlq" }.filter { seen.insert($0).inserted }
        }
        let redis: RedisConfiguration
        do {
            redis = try config.redis.connection()
        } catch {
            output.err("error: redis.url: \(error)\n")
            return .failure(DLQSetupFailure(status: Status.usage))
        }
        var logger = Logger(label: "lakewriter-dlq")
        logger.logLevel = .critical
        return .success((config, RedisStreamClient(configuration: redis, logger: logger), streams))
    }

    struct DLQSetupFailure: Error { var status: Int32 }

    // MARK: dlq stats

    /// Counts per dead-letter stream, entity and reason, with the oldest and newest dead-letter
    /// ids. Exit 0, 2 usage or configuration error, 1 Redis failure.
    public static func dlqStats(config path: String, stream: String?,
                                environment: [String: String] = ProcessInfo.processInfo.environment,
                                output: Output = .standard) async -> Int32 {
        let client: RedisStreamClient, streams: [String]
        switch dlqSetup(config: path, stream: stream, environment: environment, output: output) {
        case .success(let s): (client, streams) = (s.1, s.2)
        case .failure(let f): return f.status
        }
        defer { client.close() }
        struct Group { var count = 0; var oldest: StreamID; var newest: StreamID }
        struct Key: Hashable { var entity: String; var reason: String }
        var out = "STREAM\tENTITY\tREASON\tCOUNT\tOLDEST\tNEWEST\n"
        var total = 0
        do {
            for s in streams {
                var groups: [Key: Group] = [:]
                var order: [Key] = []
                var overflow = 0
                try await scanDeadLetters(client, stream: s, since: .zero) { id, entry in
                    let key = entry.map { Key(entity: label($0.entity), reason: label($0.reason ?? "-")) }
                        ?? Key(entity: "?", reason: "malformed")
                    if groups[key] == nil {
                        guard groups.count < dlqMaxGroups else { overflow += 1; return }
                        groups[key] = Group(oldest: id, newest: id)
                        order.append(key)
                    }
                    groups[key]!.count += 1
                    groups[key]!.oldest = min(groups[key]!.oldest, id)
                    groups[key]!.newest = max(groups[key]!.newest, id)
                }
                for k in order.sorted(by: { ($0.entity, $0.reason) < ($1.entity, $1.reason) }) {
                    let g = groups[k]!
                    out += "\(label(s))\t\(k.entity.isEmpty ? "(unroutable)" : k.entity)\t\(k.reason)\t\(g.count)\t\(g.oldest)\t\(g.newest)\n"
                    total += g.count
                }
                if overflow > 0 { out += "\(label(s))\t(more groups than \(dlqMaxGroups))\t-\t\(overflow)\t-\t-\n"; total += overflow }
            }
        } catch {
            output.err("error: \(error)\n")
            return Status.failure
        }
        output.out(out)
        output.err("\(total) dead letter\(total == 1 ? "" : "s") in \(streams.count) stream\(streams.count == 1 ? "" : "s")\n")
        return Status.ok
    }

    // MARK: dlq replay

    /// Atomically: if the dead letter is still there, add its fields to the source stream and
    /// delete it. Run again after an interruption, nothing is added twice.
    static let replayScript = """
        if #redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1]) == 0 then return false end
        local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
        redis.call('XDEL', KEYS[2], ARGV[1])
        return id
        """

    /// The options of `lakewriter dlq replay`.
    public struct ReplayArguments: Sendable {
        public var config: String
        public var stream: String
        public var entity: String?
        public var since: String?
        public var dryRun: Bool

        public init(config: String, stream: String, entity: String? = nil, since: String? = nil, dryRun: Bool = false) {
            self.config = config
            self.stream = stream
            self.entity = entity
            self.since = since
            self.dryRun = dryRun
        }
    }

    /// Puts the dead letters of `stream` (from `since`, of `entity`) back on their source stream
    /// with their original fields (a new id), deleting each from the dead-letter stream in the
    /// same atomic step. Exit 0 all selected replayed, 3 some left (malformed, or a source stream
    /// the config does not read), 2 usage or configuration error, 1 Redis failure.
    public static func dlqReplay(_ a: ReplayArguments, environment: [String: String] = ProcessInfo.processInfo.environment,
                                 output: Output = .standard) async -> Int32 {
        let config: LakewriterConfig, client: RedisStreamClient
        switch dlqSetup(config: a.config, stream: a.stream, environment: environment, output: output) {
        case .success(let s): (config, client) = (s.0, s.1)
        case .failure(let f): return f.status
        }
        defer { client.close() }
        var since = StreamID.zero
        if let s = a.since {
            guard let id = StreamID(s) else {
                output.err("error: --since \(label(s)): expected an entry id like 1700000000000-0\n")
                return Status.usage
            }
            since = id
        }
        if let e = a.entity, config.entity(named: e) == nil {
            output.err("error: --entity \(label(e)): not an entity of \(a.config)\n")
            return Status.usage
        }
        let configured = Set(config.entities.map(\.stream))
        let source = String(a.stream.dropLast(4))
        var replayed = 0, skipped = 0, gone = 0
        do {
            try await scanDeadLetters(client, stream: a.stream, since: since) { id, entry in
                guard let entry else {
                    skipped += 1
                    output.err("skipped \(id): not in the dead-letter layout\n")
                    return
                }
                if let e = a.entity, entry.entity != e { return }
                guard entry.sourceStream == source, configured.contains(entry.sourceStream) else {
                    skipped += 1
                    output.err("skipped \(id): source stream \(label(entry.sourceStream)) is not \(label(source)) or not configured\n")
                    return
                }
                guard !entry.fields.isEmpty, entry.fields.count <= maxReplayFields else {
                    skipped += 1
                    output.err("skipped \(id): \(entry.fields.count) fields (replay takes 1…\(maxReplayFields))\n")
                    return
                }
                let what = "\(id) → \(label(entry.sourceStream)) (entity \(entry.entity.isEmpty ? "(unroutable)" : label(entry.entity)), reason \(label(entry.reason ?? "-")), source id \(label(entry.sourceID)), \(entry.fields.count) field\(entry.fields.count == 1 ? "" : "s"))"
                if a.dryRun {
                    output.out("would replay \(what)\n")
                    replayed += 1
                    return
                }
                var args: [[UInt8]] = [Array("EVAL".utf8), Array(replayScript.utf8), Array("2".utf8),
                                       Array(entry.sourceStream.utf8), Array(a.stream.utf8), Array(id.description.utf8)]
                args.reserveCapacity(args.count + entry.fields.count * 2)
                for f in entry.fields { args.append(f.name); args.append(f.value) }
                let r = try await client.command(binary: args)
                if let newID = r.text {
                    output.out("replayed \(what) as \(newID)\n")
                    replayed += 1
                } else {
                    gone += 1  // replayed or deleted meanwhile (another replay)
                }
            }
        } catch {
            output.err("error: \(error)\n")
            output.err("\(replayed) replayed before the error; run again to go on (nothing is replayed twice)\n")
            return Status.failure
        }
        output.err("\(replayed) dead letter\(replayed == 1 ? "" : "s") \(a.dryRun ? "would be " : "")replayed, \(skipped) skipped"
                   + (gone > 0 ? ", \(gone) already gone" : "") + (a.dryRun ? " (dry run: nothing changed)" : "") + "\n")
        return skipped > 0 ? dlqSkipped : Status.ok
    }
}
