import Logging

/// A consumer-group reader over one or more streams, as an `AsyncSequence` of ``StreamBatch``es.
///
/// The XREADGROUP loop runs on a dedicated thread with its own hiredis connection. It reads ahead:
/// while the worker decodes one batch, the next XREADGROUP is already on the wire (it is written
/// before the previous reply is even copied out), up to ``Configuration/prefetch`` batches ahead.
/// When the worker is slower, the buffer fills and the reader stops asking (backpressure).
///
/// Order of delivery: after the start and after every reconnection, first the consumer's own
/// pending entries (`XREADGROUP ... 0`, paged until empty), then new ones (`>`). Entries already
/// delivered by this instance are not delivered again after a reconnection; entries the server
/// assigned to this consumer but whose reply was lost are (they are in the pending list).
///
/// Faults: a lost connection, a timeout or a restarting server (`LOADING`) is retried with
/// ``Configuration/backoff`` for ever (or ``Configuration/maxReconnectAttempts``); `NOGROUP`
/// (the stream or group was deleted) recreates the group (see ``Configuration/recreateAfter``). Errors retrying cannot fix (credentials,
/// permissions, a key of the wrong type) end the sequence by throwing the ``RedisError``.
///
/// Acknowledge with ``RedisStreamClient/ack(_:group:)`` once the data is durable.
/// One iterator per consumer; ``stop()`` (or cancelling the iterating task) ends the sequence.
public final class StreamConsumer: AsyncSequence, Sendable {
    public typealias Element = StreamBatch

    /// What to read and how.
    public struct Configuration: Sendable {
        public var streams: [String]
        public var group: String
        /// The consumer name; reuse it across restarts so pending entries come back to it.
        public var consumer: String
        /// COUNT per stream and read. Default 1000.
        public var count: Int = 1000
        /// BLOCK time of a read of new entries. Default 2 s. The socket timeout is the command
        /// timeout plus this.
        public var block: Duration = .seconds(2)
        /// Batches read ahead of the consumer, buffered or already requested. Default 2: while the
        /// worker decodes one batch, the next waits in the buffer and the one after is being read.
        public var prefetch: Int = 2
        /// Create the groups (MKSTREAM) at start. Default true.
        public var createGroups: Bool = true
        /// Where a group created at start begins: "0" (everything in the stream, the default), "$"
        /// (only entries added later) or an entry id (entries after it); logged at info when created.
        /// A group recreated after its stream was deleted always begins at "0"; one recreated after
        /// `XGROUP DESTROY` begins after ``recreateAfter``'s id, or here when that gives none.
        public var groupStartID: String = "0"
        /// After `XGROUP DESTROY` (NOGROUP while the stream exists): the id after which the group
        /// is recreated for a stream, normally the last one the application acknowledged there;
        /// nil (or no closure) recreates it at ``groupStartID``. Called on the reader thread.
        public var recreateAfter: (@Sendable (String) -> StreamID?)?
        /// Delay between reconnection attempts.
        public var backoff: Backoff = Backoff()
        /// Consecutive failed attempts before the sequence throws; nil retries for ever (default).
        public var maxReconnectAttempts: Int?

        public init(streams: [String], group: String, consumer: String) {
            self.streams = streams
            self.group = group
            self.consumer = consumer
        }
    }

    fileprivate let shared: ReaderShared
    private let readers: [ReaderThread]

    /// In a cluster (``RedisConfiguration/Topology/cluster(seeds:)``) the streams are grouped by
    /// hash slot, one reader (thread, connection, XREADGROUP) per slot, each on the primary that
    /// owns it; give streams a common hash tag (`{orders}`, `{orders}:refunds`) to read them in
    /// one XREADGROUP. Otherwise one reader reads every stream.
    public init(redis: RedisConfiguration, configuration: Configuration, logger: Logger) {
        precondition(!configuration.streams.isEmpty, "StreamConsumer needs at least one stream")
        var groups: [(slot: Int?, streams: [String])] = []
        if case .cluster = redis.topology {
            var bySlot: [Int: Int] = [:]
            for s in configuration.streams {
                let slot = HashSlot.of(s)
                if let i = bySlot[slot] { groups[i].streams.append(s) } else {
                    bySlot[slot] = groups.count
                    groups.append((slot, [s]))
                }
            }
        } else {
            groups = [(nil, configuration.streams)]
        }
        let shared = ReaderShared(readers: groups.count)
        self.shared = shared
        readers = groups.enumerated().map { i, g in
            var c = configuration
            c.streams = g.streams
            return ReaderThread(redis: redis, configuration: c, logger: logger, shared: shared, index: i, slot: g.slot)
        }
    }

    deinit { shared.stop() }

    /// Connection state and counters, for /readyz and metrics (of all readers together: ready
    /// when every one is connected).
    public var status: ConnectionStatus { shared.currentStatus }

    /// Ends the sequence: blocked reads are interrupted, buffered batches are still returned.
    public func stop() { shared.stop() }

    public func makeAsyncIterator() -> AsyncIterator {
        shared.lock.lock()
        if !shared.started && !shared.stopped {
            shared.started = true
            for r in readers { r.startLocked() }
        }
        shared.lock.unlock()
        return AsyncIterator(consumer: self)
    }

    /// Returns the batches in order; throws the error that ended the reader, if any.
    public struct AsyncIterator: AsyncIteratorProtocol {
        // Keeps the consumer alive while iterating: `for try await b in StreamConsumer(...)`
        // holds only the iterator, and the consumer's deinit stops the reader.
        let consumer: StreamConsumer
        public mutating func next() async throws -> StreamBatch? {
            try await consumer.shared.next()
        }
    }
}
