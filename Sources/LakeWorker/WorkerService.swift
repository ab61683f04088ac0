import LakeModel
import Retrying
import LakeOutput
import LakeDecoding
import Foundation
import Logging
import NIOCore
import ObjectStore
import Parquet
import RedisStreams
import ServiceLifecycle
import Synchronization

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
    let client: RedisStreamClient
    let redisConfiguration: RedisConfiguration
    /// Flushes that may encode and upload at the same time.
    let flushConcurrency: Int
    let storageReady = ReadinessFlag()
    /// Files given up at shutdown (grace exceeded): their entries stay pending.
    let abandoned = Mutex(0)

    /// - Parameter store: the object store to write to; nil opens the one `storage` configures.
    public init(config: LakewriterConfig, logger: Logger, metrics: WorkerMetrics = WorkerMetrics(),
                store: (any ObjectStore)? = nil, flushConcurrency: Int = 2) throws {
        self.config = config
        self.logger = logger
        self.metrics = metrics
        self.flushConcurrency = flushConcurrency
        let m = metrics
        self.store = try store ?? config.storage.openStore(logger: logger) { event in
            m.uploadRetry(entity: ObjectKeys.entity(ofKey: event.key ?? ""))
        }
        redisConfiguration = try RedisConfiguration(url: config.redis.url)
        client = RedisStreamClient(configuration: redisConfiguration, logger: logger)
    }

    /// Nil when Redis and storage are reachable, else why not (for `/readyz`).
    public func readiness() async -> String? {
        let redis = client.status
        if !redis.isReady, let e = redis.lastError { return "redis: \(e)" }
        if let why = storageReady.reason { return "storage: \(why)" }
        return nil
    }

    public func run() async throws {
        let (jobStream, jobContinuation) = AsyncStream<FlushJob>.makeStream()
        var recorder: SchemaRecorder?
        var schemas: [String: EntitySchema] = [:]
        if config.entities.contains(where: { $0.unknownFields == .evolve }) {
            let records = ObjectStoreSchemaVersionStore(store: store)
            recorder = SchemaRecorder(store: records)
            schemas = try await loadSchemas(records)
        }
        let state = try WorkerState(config: config, metrics: metrics, logger: logger, jobs: jobContinuation,
                                    schemas: schemas, recorder: recorder)
        let streams = state.router.streamNames
        var cc = StreamConsumer.Configuration(streams: streams, group: config.redis.group, consumer: config.redis.consumer)
        cc.count = config.redis.batch
        cc.block = config.redis.block
        cc.prefetch = 2
        let consumer = StreamConsumer(redis: redisConfiguration, configuration: cc, logger: logger)
        let stopping = StopFlag()
        logger.info("worker starting", metadata: [
            "streams": "\(streams.joined(separator: ","))", "group": "\(config.redis.group)",
            "consumer": "\(config.redis.consumer)", "storage": "\(store.location)",
        ])

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Flushes: encode, upload, acknowledge; at most `flushConcurrency` at a time.
                group.addTask { await self.runFlushes(jobStream, state: state) }
                // Reading: decode into buffers; waits while memory is at the limit.
                group.addTask {
                    defer { stopping.stop() }
                    do {
                        for try await batch in consumer {
                            try await self.handle(batch, state: state)
                            await state.waitForMemory()
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
                // Timer: age and idle flushes happen without new traffic.
                group.addTask {
                    let period = min(self.config.flush.idle, self.config.flush.maxAge, .seconds(1)) / 4
                    while !stopping.isStopped && !Task.isCancelled {
                        try? await Task.sleep(for: max(period, .milliseconds(20)))
                        await state.tick(now: .now)
                    }
                }
                // Housekeeping: lag and pending gauges, storage probe, claiming abandoned entries.
                group.addTask { await self.housekeeping(state: state, streams: streams, stopping: stopping) }

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
                        logger.info("schema version loaded", metadata: ["entity": "\(e.name)", "version": "\(s.version)"])
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
                        "entity": "\(e.name)", "attempt": "\(attempt)", "error": "\(error)",
                    ])
                    try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(30)).delay(attempt: attempt - 1))
                }
            }
        }
        return result
    }

    // MARK: Reading

    func handle(_ batch: StreamBatch, state: WorkerState) async throws {
        metrics.eventsConsumed(stream: batch.stream, batch.count)
        let result = await state.ingest(batch, now: .now)
        if result.deadLetters.isEmpty && result.ackNow.isEmpty { return }
        var ackIDs = result.ackNow
        for d in result.deadLetters {
            let entry = batch.entries[d.entry]
            // The original fields first, then ours: a reader that folds fields into a map (redis-py,
            // most clients) sees our `entity` and `error` even when the route field is named `entity`.
            var fields: [StreamField] = []
            for f in entry.fieldIndices {
                fields.append(StreamField(batch.bytes[batch.fields[f].name], batch.bytes[batch.fields[f].value]))
            }
            fields += [
                StreamField("error", d.error),
                StreamField("entity", d.entity),
                StreamField("source_id", entry.id.description),
                StreamField("source_stream", batch.stream),
            ]
            try await retrying("dead-letter XADD", stream: batch.stream) {
                _ = try await self.client.add(stream: batch.stream + ":dlq", fields: fields, maxLength: 100_000)
            }
            logger.warning("dead letter", metadata: [
                "stream": "\(batch.stream)", "id": "\(entry.id)", "entity": "\(d.entity)", "error": "\(d.error)",
            ])
            metrics.deadLetter(stream: batch.stream, entity: d.entity, reason: d.reason)
            ackIDs.append(entry.id)
        }
        try await retrying("XACK", stream: batch.stream) {
            _ = try await self.client.ack(stream: batch.stream, group: self.config.redis.group, ids: ackIDs)
        }
    }

    /// Retries a Redis call while the connection recovers; gives up only on cancellation.
    func retrying(_ what: String, stream: String, _ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                try await body()
                return
            } catch {
                if Task.isCancelled { throw CancellationError() }
                attempt += 1
                logger.warning("redis call failed, retrying", metadata: [
                    "operation": "\(what)", "stream": "\(stream)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(5)).delay(attempt: attempt - 1))
            }
        }
    }

    // MARK: Flushing

    func runFlushes(_ jobs: AsyncStream<FlushJob>, state: WorkerState) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in jobs {
                if running >= flushConcurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    await self.flush(job, state: state)
                    await state.completed(job)
                }
            }
        }
    }

    /// Writes one file, retrying the upload until it succeeds (storage down or slow never drops
    /// or acknowledges data), then acknowledges its entries. The file is encoded while it is
    /// uploaded, row group by row group; a retry encodes it again from the kept batch.
    func flush(_ job: FlushJob, state: WorkerState) async {
        let start = ContinuousClock.now
        let key = ObjectKeys.dataFile(entity: job.entity, partition: job.partition, id: UUIDv7())
        let upload = parquetUpload(job)
        var attempt = 0
        var failing = false
        defer { if failing { Task { await state.flushFailing(false) } } }
        // Versions this file's rows (or earlier files') were decoded with, not yet recorded.
        var schemas: [EntitySchema] = []
        if let v = job.schemaVersion, let recorder = state.recorder {
            schemas = recorder.unrecorded(entity: job.entity, through: v)
        }
        var written: ParquetUpload.Result
        while true {
            do {
                while let s = schemas.first {
                    try await state.recorder!.store.record(s)
                    state.recorder!.markRecorded(s)
                    logger.info("schema version recorded", metadata: ["entity": "\(job.entity)", "key": "\(s.recordKey)"])
                    schemas.removeFirst()
                }
                written = try await upload.run(job.batch, key: key, store: store)
                storageReady.set(nil)
                break
            } catch let error as ParquetUpload.EncodeFailure {
                // Rows were validated while decoding, so this is a bug: keep the entries pending
                // (they are read again after a restart) rather than lose them.
                logger.error("encoding failed; entries stay pending", metadata: [
                    "entity": "\(job.entity)", "rows": "\(job.rows)", "error": "\(error)",
                ])
                metrics.flushFailed(entity: job.entity)
                return
            } catch {
                if Task.isCancelled {
                    abandoned.withLock { $0 += 1 }
                    logger.warning("upload abandoned at shutdown; entries stay pending", metadata: [
                        "entity": "\(job.entity)", "key": "\(key)", "rows": "\(job.rows)",
                    ])
                    return
                }
                attempt += 1
                if !failing { failing = true; await state.flushFailing(true) }
                storageReady.set("\(error)")
                metrics.flushFailed(entity: job.entity)
                logger.error("upload failed, retrying", metadata: [
                    "entity": "\(job.entity)", "key": "\(key)", "attempt": "\(attempt)", "error": "\(error)",
                ])
                do {
                    try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(30)).delay(attempt: attempt - 1))
                } catch {
                    abandoned.withLock { $0 += 1 }
                    return
                }
            }
        }
        let elapsed = start.duration(to: .now)
        await state.learnEncodedSize(entity: job.entity, rawBytes: job.rawBytes, fileBytes: written.bytes)
        metrics.fileWritten(entity: job.entity, rows: job.rows, bytes: written.bytes, duration: elapsed, reason: job.reason)
        logger.info("file written", metadata: [
            "entity": "\(job.entity)", "key": "\(key)", "rows": "\(job.rows)", "bytes": "\(written.bytes)",
            "row_groups": "\(written.rowGroups)", "parts": "\(written.parts)",
            "seconds": "\(String(format: "%.3f", elapsed.seconds))", "reason": "\(job.reason.rawValue)",
        ])
        for (stream, ids) in job.ids {
            do {
                try await retrying("XACK", stream: stream) {
                    _ = try await self.client.ack(stream: stream, group: self.config.redis.group, ids: ids)
                }
            } catch {
                logger.warning("acknowledgement abandoned at shutdown; the entries will be read again",
                               metadata: ["stream": "\(stream)", "entries": "\(ids.count)"])
            }
        }
    }

    /// How a job's file is encoded and uploaded.
    func parquetUpload(_ job: FlushJob) -> ParquetUpload {
        var props = config.parquet.writerProperties
        props.keyValueMetadata["lakewriter.entity"] = job.entity
        if let v = job.schemaVersion { props.keyValueMetadata["lakewriter.schema_version"] = String(v) }
        return ParquetUpload(properties: props, options: config.storage.writerOptions)
    }

    // MARK: Housekeeping

    func housekeeping(state: WorkerState, streams: [String], stopping: StopFlag) async {
        var lastClaim = ContinuousClock.now
        let claimEvery = max(min(config.redis.claimIdle / 4, .seconds(60)), .seconds(1))
        while !stopping.isStopped && !Task.isCancelled {
            // Storage reachability for /readyz: a cheap list of the store's own prefix.
            do {
                _ = try await store.list(prefix: "_lakewriter/", continuationToken: nil, maxKeys: 1)
                if storageReady.reason != nil, await state.summary.inFlightJobs == 0 { storageReady.set(nil) }
            } catch {
                storageReady.set("\(error)")
            }
            for s in streams {
                if let groups = try? await client.groups(stream: s),
                   let g = groups.first(where: { $0.name == config.redis.group }) {
                    if let lag = g.lag { metrics.consumerLag(stream: s, lag) }
                    metrics.pending(stream: s, g.pending)
                }
            }
            if lastClaim.duration(to: .now) >= claimEvery,
               await state.mayClaim(now: .now, claimIdle: config.redis.claimIdle) {
                lastClaim = .now
                await claimAbandoned(state: state, streams: streams)
            }
            for _ in 0..<20 where !stopping.isStopped { try? await Task.sleep(for: .milliseconds(250)) }
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
                        logger.info("claimed abandoned entries", metadata: ["stream": "\(s)", "entries": "\(r.batch.count)"])
                        try await handle(r.batch, state: state)
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

/// Why storage is not ready (nil: ready), for `/readyz`.
final class ReadinessFlag: Sendable {
    private let value = Mutex<String?>(nil)
    func set(_ v: String?) { value.withLock { $0 = v } }
    var reason: String? { value.withLock { $0 } }
}
