import Synchronization
import Logging

/// Consumer-group commands that are not the read loop: group creation, acknowledgements,
/// XAUTOCLAIM, dead-letter XADD, XPENDING and XINFO GROUPS.
///
/// It has its own connection and thread, separate from ``StreamConsumer``'s reader: the reader
/// spends most of an idle stream's time inside a blocking XREADGROUP, and an XACK queued behind it
/// on the same socket would wait up to the whole BLOCK time. On its own connection an ack is sent
/// at once, and acks from concurrent tasks are pipelined together (see ``ack(_:group:)``).
///
/// Commands that are safe to repeat (XACK, XGROUP CREATE, reads) are retried after a lost
/// connection, up to `maxAttempts`; XADD and XAUTOCLAIM are not (their effect may have happened),
/// they fail with ``RedisError/Code-swift.struct/connectionLost``.
public final class RedisStreamClient: Sendable {
    private let thread: CommandThread
    public let configuration: RedisConfiguration
    /// In a cluster: one command thread per slot used, made on first use (`thread` is slot 0's
    /// owner, for commands without a key).
    private let slotThreads = Mutex<[Int: CommandThread]>([:])
    private let maxAttempts: Int
    private let backoff: Backoff
    private let logger: Logger

    /// - Parameters:
    ///   - maxAttempts: tries per command, connection included (default 3).
    ///   - backoff: delay between connection attempts.
    public init(configuration: RedisConfiguration, maxAttempts: Int = 3, backoff: Backoff = Backoff(),
                logger: Logger) {
        self.configuration = configuration
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.logger = logger
        self.thread = CommandThread(configuration: configuration, maxAttempts: maxAttempts, backoff: backoff,
                                    logger: logger)
    }

    deinit { close() }

    /// Fails queued commands with ``RedisError/Code-swift.struct/stopped`` and ends the threads.
    public func close() {
        thread.stop()
        let all = slotThreads.withLock { t in
            let all = Array(t.values)
            t.removeAll()
            return all
        }
        for t in all { t.stop() }
    }

    /// Connection state and error counters, for /readyz and metrics.
    public var status: ConnectionStatus {
        ConnectionStatus.merged([thread.currentStatus] + slotThreads.withLock { $0.values.map(\.currentStatus) })
    }

    /// The thread for commands on `key`: in a cluster, the one of the key's slot.
    private func thread(for key: String?) -> CommandThread {
        guard case .cluster = configuration.topology, let key else { return thread }
        let slot = HashSlot.of(key)
        return slotThreads.withLock { t in
            if let existing = t[slot] { return existing }
            let made = CommandThread(configuration: configuration, maxAttempts: maxAttempts, backoff: backoff,
                                     logger: logger, slot: slot)
            t[slot] = made
            return made
        }
    }

    /// `thread(for:)` by the stream the command names.
    private func run<T: Sendable>(_ argv: Argv, operation: String, stream: String?, retryable: Bool,
                                  key: String? = nil,
                                  decode: @escaping @Sendable (Reply) throws(RedisError) -> T) async throws -> T {
        try await thread(for: key ?? stream).run(argv, operation: operation, stream: stream, retryable: retryable,
                                                  decode: decode)
    }

    /// The key of a generic command, for cluster routing: the first argument after the command
    /// name (after the subcommand for XINFO, XGROUP, OBJECT; after STREAMS for XREAD and
    /// XREADGROUP), or the first key of
    /// EVAL/EVALSHA/FCALL; nil for commands without a key (they go to any node).
    package static func key(of arguments: [String]) -> String? {
        guard let name = arguments.first?.uppercased() else { return nil }
        switch name {
        case "PING", "INFO", "CLUSTER", "CLIENT", "CONFIG", "ROLE", "SCRIPT", "TIME", "DBSIZE", "COMMAND", "HELLO",
             "AUTH", "SELECT", "FUNCTION", "MEMORY", "ACL":
            return nil
        case "XREAD", "XREADGROUP":  // the keys follow STREAMS
            guard let i = arguments.firstIndex(where: { $0.uppercased() == "STREAMS" }), i + 1 < arguments.count else { return nil }
            return arguments[i + 1]
        case "XINFO", "XGROUP", "OBJECT":  // a subcommand, then the key
            return arguments.count > 2 ? arguments[2] : nil
        case "EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO":
            guard arguments.count > 3, let n = Int(arguments[2]), n > 0 else { return nil }
            return arguments[3]
        default:
            return arguments.count > 1 ? arguments[1] : nil
        }
    }

    // MARK: Groups

    /// XGROUP CREATE stream group startID MKSTREAM. Returns false when the group already existed.
    @discardableResult
    public func createGroup(stream: String, group: String, startID: String = "0") async throws -> Bool {
        var a = Argv(capacity: 64)
        a.append("XGROUP"); a.append("CREATE"); a.append(stream); a.append(group); a.append(startID)
        a.append("MKSTREAM")
        do {
            return try await run(a, operation: "XGROUP CREATE", stream: stream, retryable: true) { _ in true }
        } catch let error as RedisError where error.code == .busyGroup {
            return false
        }
    }

    // MARK: Acknowledgements

    /// XACK of every entry of `batch` (deleted ones included). Returns how many were still pending.
    @discardableResult
    public func ack(_ batch: StreamBatch, group: String) async throws -> Int {
        guard !batch.isEmpty else { return 0 }
        var a = Argv(capacity: 16 + batch.stream.utf8.count + group.utf8.count + batch.count * 16,
                     arguments: 3 + batch.count)
        a.append("XACK"); a.append(batch.stream); a.append(group)
        batch.bytes.withUnsafeBytes { raw in
            for e in batch.entries { a.append(raw: UnsafeRawBufferPointer(rebasing: raw[e.idRange])) }
        }
        return try await runInteger(a, operation: "XACK", stream: batch.stream, retryable: true)
    }

    /// XACK of `ids`. Returns how many were still pending. Long lists (a worker acknowledging a
    /// whole flushed file) go as several XACKs of at most `ackChunk` ids, pipelined together.
    @discardableResult
    public func ack(stream: String, group: String, ids: [StreamID]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        if ids.count > Self.ackChunk {
            return try await withThrowingTaskGroup(of: Int.self) { tasks in
                var start = 0
                while start < ids.count {
                    let chunk = Array(ids[start..<min(start + Self.ackChunk, ids.count)])
                    tasks.addTask { try await self.ack(stream: stream, group: group, ids: chunk) }
                    start += Self.ackChunk
                }
                return try await tasks.reduce(0, +)
            }
        }
        var a = Argv(capacity: 16 + stream.utf8.count + group.utf8.count + ids.count * 24, arguments: 3 + ids.count)
        a.append("XACK"); a.append(stream); a.append(group)
        for id in ids { a.append(id) }
        return try await runInteger(a, operation: "XACK", stream: stream, retryable: true)
    }

    // MARK: Claiming

    /// XAUTOCLAIM stream group consumer minIdle start COUNT count: takes over entries other
    /// consumers left pending for longer than `minIdle` (consumers that died). Call again with
    /// ``AutoclaimResult/next`` until it is `0-0` to scan the whole pending list.
    public func autoclaim(stream: String, group: String, consumer: String, minIdle: Duration,
                          start: StreamID = .zero, count: Int = 100) async throws -> AutoclaimResult {
        var a = Argv(capacity: 96)
        a.append("XAUTOCLAIM"); a.append(stream); a.append(group); a.append(consumer)
        a.append(Int(minIdle.components.seconds * 1000 + minIdle.components.attoseconds / 1_000_000_000_000_000))
        a.append(start); a.append("COUNT"); a.append(count)
        return try await run(a, operation: "XAUTOCLAIM", stream: stream, retryable: false) { r throws(RedisError) in
            func bad(_ why: String) -> RedisError {
                RedisError(.unexpectedReply, operation: "XAUTOCLAIM", stream: stream, message: why)
            }
            guard r.isArray, r.count >= 2, r[0].isString, let next = StreamID(bytes: r[0].bytes) else {
                throw bad("expected [cursor, entries, deleted]")
            }
            let flat = FlatReply()
            flat.load(r[1])
            var at = 0
            let decoded = try StreamBatch.decode(entries: flat, at: &at, stream: stream, source: .claimed, skipThrough: nil,
                                                 operation: "XAUTOCLAIM")
            var deleted: [StreamID] = []
            if r.count >= 3, r[2].isArray {  // Redis ≥ 7
                for i in 0..<r[2].count {
                    guard let id = StreamID(bytes: r[2][i].bytes) else { throw bad("malformed deleted id") }
                    deleted.append(id)
                }
            }
            return AutoclaimResult(next: next, batch: decoded.batch, deleted: deleted)
        }
    }

    /// XRANGE stream start end COUNT count: the entries between two ids (inclusive), as a batch
    /// (source ``StreamBatch/Source/pending``).
    public func range(stream: String, start: StreamID, end: StreamID, count: Int = 100) async throws -> StreamBatch {
        var a = Argv(capacity: 64)
        a.append("XRANGE"); a.append(stream); a.append(start); a.append(end); a.append("COUNT"); a.append(count)
        return try await run(a, operation: "XRANGE", stream: stream, retryable: true) { r throws(RedisError) in
            let flat = FlatReply()
            flat.load(r)
            var at = 0
            return try StreamBatch.decode(entries: flat, at: &at, stream: stream, source: .pending, skipThrough: nil,
                                          operation: "XRANGE").batch
        }
    }

    // MARK: Adding, dead letters

    /// XADD stream [MAXLEN ~ maxLength] id field value ... Returns the new entry's id.
    /// `approximate` trimming (`~`) lets Redis trim whole nodes, which is much cheaper.
    @discardableResult
    public func add(stream: String, fields: [StreamField], maxLength: Int? = nil, approximate: Bool = true,
                    id: String = "*") async throws -> StreamID {
        var a = Argv(capacity: 64 + fields.reduce(0) { $0 + $1.name.count + $1.value.count },
                     arguments: 7 + fields.count * 2)
        a.append("XADD"); a.append(stream)
        if let maxLength {
            a.append("MAXLEN")
            if approximate { a.append("~") }
            a.append(maxLength)
        }
        a.append(id)
        for f in fields {
            a.append(f.name)
            a.append(f.value)
        }
        return try await run(a, operation: "XADD", stream: stream, retryable: false) { r throws(RedisError) in
            guard r.isString, let id = StreamID(bytes: r.bytes) else {
                throw RedisError(.unexpectedReply, operation: "XADD", stream: stream, message: "expected an entry id")
            }
            return id
        }
    }

    /// Copies entry `index` of `batch` to the dead-letter stream `deadLetterStream` (XADD with
    /// MAXLEN ~ `maxLength`) in the one dead-letter layout: the entry's own fields first,
    /// unchanged, then `error` (why), `reason` (a short label such as `decode`, when given),
    /// `entity` (empty when unroutable), `source_id` and `source_stream`. Ours come last so that a reader folding fields into a map (redis-py,
    /// most clients) sees them even when the entry has fields of the same names.
    /// Acknowledge the original afterwards, so it leaves the pending list.
    @discardableResult
    public func deadLetter(entry index: Int, of batch: StreamBatch, to deadLetterStream: String, error: String,
                           reason: String? = nil, entity: String, maxLength: Int?) async throws -> StreamID {
        let e = batch.entries[index]
        var fields: [StreamField] = []
        fields.reserveCapacity(e.fieldCount + 5)
        for f in e.fieldIndices {
            fields.append(StreamField(batch.bytes[batch.fields[f].name], batch.bytes[batch.fields[f].value]))
        }
        fields.append(StreamField("error", error))
        if let reason { fields.append(StreamField("reason", reason)) }
        fields += [
            StreamField("entity", entity),
            StreamField(Array("source_id".utf8), batch.bytes[e.idRange]),
            StreamField("source_stream", batch.stream),
        ]
        return try await add(stream: deadLetterStream, fields: fields, maxLength: maxLength, approximate: true)
    }

    // MARK: Inspection

    /// XPENDING stream group (the summary form).
    public func pending(stream: String, group: String) async throws -> PendingSummary {
        var a = Argv(capacity: 64)
        a.append("XPENDING"); a.append(stream); a.append(group)
        return try await run(a, operation: "XPENDING", stream: stream, retryable: true) { r throws(RedisError) in
            guard r.isArray, r.count == 4, let count = r[0].asInt else {
                throw RedisError(.unexpectedReply, operation: "XPENDING", stream: stream, message: "expected 4 elements")
            }
            var consumers: [String: Int] = [:]
            if r[3].isArray {
                for i in 0..<r[3].count {
                    let c = r[3][i]
                    if c.isArray, c.count == 2, let n = c[1].asInt { consumers[c[0].text] = n }
                }
            }
            return PendingSummary(count: count,
                                  smallestID: r[1].isString ? StreamID(bytes: r[1].bytes) : nil,
                                  greatestID: r[2].isString ? StreamID(bytes: r[2].bytes) : nil,
                                  consumers: consumers)
        }
    }

    /// XPENDING stream group start end count [consumer] (the extended form): up to `count`
    /// pending entries from `start` through `end` (both included), with owner, idle time and
    /// delivery count. `count` is capped at 10,000.
    public func pendingEntries(stream: String, group: String, start: StreamID, end: StreamID, count: Int,
                               consumer: String? = nil) async throws -> [PendingEntry] {
        let limit = max(1, min(count, 10_000))
        var a = Argv(capacity: 128)
        a.append("XPENDING"); a.append(stream); a.append(group); a.append(start); a.append(end); a.append(limit)
        if let consumer { a.append(consumer) }
        return try await run(a, operation: "XPENDING", stream: stream, retryable: true) { r throws(RedisError) in
            func bad(_ why: String) -> RedisError {
                RedisError(.unexpectedReply, operation: "XPENDING", stream: stream, message: why)
            }
            guard r.isArray, r.count <= limit else { throw bad("expected an array of at most \(limit) entries") }
            var out: [PendingEntry] = []
            out.reserveCapacity(r.count)
            for i in 0..<r.count {
                let e = r[i]
                guard e.isArray, e.count == 4, e[0].isString, let id = StreamID(bytes: e[0].bytes),
                      let idle = e[2].asInt, let n = e[3].asInt else {
                    throw bad("expected [id, consumer, idle, deliveries]")
                }
                out.append(PendingEntry(id: id, consumer: e[1].text, idleMilliseconds: idle, deliveries: n))
            }
            return out
        }
    }

    /// XINFO GROUPS stream: per group consumers, pending, last delivered id and (Redis ≥ 7) lag.
    public func groups(stream: String) async throws -> [GroupInfo] {
        var a = Argv(capacity: 48)
        a.append("XINFO"); a.append("GROUPS"); a.append(stream)
        return try await run(a, operation: "XINFO GROUPS", stream: stream, retryable: true) { r throws(RedisError) in
            guard r.isArray else {
                throw RedisError(.unexpectedReply, operation: "XINFO GROUPS", stream: stream, message: "expected an array")
            }
            var out: [GroupInfo] = []
            for i in 0..<r.count {
                let g = r[i]
                guard g.isArray, g.count % 2 == 0 else { continue }
                var info = GroupInfo(name: "", consumers: 0, pending: 0, lastDeliveredID: nil, entriesRead: nil, lag: nil)
                var k = 0
                while k < g.count {
                    let v = g[k + 1]
                    switch g[k].text {
                    case "name": info.name = v.text
                    case "consumers": info.consumers = v.asInt ?? 0
                    case "pending": info.pending = v.asInt ?? 0
                    case "last-delivered-id": info.lastDeliveredID = v.isString ? StreamID(bytes: v.bytes) : nil
                    case "entries-read": info.entriesRead = v.asInt
                    case "lag": info.lag = v.asInt
                    default: break
                    }
                    k += 2
                }
                out.append(info)
            }
            return out
        }
    }

    /// Any command, arguments as text; the reply converted to ``RedisValue``. For administration
    /// and tests; retried after a lost connection only when `retryable`.
    public func command(_ arguments: [String], retryable: Bool = false) async throws -> RedisValue {
        var a = Argv(capacity: arguments.reduce(0) { $0 + $1.utf8.count }, arguments: arguments.count)
        for s in arguments { a.append(s) }
        return try await run(a, operation: arguments.first ?? "command", stream: nil, retryable: retryable,
                             key: Self.key(of: arguments)) {
            RedisValue($0)
        }
    }

    /// Any command with binary arguments (field values that are not text); the reply converted
    /// to ``RedisValue``. Never retried (for XADD and scripts, whose effect may have happened).
    public func command(binary arguments: [[UInt8]]) async throws -> RedisValue {
        var a = Argv(capacity: arguments.reduce(0) { $0 + $1.count }, arguments: arguments.count)
        for b in arguments { a.append(b) }
        let name = arguments.first.map { String(decoding: $0.prefix(32), as: UTF8.self) } ?? "command"
        let text = arguments.prefix(4).map { String(decoding: $0.prefix(1024), as: UTF8.self) }
        return try await run(a, operation: name, stream: nil, retryable: false, key: Self.key(of: text)) { RedisValue($0) }
    }

    static let ackChunk = 10_000

    private func runInteger(_ a: Argv, operation: String, stream: String, retryable: Bool) async throws -> Int {
        try await run(a, operation: operation, stream: stream, retryable: retryable) { r throws(RedisError) in
            guard let n = r.asInt else {
                throw RedisError(.unexpectedReply, operation: operation, stream: stream, message: "expected an integer")
            }
            return n
        }
    }
}
