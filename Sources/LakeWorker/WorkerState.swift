import LakeModel
import LakeOutput
import LakeDecoding
import Logging
import Parquet
import RedisStreams

/// A buffer that became a file to write: one entity, one partition (field values and time), and
/// the entry ids to acknowledge once the file is durable.
struct FlushJob: Sendable {
    var sequence: Int
    var entity: String
    var partition: FilePartition
    var batch: RowBatch
    /// Columns left out of the file (`partition_columns_in_file: false`).
    var droppedColumns: Set<String> = []
    /// Entry ids per stream, acknowledged after the upload.
    var ids: [(stream: String, ids: [StreamID])]
    var rows: Int
    /// Column data of the batch (``RowBatch/byteCount``): what the encoded size is learned against.
    var rawBytes: Int
    /// Memory the batch holds (``RowBatch/allocatedBytes``), counted against `memory_limit`
    /// until the job completes.
    var memoryBytes: Int
    var reason: FlushPolicy.Reason
    /// When the first of its rows was buffered (freshness: the oldest row not yet durable).
    var firstAppend: ContinuousClock.Instant
    /// The rest of a job whose refused rows were dead-lettered: never salvaged twice.
    var salvaged = false
    /// The schema version the rows were decoded with, for `unknown_fields: evolve` entities:
    /// recorded under `_schemas/` before the file is uploaded.
    var schemaVersion: Int?
}

extension FlushJob {
    /// The rows as the file holds them: without the columns of `droppedColumns`.
    func fileBatch() throws(ParquetError) -> RowBatch {
        droppedColumns.isEmpty ? batch : try batch.removingTopLevelFields(droppedColumns)
    }
}

/// An entry that cannot be written: it goes to `{stream}:dlq` and is then acknowledged.
struct DeadLetter: Sendable {
    var entry: Int
    var entity: String
    /// A bounded label: decode, unroutable, schema, redelivered.
    var reason: String
    var error: String
}

/// The worker's buffers, owned by one actor so that decoding, flush decisions and memory
/// accounting never race. Decoding happens inside the actor: it is synchronous, and the
/// decoders (not thread-safe) never leave it.
actor WorkerState {
    /// A buffer's identity: the entity, the first hour of its time period, and the bytes of its
    /// `partition_by` values (``EntityDecoder/stagedPartitionKey(into:)``; empty without).
    struct Key: Hashable { var entity: Int; var time: HourPartition; var values: [UInt8] }

    final class Buffer {
        var batch: RowBatch
        var partition: FilePartition
        var ids: [[StreamID]]
        var rows = 0
        /// The worker's append counter at this buffer's last row: the least recently appended
        /// buffer is flushed first past `flush.max_open_partitions`.
        var lastUse = 0
        /// As of the last ``WorkerState/measure(_:)`` (after each stream batch and at sealing).
        var rawBytes = 0
        var memoryBytes = 0
        var firstAppend: ContinuousClock.Instant
        var lastAppend: ContinuousClock.Instant
        init(batch: RowBatch, partition: FilePartition, streams: Int, now: ContinuousClock.Instant) {
            self.batch = batch
            self.partition = partition
            self.ids = Array(repeating: [], count: streams)
            firstAppend = now
            lastAppend = now
        }
    }

    struct Entity {
        var config: EntityConfig
        var decoder: EntityDecoder
        /// File bytes per byte of column data, learned from this entity's files.
        var size = EncodedSizeEstimator()
        var jsonField: [UInt8]?
        /// Only for `unknown_fields: evolve`: the hot path of other entities never observes.
        var evolution: SchemaEvolution?
        /// The newest version handed to the recorder.
        var queuedVersion = 0
        /// Entries and dead letters of the recent past, for the dead-letter breaker.
        var window: DeadLetterWindow
        /// Tripped by the breaker: the entity's entries are left pending until the next start.
        var paused = false
        /// Ids of the entries left pending while paused (at most ``WorkerState/parkedLimit``):
        /// held like buffered ones, so they are kept fresh and never claimed back.
        var parked: [StreamID] = []
        var lastPausedLog: ContinuousClock.Instant?
        /// Open buffers of this entity (checked against `flush.max_open_partitions`).
        var openBuffers = 0
        var partitionColumns: [String] { config.partitionBy }
    }

    /// The most parked ids kept per paused entity; past it, entries stay pending untracked.
    static let parkedLimit = 100_000

    let router: Router
    let policy: FlushPolicy
    /// The timer's sleep; woken when a new buffer is due before the timer's next deadline.
    nonisolated let alarm = TimerAlarm()
    /// When the timer will next look (nil: it sleeps until woken).
    private var scheduledWake: ContinuousClock.Instant?
    let metrics: WorkerMetrics
    let logger: Logger
    /// Where new schema versions go (nil when no entity evolves).
    let recorder: SchemaRecorder?
    private let routeField: String
    private let breaker: DeadLetterConfig
    /// Paused entities and why, read by `/readyz`.
    let pauses: EntityPauses
    private var entities: [Entity]
    private var buffers: [Key: Buffer] = [:]
    /// Reused for every row's partition key (no allocation per row).
    private var partitionScratch: [UInt8] = []
    private var appendCounter = 0
    private let maxOpenPartitions: Int
    private var bufferedBytes = 0
    private var inFlightBytes = 0
    private var inFlightJobs = 0
    private var peakBytes = 0
    private var sequence = 0
    private var closed = false
    private var failingFlushes = 0
    /// Entry ids of sealed jobs until they complete, per job sequence: with the buffers' ids,
    /// what this worker holds (never claimed back from itself, kept from looking idle).
    private var inFlightIDs: [Int: [(stream: String, ids: [StreamID])]] = [:]
    /// Entity and first-append instant of sealed jobs until they complete, per job sequence.
    private var inFlightSince: [Int: (entity: Int, since: ContinuousClock.Instant)] = [:]
    private let jobs: AsyncStream<FlushJob>.Continuation
    private var memoryWaiters: [CheckedContinuation<Void, Never>] = []
    private let maxDeliveries: Int?

    /// - Parameter schemas: the latest recorded version per evolving entity (a restart goes on
    ///   from there, so its files keep the evolved columns).
    init(config: LakewriterConfig, metrics: WorkerMetrics, logger: Logger,
         jobs: AsyncStream<FlushJob>.Continuation, schemas: [String: EntitySchema] = [:],
         recorder: SchemaRecorder? = nil, pauses: EntityPauses = EntityPauses()) throws {
        breaker = config.deadLetters
        maxDeliveries = config.redis.maxDeliveries
        maxOpenPartitions = config.flush.maxOpenPartitions
        self.pauses = pauses
        router = Router(entities: config.entities, routeField: config.redis.routeField)
        policy = FlushPolicy(maxRows: config.flush.maxRows, maxBytes: Int(config.flush.maxBytes),
                             maxAge: config.flush.maxAge, idle: config.flush.idle,
                             memoryLimit: Int(config.flush.memoryLimit))
        self.metrics = metrics
        self.logger = logger
        self.jobs = jobs
        self.recorder = recorder
        let routeField = config.redis.routeField
        self.routeField = routeField
        let start = ContinuousClock.now
        let window = config.deadLetters.breakerWindow
        for e in config.entities { metrics.entityPaused(entity: e.name, false) }
        entities = try config.entities.map { e in
            var json: [UInt8]?
            if case .json(let f) = e.payload { json = Array(f.utf8) }
            let schema = e.unknownFields == .evolve ? schemas[e.name] : nil
            var entity = Entity(config: e, decoder: try EntityDecoder(entity: e, schema: schema, ignoring: [routeField]),
                                jsonField: json, window: DeadLetterWindow(length: window, now: start))
            if e.unknownFields == .evolve {
                let evolution = SchemaEvolution(entity: e, current: schema, ignoring: [routeField])
                entity.queuedVersion = evolution.schema.version
                entity.evolution = evolution
                // A first start records the declared version too, so every file's version is listed.
                if schema == nil { recorder?.enqueue(evolution.schema) }
            }
            return entity
        }
    }

    var totalBytes: Int { bufferedBytes + inFlightBytes }

    // MARK: Ingest

    struct IngestResult: Sendable {
        var deadLetters: [DeadLetter] = []
        /// Entries with nothing to write (deleted while pending): acknowledged at once.
        var ackNow: [StreamID] = []
        var rows = 0
    }

    /// Routes and decodes every entry of a batch into the buffer of its entity and hour.
    /// - Parameter redelivered: delivery counts of re-read entries past `redis.max_deliveries`:
    ///   those are dead-lettered (reason `redelivered`) unless their entity is paused.
    func ingest(_ batch: StreamBatch, now: ContinuousClock.Instant, redelivered: [StreamID: Int] = [:]) -> IngestResult {
        var result = IngestResult()
        var touched: [Key] = []
        if breaker.breaker {
            for i in entities.indices { entities[i].window.advance(to: now) }
        }
        guard let s = router.index(ofStream: batch.stream) else {
            for i in batch.entries.indices {
                result.deadLetters.append(DeadLetter(entry: i, entity: "", reason: "unroutable",
                                                     error: "stream \(batch.stream) is not configured"))
            }
            return result
        }
        batch.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            for (i, entry) in batch.entries.enumerated() {
                if entry.isDeleted {
                    result.ackNow.append(entry.id)
                    continue
                }
                let ei: Int
                switch router.route(stream: s, batch: batch, entry: i) {
                case .entity(let e): ei = e
                case .unroutable(let why):
                    result.deadLetters.append(DeadLetter(entry: i, entity: "", reason: "unroutable", error: why))
                    continue
                }
                if entities[ei].paused {
                    park(ei, entry.id, now: now)
                    continue
                }
                if !redelivered.isEmpty, let n = redelivered[entry.id] {
                    deadLetter(DeadLetter(entry: i, entity: entities[ei].config.name, reason: "redelivered",
                                          error: "entity \(entities[ei].config.name): entry \(entry.id) was delivered \(n) times, more than redis.max_deliveries (\(maxDeliveries ?? 0)) (stream \(batch.stream))"),
                               ei, entry.id, now: now, into: &result)
                    continue
                }
                let idBytes = UnsafeRawBufferPointer(rebasing: raw[entry.idRange])
                let fieldName = { (f: Int) in UnsafeRawBufferPointer(rebasing: raw[batch.fields[entry.fieldsStart + f].name]) }
                let fieldValue = { (f: Int) in UnsafeRawBufferPointer(rebasing: raw[batch.fields[entry.fieldsStart + f].value]) }

                // The payload: one JSON field, or the flat fields.
                var payload: UnsafeRawBufferPointer?
                if let jf = entities[ei].jsonField {
                    for f in 0..<entry.fieldCount where fieldName(f).elementsEqual(jf) { payload = fieldValue(f) }
                    guard payload != nil else {
                        deadLetter(DeadLetter(
                            entry: i, entity: entities[ei].config.name, reason: "decode",
                            error: "entity \(entities[ei].config.name): entry \(entry.id) has no payload field \"\(String(decoding: jf, as: UTF8.self))\""),
                                   ei, entry.id, now: now, into: &result)
                        continue
                    }
                }
                if entities[ei].evolution != nil {
                    do throws(EvolutionFailure) {
                        try evolveIfNeeded(ei, payload: payload, fieldCount: entry.fieldCount, name: fieldName)
                    } catch {
                        deadLetter(DeadLetter(entry: i, entity: entities[ei].config.name, reason: error.reason,
                                              error: "\(error.message) (stream \(batch.stream), id \(entry.id))"),
                                   ei, entry.id, now: now, into: &result)
                        continue
                    }
                }
                // Staged (parsed and checked, nothing appended) first: the row's time picks
                // the buffer of its hour without a second pass over the payload.
                do {
                    if let p = payload {
                        try entities[ei].decoder.stageJSON(p)
                    } else {
                        try entities[ei].decoder.stageFields(count: entry.fieldCount, name: fieldName, value: fieldValue)
                    }
                } catch {
                    deadLetter(DeadLetter(entry: i, entity: entities[ei].config.name, reason: "decode",
                                          error: "\(error) (stream \(batch.stream), id \(entry.id))"),
                               ei, entry.id, now: now, into: &result)
                    continue
                }
                // The row's time, else the entry id's (clamped: an id beyond Int64 milliseconds
                // must not trap), truncated to the entity's time partition; then its field values.
                let hour = entities[ei].decoder.stagedTimeMicros.map { HourPartition(epochMicros: $0) }
                    ?? HourPartition(entryIDMillis: entry.id.milliseconds)
                let decoder = entities[ei].decoder
                let time = hour.truncated(to: entities[ei].config.timePartition)
                let key: Key
                if decoder.hasPartitionColumns {
                    decoder.stagedPartitionKey(into: &partitionScratch)
                    key = Key(entity: ei, time: time, values: partitionScratch)
                } else {
                    key = Key(entity: ei, time: time, values: [])
                }
                let buffer: Buffer
                do throws(PartitionRefusal) {
                    buffer = try self.buffer(for: key, now: now)
                } catch {
                    deadLetter(DeadLetter(entry: i, entity: entities[ei].config.name, reason: "partition",
                                          error: "\(error.message) (stream \(batch.stream), id \(entry.id))"),
                               ei, entry.id, now: now, into: &result)
                    continue
                }
                decoder.commitStaged(streamID: idBytes, into: &buffer.batch)
                buffer.rows += 1
                buffer.lastAppend = now
                appendCounter += 1
                buffer.lastUse = appendCounter
                buffer.ids[s].append(entry.id)
                result.rows += 1
                entities[ei].window.count(deadLetter: false)
                if buffer.rows >= policy.maxRows {
                    // Mid-batch, so a file holds exactly `max_rows` rows; the policy decides.
                    applyPolicy(to: key, now: now)
                } else if touched.last != key && !touched.contains(key) {
                    // Its own copy of the partition bytes, so the scratch stays unshared.
                    touched.append(Key(entity: key.entity, time: key.time, values: key.values.withUnsafeBufferPointer { Array($0) }))
                }
            }
        }
        // Sizes are measured once per stream batch (a sum over the columns), not per row: a
        // file may pass `max_bytes` by at most one stream batch of rows.
        for key in touched {
            if let b = buffers[key] { measure(b) }
        }
        applyPolicy(now: now)
        publishGauges()
        return result
    }

    // MARK: Dead-letter breaker

    /// Counts a dead letter of entity `ei` and either keeps it (to be written to `{stream}:dlq`
    /// and acknowledged) or, when it makes the entity's share pass `dead_letters.breaker_ratio`,
    /// pauses the entity and leaves the entry pending instead.
    private func deadLetter(_ d: DeadLetter, _ ei: Int, _ id: StreamID, now: ContinuousClock.Instant,
                            into result: inout IngestResult) {
        guard breaker.breaker else {
            result.deadLetters.append(d)
            return
        }
        entities[ei].window.count(deadLetter: true)
        let (total, dead) = entities[ei].window.sums
        if total >= breaker.breakerMinEntries && Double(dead) > breaker.breakerRatio * Double(total) {
            entities[ei].paused = true
            let name = entities[ei].config.name
            let why = "entity \(name) paused by the dead-letter breaker: \(dead) of its last \(total) entries within "
                + "\(breaker.breakerWindow) failed (more than dead_letters.breaker_ratio \(breaker.breakerRatio)); its entries stay "
                + "pending: fix the configuration and restart, or set dead_letters.breaker: off. Last error: \(Self.oneLine(d.error))"
            pauses.pause(entity: name, reason: why)
            metrics.entityPaused(entity: name, true)
            logger.error("dead-letter breaker tripped: entity paused, its entries stay pending", metadata: [
                "entity": "\(name)", "dead_letters": "\(dead)", "entries": "\(total)", "error": "\(d.error)",
            ])
            entities[ei].lastPausedLog = now
            park(ei, id, now: now)
            return
        }
        result.deadLetters.append(d)
    }

    /// `text` on one line for `/readyz` (it holds entry bytes): control characters escaped, at
    /// most 300 characters.
    static func oneLine(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars.prefix(300) {
            out += u.value < 0x20 || u.value == 0x7f ? "\\u{\(String(u.value, radix: 16))}" : String(u)
        }
        return text.unicodeScalars.count > 300 ? out + "…" : out
    }

    /// Leaves an entry of a paused entity pending (not written, not dead-lettered, not
    /// acknowledged); logs that the entity is still paused at most once per breaker window.
    private func park(_ ei: Int, _ id: StreamID, now: ContinuousClock.Instant) {
        if entities[ei].parked.count < Self.parkedLimit { entities[ei].parked.append(id) }
        if entities[ei].lastPausedLog.map({ $0.duration(to: now) >= breaker.breakerWindow }) ?? true {
            entities[ei].lastPausedLog = now
            logger.warning("entity paused by the dead-letter breaker: entries stay pending", metadata: [
                "entity": "\(entities[ei].config.name)", "held": "\(entities[ei].parked.count)",
            ])
        }
    }

    struct EvolutionFailure: Error {
        var reason: String
        var message: String
    }

    /// `unknown_fields: evolve`: looks at the payload before it is decoded; on a new schema
    /// version, seals the entity's buffers (they hold the previous version), switches to a
    /// decoder for the new one and queues the new versions for recording.
    private func evolveIfNeeded(_ ei: Int, payload: UnsafeRawBufferPointer?, fieldCount: Int,
                                name: (Int) -> UnsafeRawBufferPointer) throws(EvolutionFailure) {
        // A copy, committed only once a decoder for the new version exists.
        var evolution = entities[ei].evolution!
        let changed: Bool
        if let p = payload {
            do { changed = try evolution.observe(json: p) } catch {
                throw EvolutionFailure(reason: "decode", message: "\(error)")
            }
        } else {
            do {
                changed = try evolution.observe(fields: (0..<fieldCount).map { String(decoding: name($0), as: UTF8.self) })
            } catch {
                throw EvolutionFailure(reason: "decode", message: "\(error)")
            }
        }
        guard changed else { return }
        let config = entities[ei].config
        let decoder: EntityDecoder
        do {
            decoder = try EntityDecoder(entity: config, schema: evolution.schema, ignoring: [routeField])
        } catch {
            // A field name Parquet cannot take: this entry is dead-lettered, the schema stays.
            throw EvolutionFailure(reason: "schema", message: "entity \(config.name): cannot add the new fields: \(error)")
        }
        for key in Array(buffers.keys) where key.entity == ei { seal(key, reason: .schema) }
        entities[ei].decoder = decoder
        for s in evolution.history where s.version > entities[ei].queuedVersion { recorder?.enqueue(s) }
        entities[ei].queuedVersion = evolution.schema.version
        entities[ei].evolution = evolution
        logger.info("schema evolved", metadata: [
            "entity": "\(config.name)", "version": .stringConvertible(evolution.schema.version),
            "evolved": "\(evolution.schema.evolved.map { "\($0.name): \($0.type)" }.joined(separator: ", "))",
        ])
    }

    /// Brings a buffer's sizes, and the total of buffered memory, up to date.
    private func measure(_ b: Buffer) {
        let memory = b.batch.allocatedBytes
        bufferedBytes += memory - b.memoryBytes
        b.memoryBytes = memory
        b.rawBytes = b.batch.byteCount
    }

    struct PartitionRefusal: Error { var message: String }

    /// The buffer of a staged row's partition; a new one when it has none (past
    /// `flush.max_open_partitions` the entity's least recently appended buffer is sealed first).
    /// Throws when the row's partition values cannot make a key (a segment too long).
    private func buffer(for key: Key, now: ContinuousClock.Instant) throws(PartitionRefusal) -> Buffer {
        if let b = buffers[key] { return b }
        let e = entities[key.entity]
        var fields: [FilePartition.PartitionValue] = []
        if e.decoder.hasPartitionColumns {
            fields = zip(e.partitionColumns, e.decoder.stagedPartitionValues()).map { .init(column: $0, value: $1) }
        }
        let partition = FilePartition(fields: fields, granularity: e.config.timePartition, time: key.time)
        if let long = partition.overlongSegment {
            throw PartitionRefusal(message: "entity \(e.config.name): the partition segment \(long.utf8.count > 80 ? String(long.prefix(80)) + "…" : long) is \(long.utf8.count) bytes, more than \(HivePath.maxSegmentBytes)")
        }
        if e.openBuffers >= maxOpenPartitions {
            var oldest: (key: Key, use: Int)?
            for (k, b) in buffers where k.entity == key.entity && (oldest.map { b.lastUse < $0.use } ?? true) {
                oldest = (k, b.lastUse)
            }
            if let oldest { seal(oldest.key, reason: .partitions) }
        }
        let b = Buffer(batch: e.decoder.makeBatch(), partition: partition, streams: router.streams.count, now: now)
        buffers[key] = b
        entities[key.entity].openBuffers += 1
        // A new buffer may be due (by idleness or age) before the timer's next look.
        let due = now.advanced(by: min(policy.idle, policy.maxAge))
        if scheduledWake.map({ due < $0 }) ?? true {
            scheduledWake = due
            alarm.wake()
        }
        return b
    }

    private func state(_ key: Key, _ b: Buffer) -> FlushPolicy.BufferState<ContinuousClock.Instant> {
        .init(rows: b.rows, bytes: entities[key.entity].size.estimate(rawBytes: b.rawBytes), memory: b.memoryBytes,
              firstAppend: b.firstAppend, lastAppend: b.lastAppend)
    }

    // MARK: Flush decisions

    /// Seals what ``FlushPolicy/decide(_:totalBytes:now:)`` says is due, over every buffer.
    private func applyPolicy(now: ContinuousClock.Instant) {
        let states = buffers.map { (id: $0.key, state: state($0.key, $0.value)) }
        for d in policy.decide(states, totalBytes: totalBytes, now: now) { seal(d.id, reason: d.reason) }
    }

    /// The same decision for one buffer (mid-batch, when it reached `max_rows`); memory is
    /// judged over all buffers at the end of the batch.
    private func applyPolicy(to key: Key, now: ContinuousClock.Instant) {
        guard let b = buffers[key] else { return }
        for d in policy.decide([(id: key, state: state(key, b))], totalBytes: 0, now: now) {
            seal(d.id, reason: d.reason)
        }
    }

    /// Seals buffers due by age or idleness (the timer, so idle streams flush too) and returns
    /// the next instant one will be due (nil: no buffer holds rows).
    func tick(now: ContinuousClock.Instant) -> ContinuousClock.Instant? {
        applyPolicy(now: now)
        publishGauges()
        scheduledWake = closed ? nil : policy.nextDeadline(buffers.map { state($0.key, $0.value) })
        return scheduledWake
    }

    /// Seals every buffer (shutdown) and closes the job stream once they are queued.
    func sealAll(reason: FlushPolicy.Reason) {
        for key in Array(buffers.keys) { seal(key, reason: reason) }
        closed = true
        jobs.finish()
        publishGauges()
        alarm.wake()
    }

    private func seal(_ key: Key, reason: FlushPolicy.Reason) {
        guard !closed, let b = buffers.removeValue(forKey: key) else { return }
        entities[key.entity].openBuffers -= 1
        measure(b)
        bufferedBytes -= b.memoryBytes
        guard b.rows > 0 else { return }
        inFlightBytes += b.memoryBytes
        inFlightJobs += 1
        sequence += 1
        var ids: [(String, [StreamID])] = []
        for (s, list) in b.ids.enumerated() where !list.isEmpty { ids.append((router.streams[s].stream, list)) }
        inFlightIDs[sequence] = ids
        inFlightSince[sequence] = (key.entity, b.firstAppend)
        let config = entities[key.entity].config
        jobs.yield(FlushJob(sequence: sequence, entity: config.name, partition: b.partition, batch: b.batch,
                            droppedColumns: config.partitionColumnsInFile && config.tableFormat != .delta ? [] : Set(config.partitionBy),
                            ids: ids, rows: b.rows, rawBytes: b.rawBytes, memoryBytes: b.memoryBytes,
                            reason: reason, firstAppend: b.firstAppend,
                            schemaVersion: entities[key.entity].evolution?.schema.version))
    }

    // MARK: Completion and backpressure

    /// A job ended (written and acknowledged, or abandoned at shutdown).
    func completed(_ job: FlushJob) {
        inFlightIDs[job.sequence] = nil
        inFlightSince[job.sequence] = nil
        inFlightBytes -= job.memoryBytes
        inFlightJobs -= 1
        resumeWaiters()
        publishGauges()
    }

    /// A file of `entity` was written: its size refines the entity's encoded-size estimate.
    func learnEncodedSize(entity: String, rawBytes: Int, fileBytes: Int) {
        guard let i = entities.firstIndex(where: { $0.config.name == entity }) else { return }
        entities[i].size.learn(rawBytes: rawBytes, fileBytes: fileBytes)
    }

    func flushFailing(_ failing: Bool) {
        failingFlushes += failing ? 1 : -1
    }

    /// The entries of `stream` this worker holds: buffered, or in a file being written. XAUTOCLAIM
    /// hands them back to their own consumer once they are idle past `claim_idle` (a slow flush):
    /// they must not be processed twice.
    func heldIDs(stream: String) -> Set<StreamID> {
        var out = Set<StreamID>()
        if let s = router.streams.firstIndex(where: { $0.stream == stream }) {
            for b in buffers.values { out.formUnion(b.ids[s]) }
        }
        for job in inFlightIDs.values {
            for (st, ids) in job where st == stream { out.formUnion(ids) }
        }
        for e in entities where e.paused && e.config.stream == stream { out.formUnion(e.parked) }
        return out
    }

    /// Per entity, the age in seconds of its oldest row not yet in a durable file (buffered or
    /// being written); 0 for an entity with nothing buffered.
    func oldestUnwritten(now: ContinuousClock.Instant) -> [(entity: String, seconds: Double)] {
        var oldest = [ContinuousClock.Instant?](repeating: nil, count: entities.count)
        func note(_ e: Int, _ t: ContinuousClock.Instant) { if oldest[e].map({ t < $0 }) ?? true { oldest[e] = t } }
        for (k, b) in buffers where b.rows > 0 { note(k.entity, b.firstAppend) }
        for v in inFlightSince.values { note(v.entity, v.since) }
        return entities.indices.map { e in
            (entities[e].config.name, oldest[e].map { max(0, $0.duration(to: now).seconds) } ?? 0)
        }
    }

    /// True while nothing suggests our own pending entries could look abandoned to XAUTOCLAIM.
    func mayClaim(now: ContinuousClock.Instant, claimIdle: Duration) -> Bool {
        guard failingFlushes == 0 else { return false }
        return buffers.values.allSatisfy { $0.firstAppend.duration(to: now) < claimIdle / 2 }
    }

    /// Suspends while buffered plus in-flight data is at the memory limit.
    func waitForMemory(liveness: Liveness? = nil) async {
        while policy.mustRelieveMemory(totalBytes: totalBytes) && !closed {
            metrics.backpressure(true)
            liveness?.paused(true)
            await withCheckedContinuation { memoryWaiters.append($0) }
        }
        liveness?.paused(false)
        metrics.backpressure(false)
    }

    private func resumeWaiters() {
        if !policy.mustRelieveMemory(totalBytes: totalBytes) || closed {
            let w = memoryWaiters
            memoryWaiters = []
            for c in w { c.resume() }
        }
    }

    private func publishGauges() {
        var bytes: [String: Int] = [:], rows: [String: Int] = [:]
        for e in entities { bytes[e.config.name] = 0; rows[e.config.name] = 0 }
        for (k, b) in buffers {
            bytes[entities[k.entity].config.name, default: 0] += b.memoryBytes
            rows[entities[k.entity].config.name, default: 0] += b.rows
        }
        for (e, v) in bytes { metrics.bufferedBytes(entity: e, v) }
        for (e, v) in rows { metrics.bufferedRows(entity: e, v) }
        peakBytes = max(peakBytes, totalBytes)
        metrics.memoryBytes(totalBytes, peak: peakBytes)
    }

    /// Rows and bytes still buffered (for logs at shutdown and tests).
    var summary: (rows: Int, bytes: Int, inFlightJobs: Int) {
        (buffers.values.reduce(0) { $0 + $1.rows }, bufferedBytes, inFlightJobs)
    }
}

/// An entity's entries and dead letters over a sliding window, in ten slots (allocated once):
/// counting is an addition, the sums are taken only when a dead letter is counted.
struct DeadLetterWindow {
    private var entries = [Int](repeating: 0, count: 10)
    private var deadLetters = [Int](repeating: 0, count: 10)
    private var slot = 0
    private var slotStart: ContinuousClock.Instant
    private let slotLength: Duration

    init(length: Duration, now: ContinuousClock.Instant) {
        slotLength = length / 10
        slotStart = now
    }

    /// Drops the slots older than the window.
    mutating func advance(to now: ContinuousClock.Instant) {
        var steps = 0
        while slotStart.duration(to: now) >= slotLength {
            steps += 1
            if steps > 10 {
                for i in 0..<10 { entries[i] = 0; deadLetters[i] = 0 }
                slotStart = now
                return
            }
            slot = (slot + 1) % 10
            slotStart += slotLength
            entries[slot] = 0
            deadLetters[slot] = 0
        }
    }

    mutating func count(deadLetter: Bool) {
        entries[slot] += 1
        if deadLetter { deadLetters[slot] += 1 }
    }

    /// Entries and dead letters within the window.
    var sums: (entries: Int, deadLetters: Int) {
        (entries.reduce(0, +), deadLetters.reduce(0, +))
    }
}
