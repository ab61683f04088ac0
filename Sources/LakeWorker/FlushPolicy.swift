import LakeModel
import LakeOutput

/// When a buffer is written out: the one place where a flush is decided.
///
/// ``decide(_:totalBytes:now:)`` answers "seal these buffers now, and why" for rows, bytes,
/// age, idleness and memory; the worker asks it after every stream batch (and mid-batch when a
/// buffer reaches `max_rows`, so files hold exactly that many rows) and from its timer, which
/// sleeps until ``nextDeadline(_:)``. Schema changes and shutdown are explicit seals with their
/// own reasons. Pure logic over instants of any clock, so flush timing is tested without sleeping.
public struct FlushPolicy: Sendable, Equatable {
    /// Why a buffer was flushed (a bounded label value for metrics and logs).
    public enum Reason: String, Sendable, CaseIterable {
        case rows, bytes, age, idle, memory, shutdown
        /// The entity's schema evolved: buffers of the previous version are written out.
        case schema
        /// The entity had `flush.max_open_partitions` buffers open and a row opened another:
        /// the least recently appended one was written out.
        case partitions
    }

    public var maxRows: Int
    public var maxBytes: Int
    public var maxAge: Duration
    public var idle: Duration
    public var memoryLimit: Int
    /// After a memory-limit flush, buffered bytes fall to at most this fraction of the limit,
    /// so the worker does not flush one buffer per incoming batch while at the limit.
    public var lowWaterFraction: Double

    public init(maxRows: Int = 100_000, maxBytes: Int = 128 << 20, maxAge: Duration = .seconds(60),
                idle: Duration = .seconds(10), memoryLimit: Int = 512 << 20, lowWaterFraction: Double = 0.5) {
        self.maxRows = maxRows
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.idle = idle
        self.memoryLimit = memoryLimit
        self.lowWaterFraction = lowWaterFraction
    }

    /// The state of one buffer the policy looks at.
    public struct BufferState<Instant: InstantProtocol>: Sendable where Instant.Duration == Duration {
        public var rows: Int
        /// The estimated encoded size (what `max_bytes` is compared with).
        public var bytes: Int
        /// Memory the buffer holds (what `memory_limit` counts).
        public var memory: Int
        public var firstAppend: Instant
        public var lastAppend: Instant
        public init(rows: Int, bytes: Int, memory: Int = 0, firstAppend: Instant, lastAppend: Instant) {
            self.rows = rows
            self.bytes = bytes
            self.memory = memory
            self.firstAppend = firstAppend
            self.lastAppend = lastAppend
        }
    }

    /// The one flush decision: the buffers to seal now, each with its reason, in order.
    ///
    /// Each buffer due by rows, bytes, age or idleness (``reason(for:now:)``) is sealed; then, when
    /// `totalBytes` (buffered plus in flight) is at the memory limit, the largest of the others
    /// go too, until the buffered bytes are down to the low-water mark (``memoryVictims(_:)``).
    public func decide<ID, I>(_ buffers: [(id: ID, state: BufferState<I>)], totalBytes: Int,
                              now: I) -> [(id: ID, reason: Reason)] {
        var sealed: [(id: ID, reason: Reason)] = []
        var kept: [(id: ID, bytes: Int)] = []
        var remaining = totalBytes
        for b in buffers {
            if let r = reason(for: b.state, now: now) {
                sealed.append((b.id, r))
                remaining -= b.state.memory
            } else if b.state.rows > 0 {
                kept.append((b.id, b.state.memory))
            }
        }
        if mustRelieveMemory(totalBytes: remaining) {
            for id in memoryVictims(kept) { sealed.append((id, .memory)) }
        }
        return sealed
    }

    /// The earliest instant at which one of `buffers` becomes due by age or idleness (nil: none
    /// holds rows): the worker's timer sleeps until then.
    public func nextDeadline<I>(_ buffers: [BufferState<I>]) -> I? {
        var next: I?
        for b in buffers where b.rows > 0 {
            let d = deadline(for: b)
            if next == nil || d < next! { next = d }
        }
        return next
    }

    /// The reason to flush this buffer now, or nil to keep it.
    public func reason<I>(for b: BufferState<I>, now: I) -> Reason? {
        if b.rows == 0 { return nil }
        if b.rows >= maxRows { return .rows }
        if b.bytes >= maxBytes { return .bytes }
        if b.firstAppend.duration(to: now) >= maxAge { return .age }
        if b.lastAppend.duration(to: now) >= idle { return .idle }
        return nil
    }

    /// The instant at which this buffer becomes due by age or idleness.
    public func deadline<I>(for b: BufferState<I>) -> I {
        let byAge = b.firstAppend.advanced(by: maxAge)
        let byIdle = b.lastAppend.advanced(by: idle)
        return byAge < byIdle ? byAge : byIdle
    }

    /// True when buffered data is at or above the memory limit: reading pauses.
    public func mustRelieveMemory(totalBytes: Int) -> Bool { totalBytes >= memoryLimit }

    /// Which buffers to flush, largest first, to bring `total` down to the low-water mark.
    public func memoryVictims<ID>(_ buffers: [(id: ID, bytes: Int)]) -> [ID] {
        var total = buffers.reduce(0) { $0 + $1.bytes }
        guard total >= memoryLimit else { return [] }
        let target = Int(Double(memoryLimit) * lowWaterFraction)
        var victims: [ID] = []
        for b in buffers.sorted(by: { $0.bytes > $1.bytes }) where total > target {
            victims.append(b.id)
            total -= b.bytes
        }
        return victims
    }
}

/// Estimates the file size a buffer would encode to, from its column data (``RowBatch/byteCount``):
/// `max_bytes` is a target file size, and encoding (dictionaries, compression) shrinks
/// column data by a ratio that depends on the entity's data.
///
/// The ratio is learned from the entity's own files, weighted by their size and decaying so
/// that recent files count most. Before the first file it is 1 (column data as is), which errs
/// on the side of smaller files; it is kept within 1/100 and 4.
public struct EncodedSizeEstimator: Sendable, Equatable {
    private var fileBytes = 0.0
    private var rawBytes = 0.0
    /// Weight kept by earlier files when a new one is learned.
    public static let decay = 0.75

    public init() {}

    /// File bytes per byte of column data.
    public var ratio: Double {
        guard rawBytes > 0 else { return 1 }
        return min(max(fileBytes / rawBytes, 0.01), 4)
    }

    /// The expected file size of a buffer holding `rawBytes` of column data.
    public func estimate(rawBytes: Int) -> Int { Int(Double(rawBytes) * ratio) }

    /// Takes in a written file: `rawBytes` of column data became `fileBytes`.
    public mutating func learn(rawBytes: Int, fileBytes: Int) {
        guard rawBytes > 0, fileBytes > 0 else { return }
        self.rawBytes = self.rawBytes * Self.decay + Double(rawBytes)
        self.fileBytes = self.fileBytes * Self.decay + Double(fileBytes)
    }
}
