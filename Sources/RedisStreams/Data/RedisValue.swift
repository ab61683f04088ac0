import CHiredis

/// A small reply converted to Swift values, for administrative commands and tests. Stream
/// entries never go through this type (see ``StreamBatch``).
public enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisValue])
    case null

    /// The text of a string or status reply.
    public var text: String? {
        switch self {
        case .string(let b): String(decoding: b, as: UTF8.self)
        case .status(let s): s
        default: nil
        }
    }

    public var int: Int? {
        switch self {
        case .integer(let i): Int(i)
        case .string, .status: text.flatMap { Int($0) }
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    init(_ reply: Reply) {
        switch reply.type {
        case REDIS_REPLY_STRING: self = .string(Array(reply.bytes))
        case REDIS_REPLY_STATUS: self = .status(reply.text)
        case REDIS_REPLY_INTEGER: self = .integer(reply.integer)
        case REDIS_REPLY_ARRAY: self = .array((0..<reply.count).map { RedisValue(reply[$0]) })
        default: self = .null
        }
    }
}

/// One field of an entry to add (XADD): raw bytes, so binary values need no encoding.
public struct StreamField: Sendable, Equatable {
    public var name: [UInt8]
    public var value: [UInt8]
    public init(_ name: some Collection<UInt8>, _ value: some Collection<UInt8>) {
        self.name = Array(name)
        self.value = Array(value)
    }
    public init(_ name: String, _ value: String) {
        self.init(Array(name.utf8), Array(value.utf8))
    }
}

/// XPENDING's summary form for one stream and group.
public struct PendingSummary: Sendable, Equatable {
    public var count: Int
    public var smallestID: StreamID?
    public var greatestID: StreamID?
    /// Pending entries per consumer name.
    public var consumers: [String: Int]
}

/// One entry of XPENDING's extended form.
public struct PendingEntry: Sendable, Equatable {
    public var id: StreamID
    public var consumer: String
    /// Milliseconds since the entry was last delivered.
    public var idleMilliseconds: Int
    /// How many times the entry was delivered (XREADGROUP of pending entries, XCLAIM and
    /// XAUTOCLAIM add one; `XCLAIM … JUSTID` does not).
    public var deliveries: Int
}

/// One group of XINFO GROUPS.
public struct GroupInfo: Sendable, Equatable {
    public var name: String
    public var consumers: Int
    public var pending: Int
    public var lastDeliveredID: StreamID?
    /// Redis ≥ 7: entries read by the group so far (nil when unknown).
    public var entriesRead: Int?
    /// Redis ≥ 7: entries not yet delivered to the group. Nil on older servers and when Redis
    /// cannot compute it (after deletions or trimming past the group's position).
    public var lag: Int?
}

/// What one XAUTOCLAIM call took over.
public struct AutoclaimResult: Sendable {
    /// Where the next call should start; `0-0` when the whole pending list was scanned.
    public var next: StreamID
    /// The claimed entries (source ``StreamBatch/Source/claimed``), now owned by the claiming consumer.
    public var batch: StreamBatch
    /// Ids that were pending but no longer exist in the stream (Redis ≥ 7 removed them from the
    /// pending list already; nothing to acknowledge).
    public var deleted: [StreamID]
}

/// Connection health for readiness checks and metrics.
public struct ConnectionStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        /// Not connected yet.
        case idle
        case connected
        /// The connection was lost or could not be opened; retrying with backoff.
        case reconnecting
        /// Stopped by the owner.
        case stopped
        /// Gave up on an error that retrying cannot fix (see `lastError`).
        case failed
    }

    public var state: State = .idle
    /// Connections replaced after a failure.
    public var reconnects: Int = 0
    /// Errors seen (connection failures, timeouts, server errors).
    public var errors: Int = 0
    public var lastError: RedisError?

    /// Ready for /readyz: connected now.
    public var isReady: Bool { state == .connected }

    /// Several connections as one: the worst state, summed counters, the last error of one that
    /// is not connected (or of any).
    static func merged(_ all: [ConnectionStatus]) -> ConnectionStatus {
        guard all.count > 1 else { return all.first ?? ConnectionStatus() }
        var m = ConnectionStatus()
        let states = all.map(\.state)
        m.state = states.contains(.failed) ? .failed : states.contains(.reconnecting) ? .reconnecting
            : states.contains(.idle) ? .idle : states.allSatisfy { $0 == .stopped } ? .stopped
            : states.contains(.connected) ? .connected : .stopped
        m.reconnects = all.reduce(0) { $0 + $1.reconnects }
        m.errors = all.reduce(0) { $0 + $1.errors }
        m.lastError = all.first { $0.state != .connected && $0.lastError != nil }?.lastError ?? all.last { $0.lastError != nil }?.lastError
        return m
    }
}
