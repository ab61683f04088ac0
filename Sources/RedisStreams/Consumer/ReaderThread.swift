import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// What the readers of one ``StreamConsumer`` share: the bounded buffer of batches between them
/// and the async side, the one waiting iterator, the stop flag and each reader's socket and
/// status. A standalone or sentinel consumer has one reader; a cluster consumer has one per slot
/// its streams hash to (multi-key XREADGROUP needs all keys in one slot).
///
/// `@unchecked Sendable`: every field is accessed with `lock` held.
final class ReaderShared: @unchecked Sendable {
    let lock = NSCondition()
    var buffer: [StreamBatch] = []
    var bufferHead = 0
    var waiter: CheckedContinuation<StreamBatch?, Error>?
    var started = false
    var stopped = false
    /// Readers whose loop ended; the sequence ends when all have (or one failed).
    var finishedReaders = 0
    var failure: RedisError?
    var sockets: [Int32]
    var statuses: [ConnectionStatus]
    let readerCount: Int

    init(readers: Int) {
        readerCount = readers
        sockets = Array(repeating: -1, count: readers)
        statuses = Array(repeating: ConnectionStatus(), count: readers)
    }

    var finished: Bool { finishedReaders == readerCount || failure != nil }
    var buffered: Int { buffer.count - bufferHead }

    var currentStatus: ConnectionStatus {
        lock.lock()
        defer { lock.unlock() }
        return ConnectionStatus.merged(statuses)
    }

    /// Ends every reader: blocked reads are interrupted, buffered batches are still returned.
    func stop() {
        lock.lock()
        stopped = true
        // Wakes reads blocked in XREADGROUP BLOCK. The descriptors are valid: a reader clears its
        // own under this lock before it frees the connection.
        for fd in sockets where fd >= 0 { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        var resume: CheckedContinuation<StreamBatch?, Error>?
        if !started {
            finishedReaders = readerCount
            for i in statuses.indices { statuses[i].state = .stopped }
            resume = waiter
            waiter = nil
        }
        lock.broadcast()
        lock.unlock()
        resume?.resume(returning: nil)
    }

    func next() async throws -> StreamBatch? {
        if let b = tryPop() { return b }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<StreamBatch?, Error>) in
                lock.lock()
                if let b = popLocked() {
                    lock.unlock()
                    continuation.resume(returning: b)
                } else if finished {
                    let f = failure
                    lock.unlock()
                    if let f { continuation.resume(throwing: f) } else { continuation.resume(returning: nil) }
                } else {
                    // One slot: a second concurrent iterator would overwrite (and leak) the first.
                    precondition(waiter == nil, "a StreamConsumer supports one iterating task at a time")
                    waiter = continuation
                    lock.unlock()
                }
            }
        } onCancel: {
            stop()
        }
    }

    private func tryPop() -> StreamBatch? {
        lock.lock()
        defer { lock.unlock() }
        return popLocked()
    }

    /// Takes the oldest buffered batch and wakes readers waiting for room. Lock held.
    private func popLocked() -> StreamBatch? {
        guard bufferHead < buffer.count else { return nil }
        let b = buffer[bufferHead]
        bufferHead += 1
        if bufferHead == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            bufferHead = 0
        }
        lock.broadcast()
        return b
    }

    func deliver(_ batches: [StreamBatch]) {
        lock.lock()
        var handOver: (CheckedContinuation<StreamBatch?, Error>, StreamBatch)?
        var rest = batches[...]
        if let w = waiter, let first = rest.popFirst() {
            waiter = nil
            handOver = (w, first)
        }
        buffer.append(contentsOf: rest)
        lock.unlock()
        if let (w, b) = handOver { w.resume(returning: b) }
    }

    /// Reader `index` ended, with the error that stopped it, if any: that error ends the whole
    /// sequence (the other readers are stopped).
    func finish(reader index: Int, _ error: RedisError?) {
        lock.lock()
        finishedReaders += 1
        if let error, failure == nil { failure = error }
        statuses[index].state = error == nil ? .stopped : .failed
        let done = finished
        let w = done && bufferHead >= buffer.count ? waiter : nil
        if w != nil { waiter = nil }
        let f = failure
        lock.unlock()
        if error != nil { stop() }
        if let w {
            if let f { w.resume(throwing: f) } else { w.resume(returning: nil) }
        }
    }
}

/// One XREADGROUP loop of a ``StreamConsumer``, on its own thread and connection, over streams
/// that share one server (and, in a cluster, one slot).
///
/// `@unchecked Sendable`: the shared state is accessed with `shared.lock` held; the connection,
/// cursors and delivered ids are locals of `run()`, which executes on the reader thread only.
final class ReaderThread: @unchecked Sendable {
    private let redis: RedisConfiguration
    private let config: StreamConsumer.Configuration
    private let logger: Logger
    private let shared: ReaderShared
    private let index: Int
    /// The cluster slot of the streams (nil outside a cluster).
    private let slot: Int?
    private var lock: NSCondition { shared.lock }

    init(redis: RedisConfiguration, configuration: StreamConsumer.Configuration, logger: Logger,
         shared: ReaderShared, index: Int, slot: Int?) {
        self.redis = redis
        self.config = configuration
        var logger = logger
        logger[metadataKey: "redis.group"] = "\(configuration.group)"
        logger[metadataKey: "redis.consumer"] = "\(configuration.consumer)"
        if let slot { logger[metadataKey: "redis.slot"] = "\(slot)" }
        self.logger = logger
        self.shared = shared
        self.index = index
        self.slot = slot
    }

    /// Starts the thread; called once per reader by the consumer, with `shared.lock` held.
    func startLocked() {
        BlockingThread.start(name: "redis-reader") { [self] in run() }
    }

    // MARK: Reader thread

    private var buffered: Int { shared.buffered }
    private var stopped: Bool { shared.stopped }
    private var status: ConnectionStatus {
        get { shared.statuses[index] }
        set { shared.statuses[index] = newValue }
    }
    private var activeSocket: Int32 {
        get { shared.sockets[index] }
        set { shared.sockets[index] = newValue }
    }
    private var waiter: CheckedContinuation<StreamBatch?, Error>? { shared.waiter }

    private func deliver(_ batches: [StreamBatch]) { shared.deliver(batches) }
    private func finish(_ error: RedisError?) { shared.finish(reader: index, error) }

    private func sleep(_ d: Duration) {
        lock.lock()
        _ = lock.wait(for: d) { shared.stopped }
        lock.unlock()
    }

    private enum Cursor {
        /// Reading the own pending list from after this id.
        case pending(after: StreamID)
        /// Reading new entries (`>`).
        case new
    }

    private func run() {
        let streams = config.streams
        let socketTimeout = redis.commandTimeout + config.block
        let blockMillis = Int(config.block.components.seconds * 1000
                              + config.block.components.attoseconds / 1_000_000_000_000_000)
        var connection: RedisConnection?
        var route = Route(slot: slot)
        var cursors = [Cursor](repeating: .pending(after: .zero), count: streams.count)
        var lastDelivered: [String: StreamID] = [:]
        let flat = FlatReply()  // reused by every read of this thread
        var needGroups = config.createGroups
        var failures = 0
        var everConnected = false
        var fatal: RedisError?
        let prefetch = max(1, config.prefetch)
        // A `>` read already written to the socket whose reply has not been read yet.
        var readInFlight = false
        var newEntriesRead = Argv(capacity: 64 + streams.count * 48, arguments: 10 + streams.count * 2)
        newEntriesRead.append("XREADGROUP"); newEntriesRead.append("GROUP"); newEntriesRead.append(config.group)
        newEntriesRead.append(config.consumer); newEntriesRead.append("COUNT"); newEntriesRead.append(config.count)
        newEntriesRead.append("BLOCK"); newEntriesRead.append(blockMillis); newEntriesRead.append("STREAMS")
        for s in streams { newEntriesRead.append(s) }
        for _ in streams { newEntriesRead.append(">") }
        let allNamed = streams.count == 1 ? streams[0] : streams.joined(separator: ",")

        loop: while true {
            lock.lock()
            while !readInFlight && !stopped && buffered >= prefetch { lock.wait() }
            let stopNow = stopped
            lock.unlock()
            if stopNow { break }

            do {
                if connection == nil {
                    if failures > 0 { sleep(config.backoff.delay(attempt: failures - 1)) }
                    let c = try NodeResolver.open(redis, socketTimeout: socketTimeout,
                                                  clientName: "lakewriter-reader:\(config.consumer)", route: route)
                    lock.lock()
                    activeSocket = c.fileDescriptor
                    if everConnected { status.reconnects += 1 }
                    status.state = .connected
                    let stopNow = stopped
                    lock.unlock()
                    connection = c
                    everConnected = true
                    if stopNow { break loop }
                    logger.debug("redis reader connected", metadata: ["redis.endpoint": "\(redis)"])
                    // Entries assigned to us whose reply never arrived are in the pending list
                    // after what this process has delivered.
                    for (i, s) in streams.enumerated() { cursors[i] = .pending(after: lastDelivered[s] ?? .zero) }
                }
                if let c = connection, c.isStale {
                    logger.info("the sentinels named a new master, reconnecting")
                    readInFlight = false
                    drop(&connection)
                    continue
                }
                guard let conn = connection else { continue }
                if needGroups {
                    try ensureGroups(conn, recreate: false, cursors: &cursors, lastDelivered: &lastDelivered)
                    needGroups = false
                }

                var pendingStreams: [Int] = []
                for i in streams.indices { if case .pending = cursors[i] { pendingStreams.append(i) } }
                let named: String
                if !pendingStreams.isEmpty {
                    var a = Argv(capacity: 64 + pendingStreams.count * 48, arguments: 8 + pendingStreams.count * 2)
                    a.append("XREADGROUP"); a.append("GROUP"); a.append(config.group); a.append(config.consumer)
                    a.append("COUNT"); a.append(config.count); a.append("STREAMS")
                    for i in pendingStreams { a.append(streams[i]) }
                    for i in pendingStreams {
                        if case .pending(let after) = cursors[i] { a.append(after) }
                    }
                    named = pendingStreams.count == 1 ? streams[pendingStreams[0]]
                        : pendingStreams.map { streams[$0] }.joined(separator: ",")
                    try conn.send(a, operation: "XREADGROUP", stream: named)
                } else {
                    named = allNamed
                    if !readInFlight { try conn.send(newEntriesRead, operation: "XREADGROUP", stream: named) }
                }
                readInFlight = false
                let source: StreamBatch.Source = pendingStreams.isEmpty ? .new : .pending
                let decoded = try conn.readFlatReply(into: flat, operation: "XREADGROUP", stream: named) { r throws(RedisError) in
                    if pendingStreams.isEmpty {
                        // Put the next read on the wire before copying this reply, so the server
                        // works on it meanwhile, if that keeps the batches ahead of the consumer
                        // (buffered, this one unless a waiter takes it, the next) within `prefetch`.
                        lock.lock()
                        let room = !stopped && buffered + (waiter == nil ? 1 : 0) < prefetch
                        lock.unlock()
                        if room {
                            try conn.send(newEntriesRead, operation: "XREADGROUP", stream: named)
                            readInFlight = true
                        }
                    }
                    return try StreamBatch.decodeRead(r, source: source, skipThrough: { lastDelivered[$0] },
                                                      operation: "XREADGROUP")
                }
                if !pendingStreams.isEmpty {
                    for i in pendingStreams {
                        let d = decoded.first { $0.batch.stream == streams[i] }
                        if let d, d.replyCount > 0, let last = d.lastID {
                            cursors[i] = .pending(after: last)
                        } else {
                            cursors[i] = .new
                        }
                    }
                }
                var batches: [StreamBatch] = []
                for d in decoded {
                    if let last = d.lastID, last > (lastDelivered[d.batch.stream] ?? .zero) {
                        lastDelivered[d.batch.stream] = last
                    }
                    if !d.batch.isEmpty { batches.append(d.batch) }
                }
                failures = 0
                route.succeeded()
                if !batches.isEmpty { deliver(batches) }
            } catch {
                // Only a successful reply is followed by a pipelined read; after an error reply
                // nothing is in flight, and a broken connection is replaced.
                readInFlight = false
                if isStopped { break }
                record(error)
                if error.code == .noGroup, let conn = connection, !conn.isBroken {
                    logger.warning("redis consumer group missing, recreating",
                                   metadata: ["redis.error": "\(error)"])
                    do {
                        try ensureGroups(conn, recreate: true, cursors: &cursors, lastDelivered: &lastDelivered)
                        continue
                    } catch let again {
                        record(again)
                        if !again.isRetryable { fatal = again; break }
                        if again.breaksConnection { drop(&connection) }
                        failures += 1
                        continue
                    }
                } else if error.isRedirect {
                    // MOVED, READONLY (a failover), CLUSTERDOWN, TRYAGAIN: the next connection
                    // finds the master or slot owner again; ASK goes to the importing node.
                    if failures == 0 {
                        logger.info("redis redirected the reader, reconnecting", metadata: ["redis.error": "\(error)"])
                    }
                    drop(&connection)
                    if route.follow(error) {
                        // A cluster or failover still settling: wait (with backoff) before the next.
                        lock.lock()
                        status.state = .reconnecting
                        lock.unlock()
                        failures += 1
                    } else {
                        // A redirect is followed at once, not after a backoff.
                        failures = 0
                    }
                    continue
                } else if error.code == .unblocked {
                    // The stream was deleted under a blocked read: the next read recreates the group.
                    continue
                } else if error.code == .loading {
                    if failures == 0 {
                        logger.info("redis is loading its dataset, waiting", metadata: ["redis.error": "\(error)"])
                    }
                    if connection?.isBroken ?? true { drop(&connection) } else { sleep(config.backoff.delay(attempt: failures)) }
                    failures += 1
                } else if error.breaksConnection || error.code == .connectionFailed {
                    route.reset()
                    if failures == 0 {
                        logger.warning("redis reader connection lost, reconnecting", metadata: ["redis.error": "\(error)"])
                    }
                    drop(&connection)
                    lock.lock()
                    status.state = .reconnecting
                    lock.unlock()
                    failures += 1
                } else {
                    fatal = error
                    break
                }
                if let limit = config.maxReconnectAttempts, failures > limit {
                    fatal = error
                    break
                }
            }
        }
        drop(&connection)
        if let fatal { logger.error("redis reader stopped on an error", metadata: ["redis.error": "\(fatal)"]) }
        finish(fatal)
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    private func record(_ error: RedisError) {
        lock.lock()
        status.errors += 1
        status.lastError = error
        lock.unlock()
    }

    /// Forgets the socket (under the lock, so `stop()` never shuts down a reused descriptor),
    /// then frees the connection.
    private func drop(_ connection: inout RedisConnection?) {
        lock.lock()
        activeSocket = -1
        lock.unlock()
        connection = nil
    }

    /// XGROUP CREATE ... MKSTREAM for every stream; an existing group (BUSYGROUP) is fine.
    ///
    /// `recreate` (after NOGROUP): when the stream itself is gone, the group is created with it at
    /// `0` and what was delivered from the old stream is forgotten (a new stream may reuse ids).
    /// When the stream still exists, the group was destroyed (`XGROUP DESTROY`): it is recreated
    /// after ``StreamConsumer/Configuration/recreateAfter`` (the last id the application
    /// acknowledged) when that knows one, and entries after it this process already delivered
    /// are skipped (the application holds them; its XACK clears them from the new group); else
    /// at ``StreamConsumer/Configuration/groupStartID``, delivering everything from there again.
    private func ensureGroups(_ conn: RedisConnection, recreate: Bool, cursors: inout [Cursor],
                              lastDelivered: inout [String: StreamID]) throws(RedisError) {
        for (i, s) in config.streams.enumerated() {
            var start = config.groupStartID
            var streamExists = false
            var resumedAfter: StreamID?
            if recreate {
                var e = Argv(capacity: 16 + s.utf8.count)
                e.append("EXISTS"); e.append(s)
                streamExists = try conn.command(e, operation: "EXISTS", stream: s) { $0.integer } > 0
                if streamExists {
                    resumedAfter = config.recreateAfter?(s)
                    if let resumedAfter { start = resumedAfter.description }
                } else {
                    start = "0"
                }
            }
            var a = Argv(capacity: 64)
            a.append("XGROUP"); a.append("CREATE"); a.append(s); a.append(config.group)
            a.append(start); a.append("MKSTREAM")
            do {
                try conn.command(a, operation: "XGROUP CREATE", stream: s) { _ in () }
                if recreate && !streamExists {
                    logger.warning("redis consumer group recreated with its deleted stream, from the start",
                                   metadata: ["redis.stream": "\(s)"])
                    lastDelivered[s] = nil
                } else if let resumedAfter {
                    logger.warning("redis consumer group was destroyed: recreated after the last entry this worker acknowledged; entries other consumers had pending before it are not read again",
                                   metadata: ["redis.stream": "\(s)", "redis.after": "\(resumedAfter)"])
                } else if recreate {
                    logger.warning("redis consumer group was destroyed and this worker has acknowledged nothing from the stream since it started: recreated at the start position, entries from there are read again (written twice when already in the lake)",
                                   metadata: ["redis.stream": "\(s)", "redis.start": "\(start)"])
                    // Delivered before by this process or not, everything from the start comes
                    // again: skipping would leave what earlier processes acknowledged pending.
                    lastDelivered[s] = nil
                } else {
                    lastDelivered[s] = nil
                    // A new group decides what history is written: say which start it took.
                    logger.info("redis consumer group created", metadata: [
                        "redis.stream": "\(s)",
                        "redis.start": "\(start == "0" ? "earliest" : start == "$" ? "latest" : start)",
                    ])
                }
                cursors[i] = .pending(after: .zero)
            } catch where error.code == .busyGroup {
                continue
            }
        }
    }
}
