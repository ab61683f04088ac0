import LakeModel
import Retrying
import LakeOutput
import LakeDecoding
import DeltaLake
import Foundation
import Logging
import ObjectStore
import Parquet
import RedisStreams
import ServiceLifecycle
import Synchronization

/// **LakeWorker** — the stream worker (this type), its buffers (`WorkerState`), the flush
/// decision (``FlushPolicy``), dead letters, and the health and metrics endpoint.
///
/// `lakewriter run`: consumes the configured streams with the consumer group, buffers rows per
/// entity and hour, writes Parquet files to the store and acknowledges entries once their file
/// is durable.
///
/// Guarantee: at-least-once. An entry is acknowledged only after the file holding it was stored
/// (or after its dead-letter copy was added); after a crash the unacknowledged entries are read
/// again, so a file may repeat rows already written, and `_stream_id` identifies them.
///
/// Shutdown (graceful, from the service group): stop reading, flush every buffer, upload,
/// acknowledge, return; past `flush.shutdown_grace` the remaining uploads are abandoned
/// unacknowledged and `run()` throws ``WorkerError/shutdownGraceExceeded``.
public final class LakewriterWorker: Service, Sendable {
    public let config: LakewriterConfig
    let logger: Logger
    public let metrics: WorkerMetrics
    let store: any ObjectStore
    /// The Delta table of each entity with `table_format: delta`.
    let deltaTables: [String: DeltaTable]
    /// Per stream, the committed-entry indexes of the Delta tables it feeds: re-read entries
    /// already in a committed file are acknowledged, not written again.
    let committedEntries: [String: [CommittedEntries]]
    /// Test-only fault point (`LAKEWRITER_FAULT_KILL_AFTER_COMMIT`, a probability): SIGKILL right
    /// after a Delta commit, before its entries are acknowledged.
    let killAfterCommit: Double
    let client: RedisStreamClient
    /// Acknowledgements and dead letters (the client; a recorder in unit tests).
    let entries: any EntryAcknowledging
    let redisConfiguration: RedisConfiguration
    /// Flushes that may encode and upload at the same time.
    let flushConcurrency: Int
    let storageReady = ReadinessFlag()
    /// Files given up at shutdown (grace exceeded): their entries stay pending.
    let abandoned = Mutex(0)
    /// Progress of the read loop and the flushes, for `/healthz`.
    let alive: Liveness
    /// The greatest id acknowledged per stream since the start: where a destroyed group is recreated.
    let acknowledged = AcknowledgedIDs()
    /// Entities the dead-letter breaker paused, and why (for `/readyz`).
    let pauses = EntityPauses()

    /// - Parameter store: the object store to write to; nil opens the one `storage` configures.
    public convenience init(config: LakewriterConfig, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
                            store: (any ObjectStore)? = nil, flushConcurrency: Int = 2) throws {
        try self.init(config: config, logger: logger, metrics: metrics, store: store, entries: nil,
                      flushConcurrency: flushConcurrency)
    }

    /// - Parameter entries: where acknowledgements and dead letters go; nil is the Redis client.
    package init(config: LakewriterConfig, logger: Logger, metrics: WorkerMetrics, store: (any ObjectStore)?,
                 entries: (any EntryAcknowledging)?, flushConcurrency: Int) throws {
        if let problem = config.clusterSlotProblem {
            throw WorkerError.redisLayout(problem)
        }
        self.config = config
        self.logger = logger
        self.metrics = metrics
        self.flushConcurrency = flushConcurrency
        alive = Liveness(timeout: config.http.livenessTimeout)
        let m = metrics
        let names = Set(config.entities.map(\.name))
        metrics.prepare(for: config)
        self.store = try store ?? config.storage.openStore(logger: logger, onRetry: { event in
            m.uploadRetry(entity: ObjectKeys.entity(ofKey: event.key ?? "", entities: names))
        }, onRequest: { event in
            m.storeRequest(operation: event.operation, status: event.status)
        })
        var tables: [String: DeltaTable] = [:]
        for e in config.entities where e.tableFormat == .delta {
            tables[e.name] = DeltaTable(store: self.store, root: e.name + "/",
                                        checkpointInterval: config.storage.deltaCheckpointInterval, logger: logger)
        }
        deltaTables = tables
        var committed: [String: [CommittedEntries]] = [:]
        for e in config.entities where e.tableFormat == .delta {
            committed[e.stream, default: []].append(CommittedEntries(log: DeltaLog(store: self.store, root: e.name + "/")))
        }
        committedEntries = committed
        killAfterCommit = ProcessInfo.processInfo.environment["LAKEWRITER_FAULT_KILL_AFTER_COMMIT"].flatMap(Double.init) ?? 0
        redisConfiguration = try config.redis.connection()
        if redisConfiguration.tls?.insecureSkipVerify == true {
            logger.warning("redis.tls.insecure_skip_verify is true: the Redis server's certificate and name are NOT checked; anyone on the network path can read and change the stream entries and the credentials")
        }
        client = RedisStreamClient(configuration: redisConfiguration, logger: logger)
        self.entries = entries ?? client
    }

    /// Nil when Redis and storage are reachable and no entity is paused by the dead-letter
    /// breaker, else why not (for `/readyz`).
    public func readiness() async -> String? {
        let redis = client.status
        if !redis.isReady, let e = redis.lastError { return "redis: \(e)" }
        if let why = storageReady.reason { return "storage: \(why)" }
        if let why = pauses.reason { return why }
        return nil
    }

    /// Nil while the worker makes progress (or has nothing to do), else what is hung (`/healthz`).
    public func liveness() -> String? { alive.check() }

    public func run() async throws {
        let lease = ConsumerLease(client: client, group: config.redis.group, consumer: config.redis.consumer,
                                  ttl: config.redis.consumerLease)
        try await retrying("consumer lease", stream: "") {
            do { try await lease.acquire(logger: self.logger) } catch let e as WorkerError { throw Fatal(error: e) }
        }
        do {
            try await run(holding: lease)
        } catch {
            await lease.release()
            throw error
        }
        // Released at once on a clean stop, so a restart with the same name starts without waiting.
        await lease.release()
    }

    private func run(holding lease: ConsumerLease) async throws {
        let (jobStream, jobContinuation) = AsyncStream<FlushJob>.makeStream()
        var recorder: SchemaRecorder?
        var schemas: [String: EntitySchema] = [:]
        if config.entities.contains(where: { $0.unknownFields == .evolve }) {
            let records = ObjectStoreSchemaVersionStore(store: store)
            recorder = SchemaRecorder(store: records)
            schemas = try await loadSchemas(records)
        }
        let state = try WorkerState(config: config, metrics: metrics, logger: logger, jobs: jobContinuation,
                                    schemas: schemas, recorder: recorder, pauses: pauses)
        let streams = state.router.streamNames
        var cc = StreamConsumer.Configuration(streams: streams, group: config.redis.group, consumer: config.redis.consumer)
        cc.count = config.redis.batch
        cc.block = config.redis.block
        cc.prefetch = 2
        let acknowledged = self.acknowledged
        cc.recreateAfter = { acknowledged.last(stream: $0) }
        cc.groupStartID = config.redis.start.streamID
        let consumer = StreamConsumer(redis: redisConfiguration, configuration: cc, logger: logger)
        let stopping = StopFlag()
        logger.info("worker starting", metadata: [
            "streams": "\(streams.joined(separator: ","))", "group": "\(config.redis.group)",
            "consumer": "\(config.redis.consumer)", "start": "\(config.redis.start)", "storage": "\(store.location)",
        ])

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Flushes: encode, upload, acknowledge; at most `flushConcurrency` at a time.
                group.addTask { await self.runFlushes(jobStream, state: state) }
                // Reading: decode into buffers; waits while memory is at the limit.
                group.addTask {
                    defer {
                        stopping.stop()
                        state.alarm.wake()
                    }
                    do {
                        for try await batch in consumer {
                            self.alive.readProgress()
                            try await self.handle(batch, state: state)
                            self.alive.readProgress()
                            await state.waitForMemory(liveness: self.alive)
                        }
                    } catch {
                        if !(error is CancellationError) {
                            self.logger.error("reading stopped", metadata: ["error": "\(error)"])
                            await state.sealAll(reason: .shutdown)
                            throw error
                        }
                    }
                    await state.sealAll(reason: .shutdown)
                }
                // Timer: age and idle flushes happen without new traffic. It sleeps until the
                // next deadline the policy gives; a new buffer due earlier wakes it.
                group.addTask {
                    while !stopping.isStopped && !Task.isCancelled {
                        let next = await state.tick(now: .now)
                        await state.alarm.sleep(until: next)
                    }
                }
                // The consumer-name lease, renewed three times per lease period.
                group.addTask {
                    while !stopping.isStopped && !Task.isCancelled {
                        do {
                            if try await !lease.renew() {
                                self.logger.error("the consumer-name lease is held by another worker: two workers share redis.consumer",
                                                  metadata: ["lease": "\(lease.key)"])
                            }
                        } catch {
                            self.logger.warning("renewing the consumer-name lease failed", metadata: ["error": "\(error)"])
                        }
                        try? await Task.sleep(for: lease.ttl / 3)
                    }
                }
                // Background compaction of the Delta tables (`compaction.enabled`).
                if config.compaction.enabled && !deltaTables.isEmpty {
                    group.addTask { await self.compactInBackground(stopping: stopping) }
                }
                // Housekeeping: lag and pending gauges, claiming abandoned entries.
                group.addTask {
                    await self.housekeeping(state: state, streams: streams, stopping: stopping, consumer: consumer)
                }
                // Storage reachability for /readyz, apart: a store that is down answers slowly
                // (retries), and the Redis gauges must not wait for it.
                group.addTask { await self.probeStorage(state: state, stopping: stopping) }

                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            self.logger.info("shutdown requested: draining")
            consumer.stop()
        }
        let lost = abandoned.withLock { $0 }
        if lost > 0 || Task.isCancelled {
            throw WorkerError.shutdownGraceExceeded
        }
        logger.info("worker stopped")
    }

    /// The latest recorded version of each evolving entity, so that a restart writes files with
    /// the columns evolution added before. Retries while storage is unreachable: starting from
    /// the declared schema instead would record conflicting versions.
    func loadSchemas(_ records: ObjectStoreSchemaVersionStore) async throws -> [String: EntitySchema] {
        var result: [String: EntitySchema] = [:]
        for e in config.entities where e.unknownFields == .evolve {
            var attempt = 0
            while true {
                do {
                    if let s = try await records.latest(entity: e) {
                        result[e.name] = s
                        logger.info("schema version loaded", metadata: ["entity": "\(e.name)", "version": .stringConvertible(s.version)])
                    }
                    storageReady.set(nil)
                    break
                } catch let error as SchemaRecord.Invalid {
                    throw error
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    attempt += 1
                    storageReady.set("\(error)")
                    logger.error("loading the schema versions failed, retrying", metadata: [
                        "entity": "\(e.name)", "attempt": .stringConvertible(attempt), "error": "\(error)",
                    ])
                    try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(30)).delay(attempt: attempt - 1))
                }
            }
        }
        return result
    }

    // MARK: Background compaction

    /// Every `compaction.interval`, what `lakewriter compact` does to each Delta table, with the
    /// configured age, target size and file count. A failed pass is logged and tried again at the
    /// next one; appends never wait for it (they commit around its commits).
    func compactInBackground(stopping: StopFlag) async {
        var options = DeltaMaintenance.CompactOptions()
        options.olderThan = config.compaction.olderThan
        options.targetSize = config.compaction.targetSize
        options.minFiles = config.compaction.minFiles
        while !stopping.isStopped && !Task.isCancelled {
            let due = ContinuousClock.now + config.compaction.interval
            while ContinuousClock.now < due && !stopping.isStopped && !Task.isCancelled {
                try? await Task.sleep(for: min(.seconds(1), due - ContinuousClock.now))
            }
            if stopping.isStopped || Task.isCancelled { return }
            for name in deltaTables.keys.sorted() {
                do {
                    let r = try await DeltaMaintenance.compact(store: store, root: name + "/", options: options, logger: logger)
                    if r.filesAdded > 0 || r.conflicts > 0 {
                        logger.info("compacted", metadata: [
                            "entity": "\(name)", "joined": .stringConvertible(r.filesRemoved), "into": .stringConvertible(r.filesAdded),
                            "files": "\(r.filesBefore) → \(r.filesAfter)", "conflicts": .stringConvertible(r.conflicts),
                        ])
                    }
                } catch {
                    logger.warning("background compaction failed; trying again at the next pass",
                                   metadata: ["entity": "\(name)", "error": "\(error)"])
                }
            }
        }
    }

    // MARK: Housekeeping

    func housekeeping(state: WorkerState, streams: [String], stopping: StopFlag, consumer: StreamConsumer) async {
        var reconnects = 0
        var readerErrors = 0
        var lastClaim = ContinuousClock.now
        var lastTouch = ContinuousClock.now
        var lastDLQWarning: [String: ContinuousClock.Instant] = [:]
        let claimEvery = max(min(config.redis.claimIdle / 4, .seconds(60)), .seconds(1))
        while !stopping.isStopped && !Task.isCancelled {
            // Freshness: the age of each entity's oldest row not yet durable.
            for (entity, seconds) in await state.oldestUnwritten(now: .now) {
                metrics.oldestBuffered(entity: entity, seconds: seconds)
            }
            let status = consumer.status
            if status.reconnects > reconnects {
                metrics.redisReconnects(status.reconnects - reconnects)
                reconnects = status.reconnects
            }
            // A reader retrying its connection is busy, not hung.
            if status.errors != readerErrors {
                readerErrors = status.errors
                alive.readProgress()
            }
            var redisAnswered = true
            var waiting = 0
            for s in streams {
                // The dead-letter stream's length, and a warning as it nears its cap (past it,
                // the oldest dead letters are trimmed away).
                if let n = try? await client.command(["XLEN", s + ":dlq"]).int {
                    metrics.deadLetterLength(stream: s, n)
                    if let cap = config.redis.deadLetterMaxLength, n >= cap * 9 / 10,
                       lastDLQWarning[s].map({ $0.duration(to: .now) >= .seconds(300) }) ?? true {
                        lastDLQWarning[s] = .now
                        logger.warning("dead-letter stream near its cap: the oldest dead letters will be trimmed", metadata: [
                            "stream": "\(s):dlq", "length": .stringConvertible(n), "cap": .stringConvertible(cap),
                        ])
                    }
                }
                do {
                    let groups = try await client.groups(stream: s)
                    if let g = groups.first(where: { $0.name == config.redis.group }) {
                        if let lag = g.lag {
                            metrics.consumerLag(stream: s, lag)
                            waiting += lag
                        }
                        metrics.pending(stream: s, g.pending)
                        if let seconds = try await lagSeconds(stream: s, group: g) {
                            metrics.consumerLagSeconds(stream: s, seconds)
                        }
                    }
                } catch {
                    // An unknown stream (nothing written yet) is an answer; a failed round trip is not.
                    if let e = error as? RedisError, e.code == .serverError || e.code == .noGroup { continue }
                    redisAnswered = false
                }
            }
            metrics.redisUp(redisAnswered)
            if redisAnswered { alive.waiting(waiting) }
            metrics.ready(await readiness() == nil)
            // Entries held in buffers or slow flushes are touched (XCLAIM … JUSTID to ourselves)
            // so that they never look idle to another replica's XAUTOCLAIM.
            if lastTouch.duration(to: .now) >= claimEvery {
                lastTouch = .now
                await touchHeld(state: state, streams: streams)
            }
            if lastClaim.duration(to: .now) >= claimEvery,
               await state.mayClaim(now: .now, claimIdle: config.redis.claimIdle) {
                lastClaim = .now
                await claimAbandoned(state: state, streams: streams)
            }
            for _ in 0..<20 where !stopping.isStopped { try? await Task.sleep(for: .milliseconds(250)) }
        }
    }

    /// Storage reachability for /readyz, every 5 s: a cheap list of the store's own prefix.
    func probeStorage(state: WorkerState, stopping: StopFlag) async {
        while !stopping.isStopped && !Task.isCancelled {
            do {
                _ = try await store.list(prefix: "_lakewriter/", continuationToken: nil, maxKeys: 1)
                if storageReady.reason != nil, await state.summary.inFlightJobs == 0 { storageReady.set(nil) }
            } catch {
                storageReady.set("\(error)")
            }
            for _ in 0..<20 where !stopping.isStopped { try? await Task.sleep(for: .milliseconds(250)) }
        }
    }

    /// Now minus the time of the group's oldest entry not yet acknowledged: the smallest pending
    /// id, or the first entry after the last delivered one when the group lags behind. 0 when
    /// everything is acknowledged; nil when Redis did not say.
    func lagSeconds(stream: String, group g: GroupInfo) async throws -> Double? {
        var oldest: StreamID?
        if g.pending > 0 {
            oldest = try await client.pending(stream: stream, group: config.redis.group).smallestID
        }
        if g.lag.map({ $0 > 0 }) ?? true {
            let after = g.lastDeliveredID.map { "(" + $0.description } ?? "-"
            if let first = try await client.command(["XRANGE", stream, after, "+", "COUNT", "1"]).array?.first?.array?.first?.text,
               let id = StreamID(first) {
                oldest = oldest.map { min($0, id) } ?? id
            }
        }
        guard let oldest else { return 0 }
        let nowMillis = Date().timeIntervalSince1970 * 1000
        return max(0, (nowMillis - Double(oldest.milliseconds)) / 1000)
    }

    /// Resets the idle time of every entry this worker holds (`XCLAIM stream group me 0 ids… JUSTID`,
    /// which keeps the owner and the delivery count), in batches of 1,000 ids.
    func touchHeld(state: WorkerState, streams: [String]) async {
        for s in streams {
            let held = await state.heldIDs(stream: s)
            guard !held.isEmpty else { continue }
            let ids = held.sorted().map(\.description)
            for start in stride(from: 0, to: ids.count, by: 1000) {
                let chunk = ids[start..<min(ids.count, start + 1000)]
                do {
                    _ = try await client.command(["XCLAIM", s, config.redis.group, config.redis.consumer, "0"] + chunk + ["JUSTID"])
                } catch {
                    logger.warning("XCLAIM of held entries failed", metadata: ["stream": "\(s)", "error": "\(error)"])
                    break
                }
            }
        }
    }

    /// Takes over entries that other consumers (dead ones) left pending past `redis.claim_idle`.
    func claimAbandoned(state: WorkerState, streams: [String]) async {
        for s in streams {
            var start = StreamID.zero
            repeat {
                do {
                    let r = try await client.autoclaim(stream: s, group: config.redis.group, consumer: config.redis.consumer,
                                                       minIdle: config.redis.claimIdle, start: start, count: config.redis.batch)
                    if !r.batch.isEmpty {
                        // XAUTOCLAIM also returns this worker's own entries once idle (a flush
                        // slower than claim_idle): those are buffered or being written already.
                        let held = await state.heldIDs(stream: s)
                        let batch = held.isEmpty ? r.batch : r.batch.excluding(held)
                        if batch.count < r.batch.count {
                            logger.debug("not reclaiming entries this worker holds", metadata: [
                                "stream": "\(s)", "entries": .stringConvertible(r.batch.count - batch.count),
                            ])
                        }
                        if !batch.isEmpty {
                            logger.info("claimed abandoned entries", metadata: ["stream": "\(s)", "entries": .stringConvertible(batch.count)])
                            try await handle(batch, state: state)
                        }
                    }
                    if !r.deleted.isEmpty {
                        _ = try? await client.ack(stream: s, group: config.redis.group, ids: r.deleted)
                    }
                    start = r.next
                } catch {
                    logger.warning("XAUTOCLAIM failed", metadata: ["stream": "\(s)", "error": "\(error)"])
                    break
                }
            } while start != .zero
        }
    }
}

/// Set once when reading ends; read by the timer and housekeeping loops.
final class StopFlag: Sendable {
    private let flag = Mutex(false)
    func stop() { flag.withLock { $0 = true } }
    var isStopped: Bool { flag.withLock { $0 } }
}

/// The greatest entry id this worker acknowledged per stream (dead letters included).
final class AcknowledgedIDs: Sendable {
    private let last = Mutex<[String: StreamID]>([:])
    func record(stream: String, ids: [StreamID]) {
        guard let top = ids.max() else { return }
        last.withLock { m in
            if m[stream].map({ top > $0 }) ?? true { m[stream] = top }
        }
    }
    func last(stream: String) -> StreamID? { last.withLock { $0[stream] } }
}

/// Entities paused by the dead-letter breaker, with the reason `/readyz` shows.
package final class EntityPauses: Sendable {
    private let paused = Mutex<[(entity: String, reason: String)]>([])
    package init() {}
    func pause(entity: String, reason: String) {
        paused.withLock { p in
            if !p.contains(where: { $0.entity == entity }) { p.append((entity, reason)) }
        }
    }
    /// Every paused entity's reason, one per line; nil when none is paused.
    var reason: String? {
        paused.withLock { p in p.isEmpty ? nil : p.map(\.reason).joined(separator: "\n") }
    }
}

/// Why storage is not ready (nil: ready), for `/readyz`.
final class ReadinessFlag: Sendable {
    private let value = Mutex<String?>(nil)
    func set(_ v: String?) { value.withLock { $0 = v } }
    var reason: String? { value.withLock { $0 } }
}

extension LakewriterConfig {
    /// ``RedisConfig/clusterSlotProblem(streams:)`` for the streams the entities read.
    package var clusterSlotProblem: String? { redis.clusterSlotProblem(streams: entities.map(\.stream)) }
}

extension RedisConfig {
    /// The connection settings of this configuration: the URL and, for `rediss://`, `redis.tls`.
    /// The one mapping of the worker and the commands that talk to Redis.
    package func connection() throws(RedisError) -> RedisConfiguration {
        var c = try RedisConfiguration(url: url, tls: .init(caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile,
                                                            serverName: tls.serverName, insecureSkipVerify: tls.insecureSkipVerify))
        if cluster {
            switch c.topology {
            case .standalone:
                guard case .tcp(let host, let port) = c.endpoint else {
                    throw RedisError(.invalidURL, operation: "parse URL", message: "redis.cluster needs a TCP seed node, not a unix socket")
                }
                guard c.database == 0 else {
                    throw RedisError(.invalidURL, operation: "parse URL", message: "a cluster has only database 0")
                }
                c.topology = .cluster(seeds: [HostPort(host: host, port: port)])
            case .cluster: break
            case .sentinel:
                throw RedisError(.invalidURL, operation: "parse URL", message: "redis.cluster does not combine with a redis+sentinel:// URL")
            }
        }
        c.sentinelPassword = sentinelPassword
        return c
    }

    /// In a cluster, each stream's dead-letter stream (`{stream}:dlq`) must hash to the stream's
    /// slot, which a hash tag in the stream name (`{orders}`) guarantees; nil when all do (or not
    /// a cluster), else the error naming the streams without one.
    package func clusterSlotProblem(streams: [String]) -> String? {
        guard (try? connection())?.isCluster == true else { return nil }
        var seen = Set<String>()
        let bad = streams.filter { seen.insert($0).inserted && HashSlot.of($0) != HashSlot.of($0 + ":dlq") }
        guard !bad.isEmpty else { return nil }
        return "in a Redis Cluster each stream and its dead-letter stream '{stream}:dlq' must share a hash slot: give "
            + bad.map { "'\($0)'" }.joined(separator: ", ")
            + " a hash tag, e.g. '{\(bad[0])}' (the part in braces is what is hashed)"
    }
}
