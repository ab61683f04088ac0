import Logging
import Parquet
import RedisStreams

/// A buffer that became a file to write: one entity, one hour, and the entry ids to acknowledge
/// once the file is durable.
struct FlushJob: Sendable {
    var sequence: Int
    var entity: String
    var partition: HourPartition
    var batch: RowBatch
    /// Entry ids per stream, acknowledged after the upload.
    var ids: [(stream: String, ids: [StreamID])]
    var rows: Int
    var bytes: Int
    var reason: FlushPolicy.Reason
}

/// An entry that cannot be written: it goes to `{stream}:dlq` and is then acknowledged.
struct DeadLetter: Sendable {
    var entry: Int
    var entity: String
    /// A bounded label: decode, unroutable, deleted, schema.
    var reason: String
    var error: String
}

/// The worker's buffers, owned by one actor so that decoding, flush decisions and memory
/// accounting never race. Decoding happens inside the actor: it is synchronous, and the
/// decoders (not thread-safe) never leave it.
actor WorkerState {
    struct Key: Hashable { var entity: Int; var partition: HourPartition }

    final class Buffer {
        var batch: RowBatch
        var ids: [[StreamID]]
        var rows = 0
        var bytes = 0
        var firstAppend: ContinuousClock.Instant
        var lastAppend: ContinuousClock.Instant
        init(batch: RowBatch, streams: Int, now: ContinuousClock.Instant) {
            self.batch = batch
            self.ids = Array(repeating: [], count: streams)
            firstAppend = now
            lastAppend = now
        }
    }

    struct Entity {
        var config: EntityConfig
        var decoder: EntityDecoder
        var time: TimeLocator
        var jsonField: [UInt8]?
    }

    let router: Router
    let policy: FlushPolicy
    let metrics: WorkerMetrics
    let logger: Logger
    private var entities: [Entity]
    private var buffers: [Key: Buffer] = [:]
    private var bufferedBytes = 0
    private var inFlightBytes = 0
    private var inFlightJobs = 0
    private var peakBytes = 0
    private var sequence = 0
    private var closed = false
    private var failingFlushes = 0
    private let jobs: AsyncStream<FlushJob>.Continuation
    private var memoryWaiters: [CheckedContinuation<Void, Never>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []

    init(config: LakewriterConfig, metrics: WorkerMetrics, logger: Logger,
         jobs: AsyncStream<FlushJob>.Continuation) throws {
        router = Router(entities: config.entities, routeField: config.redis.routeField)
        policy = FlushPolicy(maxRows: config.flush.maxRows, maxBytes: Int(config.flush.maxBytes),
                             maxAge: config.flush.maxAge, idle: config.flush.idle,
                             memoryLimit: Int(config.flush.memoryLimit))
        self.metrics = metrics
        self.logger = logger
        self.jobs = jobs
        let routeField = config.redis.routeField
        entities = try config.entities.map { e in
            var json: [UInt8]?
            if case .json(let f) = e.payload { json = Array(f.utf8) }
            return Entity(config: e, decoder: try EntityDecoder(entity: e, ignoring: [routeField]),
                          time: TimeLocator(entity: e), jsonField: json)
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
    func ingest(_ batch: StreamBatch, now: ContinuousClock.Instant) -> IngestResult {
        var result = IngestResult()
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
                let idBytes = UnsafeRawBufferPointer(rebasing: raw[entry.idRange])
                let fieldName = { (f: Int) in UnsafeRawBufferPointer(rebasing: raw[batch.fields[entry.fieldsStart + f].name]) }
                let fieldValue = { (f: Int) in UnsafeRawBufferPointer(rebasing: raw[batch.fields[entry.fieldsStart + f].value]) }

                // The payload: one JSON field, or the flat fields.
                var payload: UnsafeRawBufferPointer?
                if let jf = entities[ei].jsonField {
                    for f in 0..<entry.fieldCount where fieldName(f).elementsEqual(jf) { payload = fieldValue(f) }
                    guard payload != nil else {
                        result.deadLetters.append(DeadLetter(
                            entry: i, entity: entities[ei].config.name, reason: "decode",
                            error: "entity \(entities[ei].config.name): entry \(entry.id) has no payload field \"\(String(decoding: jf, as: UTF8.self))\""))
                        continue
                    }
                }
                let micros: Int64
                if let p = payload {
                    micros = entities[ei].time.micros(json: p) ?? Int64(entry.id.milliseconds) * 1000
                } else {
                    micros = entities[ei].time.micros(fieldCount: entry.fieldCount, name: fieldName, value: fieldValue)
                        ?? Int64(entry.id.milliseconds) * 1000
                }
                let key = Key(entity: ei, partition: HourPartition(epochMicros: micros))
                let buffer = self.buffer(for: key, now: now)
                do {
                    if let p = payload {
                        try entities[ei].decoder.decodeJSON(p, streamID: idBytes, into: &buffer.batch)
                    } else {
                        try entities[ei].decoder.decodeFields(count: entry.fieldCount, name: fieldName, value: fieldValue,
                                                              streamID: idBytes, into: &buffer.batch)
                    }
                } catch {
                    result.deadLetters.append(DeadLetter(entry: i, entity: entities[ei].config.name, reason: "decode",
                                                         error: "\(error) (stream \(batch.stream), id \(entry.id))"))
                    if buffer.rows == 0 { buffers[key] = nil }
                    continue
                }
                let size = entrySize(batch, entry)
                buffer.rows += 1
                buffer.bytes += size
                buffer.lastAppend = now
                buffer.ids[s].append(entry.id)
                bufferedBytes += size
                result.rows += 1
                if policy.reason(for: state(buffer), now: now) == .rows || buffer.bytes >= policy.maxBytes {
                    seal(key, reason: buffer.rows >= policy.maxRows ? .rows : .bytes)
                }
            }
        }
        relieveMemory()
        publishGauges()
        return result
    }

    private func entrySize(_ batch: StreamBatch, _ e: StreamBatch.Entry) -> Int {
        var n = e.idRange.count
        for f in e.fieldIndices { n += batch.fields[f].name.count + batch.fields[f].value.count }
        return n
    }

    private func buffer(for key: Key, now: ContinuousClock.Instant) -> Buffer {
        if let b = buffers[key] { return b }
        let b = Buffer(batch: entities[key.entity].decoder.makeBatch(), streams: router.streams.count, now: now)
        buffers[key] = b
        return b
    }

    private func state(_ b: Buffer) -> FlushPolicy.BufferState<ContinuousClock.Instant> {
        .init(rows: b.rows, bytes: b.bytes, firstAppend: b.firstAppend, lastAppend: b.lastAppend)
    }

    // MARK: Flush decisions

    /// Seals buffers due by age or idleness (called from a timer, so idle streams flush too).
    func tick(now: ContinuousClock.Instant) {
        for (key, b) in buffers {
            if let r = policy.reason(for: state(b), now: now) { seal(key, reason: r) }
        }
        publishGauges()
    }

    /// Seals every buffer (shutdown) and closes the job stream once they are queued.
    func sealAll(reason: FlushPolicy.Reason) {
        for key in Array(buffers.keys) { seal(key, reason: reason) }
        closed = true
        jobs.finish()
        publishGauges()
    }

    private func relieveMemory() {
        guard policy.mustRelieveMemory(totalBytes: totalBytes) else { return }
        let victims = policy.memoryVictims(buffers.map { (id: $0.key, bytes: $0.value.bytes) })
        for key in victims { seal(key, reason: .memory) }
    }

    private func seal(_ key: Key, reason: FlushPolicy.Reason) {
        guard !closed, let b = buffers.removeValue(forKey: key), b.rows > 0 else { return }
        bufferedBytes -= b.bytes
        inFlightBytes += b.bytes
        inFlightJobs += 1
        sequence += 1
        var ids: [(String, [StreamID])] = []
        for (s, list) in b.ids.enumerated() where !list.isEmpty { ids.append((router.streams[s].stream, list)) }
        jobs.yield(FlushJob(sequence: sequence, entity: entities[key.entity].config.name, partition: key.partition,
                            batch: b.batch, ids: ids, rows: b.rows, bytes: b.bytes, reason: reason))
    }

    // MARK: Completion and backpressure

    /// A job ended (written and acknowledged, or abandoned at shutdown).
    func completed(_ job: FlushJob) {
        inFlightBytes -= job.bytes
        inFlightJobs -= 1
        resumeWaiters()
        publishGauges()
    }

    func flushFailing(_ failing: Bool) {
        failingFlushes += failing ? 1 : -1
    }

    /// True while nothing suggests our own pending entries could look abandoned to XAUTOCLAIM.
    func mayClaim(now: ContinuousClock.Instant, claimIdle: Duration) -> Bool {
        guard failingFlushes == 0 else { return false }
        return buffers.values.allSatisfy { $0.firstAppend.duration(to: now) < claimIdle / 2 }
    }

    /// Suspends while buffered plus in-flight data is at the memory limit.
    func waitForMemory() async {
        while policy.mustRelieveMemory(totalBytes: totalBytes) && !closed {
            metrics.backpressure(true)
            await withCheckedContinuation { memoryWaiters.append($0) }
        }
        metrics.backpressure(false)
    }

    /// Suspends until every sealed job has completed.
    func waitUntilDrained() async {
        while inFlightJobs > 0 {
            await withCheckedContinuation { drainWaiters.append($0) }
        }
    }

    private func resumeWaiters() {
        if !policy.mustRelieveMemory(totalBytes: totalBytes) || closed {
            let w = memoryWaiters
            memoryWaiters = []
            for c in w { c.resume() }
        }
        if inFlightJobs == 0 {
            let w = drainWaiters
            drainWaiters = []
            for c in w { c.resume() }
        }
    }

    private func publishGauges() {
        var bytes: [String: Int] = [:], rows: [String: Int] = [:]
        for e in entities { bytes[e.config.name] = 0; rows[e.config.name] = 0 }
        for (k, b) in buffers {
            bytes[entities[k.entity].config.name, default: 0] += b.bytes
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
