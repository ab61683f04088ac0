@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
import Logging
import ObjectStore
import Parquet
@testable import RedisStreams
import Synchronization
import Testing
import TestSupport

/// Synthetic stream batches: entries with explicit ids and fields, as the reader would hand them.
struct BatchBuilder {
    var stream: String
    var bytes: [UInt8] = []
    var entries: [StreamBatch.Entry] = []
    var fields: [StreamBatch.Field] = []

    init(_ stream: String) { self.stream = stream }

    private mutating func put(_ s: String) -> Range<Int> {
        let start = bytes.count
        bytes += Array(s.utf8)
        return start..<bytes.count
    }

    private mutating func put(bytes b: [UInt8]) -> Range<Int> {
        let start = bytes.count
        bytes += b
        return start..<bytes.count
    }

    mutating func add(_ id: String, _ pairs: [(String, String)]) {
        add(id, raw: pairs.map { (Array($0.0.utf8), Array($0.1.utf8)) })
    }

    /// Fields as raw bytes (invalid UTF-8 included).
    mutating func add(_ id: String, raw pairs: [([UInt8], [UInt8])]) {
        let idRange = put(id)
        let start = fields.count
        for (n, v) in pairs { fields.append(.init(name: put(bytes: n), value: put(bytes: v))) }
        entries.append(.init(id: StreamID(id)!, idRange: idRange, fieldsStart: start, fieldCount: pairs.count,
                             isDeleted: false))
    }

    var batch: StreamBatch { StreamBatch(stream: stream, source: .new, bytes: bytes, entries: entries, fields: fields) }
}

/// The worker's buffers driven by synthetic batches and an injected clock: no servers.
@Suite struct WorkerStateTests {
    static func config(_ flush: String, entities: String? = nil) throws -> LakewriterConfig {
        try ConfigLoader(environment: [:]).load(yaml: """
        redis: {url: "redis://127.0.0.1:1/0"}
        flush: {\(flush)}
        entities:
        \(entities ?? """
          clicks:
            stream: clicks
            payload: json:data
            time: at
            columns:
              user: int64 not null
              at: timestamp(ms, utc)
        """)
        """)
    }

    /// A state and the jobs it seals.
    struct Harness {
        let state: WorkerState
        let jobs: AsyncStream<FlushJob>
        init(_ config: LakewriterConfig) throws {
            let (stream, continuation) = AsyncStream<FlushJob>.makeStream()
            jobs = stream
            state = try WorkerState(config: config, metrics: WorkerMetrics(), logger: Logger(label: "test"),
                                    jobs: continuation)
        }
        /// The jobs sealed so far (closes the stream first).
        func sealed() async -> [FlushJob] {
            await state.sealAll(reason: .shutdown)
            var out: [FlushJob] = []
            for await j in jobs { out.append(j) }
            return out
        }
    }

    static func clicks(_ range: Range<Int>, hour: Int = 0, ms: UInt64 = 1_700_000_000_000) -> StreamBatch {
        var b = BatchBuilder("clicks")
        for i in range {
            let at = 1_767_225_600_000 + hour * 3_600_000 + i  // 2026-01-01T00:00Z + hour
            b.add("\(ms + UInt64(i))-0", [("data", #"{"user": \#(i), "at": \#(at)}"#)])
        }
        return b.batch
    }

    let t0 = ContinuousClock.now

    @Test func rowsSealExactlyMaxRowsMidBatch() async throws {
        let h = try Harness(Self.config("max_rows: 3"))
        let r = await h.state.ingest(Self.clicks(0..<7), now: t0)
        #expect(r.rows == 7 && r.deadLetters.isEmpty)
        let jobs = await h.sealed()
        #expect(jobs.map(\.rows) == [3, 3, 1])
        #expect(jobs.map(\.reason) == [.rows, .rows, .shutdown])
        // Ids stay with their rows, in order.
        #expect(jobs[0].ids.first?.ids.map(\.description) == ["1700000000000-0", "1700000000001-0", "1700000000002-0"])
    }

    @Test func bytesSealAtTheEndOfTheBatch() async throws {
        let h = try Harness(Self.config("max_bytes: 200B"))
        _ = await h.state.ingest(Self.clicks(0..<2), now: t0)      // 2 rows: under 200 bytes of columns
        _ = await h.state.ingest(Self.clicks(2..<40), now: t0)     // past it
        let jobs = await h.sealed()
        #expect(jobs.first?.reason == .bytes && jobs.first?.rows == 40)
    }

    @Test func idleAndAgeComeFromTheTimerWithTheirDeadlines() async throws {
        let h = try Harness(Self.config("idle: 10s, max_age: 60s"))
        _ = await h.state.ingest(Self.clicks(0..<1), now: t0)
        // Nothing due before the idle deadline, and the timer is told when to look.
        #expect(await h.state.tick(now: t0 + .seconds(9)) == t0 + .seconds(10))
        _ = await h.state.ingest(Self.clicks(1..<2), now: t0 + .seconds(8))
        #expect(await h.state.tick(now: t0 + .seconds(12)) == t0 + .seconds(18))
        #expect(await h.state.tick(now: t0 + .seconds(18)) == nil)   // sealed: nothing left to wait for
        // Age: appends every 5 s keep it from idling; max_age seals it at the append of 80 s
        // (the policy is asked after every batch, not only by the timer).
        for s in stride(from: 20, through: 80, by: 5) {
            _ = await h.state.ingest(Self.clicks(s..<(s + 1)), now: t0 + .seconds(s))
            _ = await h.state.tick(now: t0 + .seconds(s))
        }
        let jobs = await h.sealed()
        #expect(jobs.map(\.reason) == [.idle, .age])
        #expect(jobs.map(\.rows) == [2, 13])
    }

    @Test func aNewBufferWakesASleepingTimer() async throws {
        let h = try Harness(Self.config("idle: 1s, max_age: 60s"))
        #expect(await h.state.tick(now: t0) == nil)
        let woke = Mutex(false)
        let sleeper = Task {
            await h.state.alarm.sleep(until: nil)   // no buffers: sleeps until woken
            woke.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!woke.withLock { $0 })
        _ = await h.state.ingest(Self.clicks(0..<1), now: .now)
        await sleeper.value
        #expect(woke.withLock { $0 })
    }

    @Test func memoryPausesReadingAndSealsTheLargestDownToHalf() async throws {
        // Four hours of clicks: four buffers of different sizes.
        let h = try Harness(Self.config("memory_limit: 64KiB, max_rows: 1000000"))
        for (hour, rows) in [(0, 40), (1, 400), (2, 200), (3, 100)] {
            _ = await h.state.ingest(Self.clicks(0..<rows, hour: hour), now: t0)
        }
        var summary = await h.state.summary
        #expect(summary.bytes < 64 << 10)
        // The next batch passes the limit: the largest buffers are sealed until the buffered
        // bytes are at most half of it, the smallest stays buffered.
        _ = await h.state.ingest(Self.clicks(0..<700, hour: 4), now: t0)
        summary = await h.state.summary
        #expect(summary.bytes <= 32 << 10)
        #expect(summary.inFlightJobs >= 1)
        // While in-flight plus buffered memory is at the limit, reading waits.
        let resumed = Mutex(false)
        let reader = Task {
            await h.state.waitForMemory()
            resumed.withLock { $0 = true }
        }
        try await Task.sleep(for: .milliseconds(50))
        let blocked = await h.state.totalBytes >= 64 << 10
        if blocked { #expect(!resumed.withLock { $0 }) }
        let jobs = await h.sealed()
        let memoryJobs = jobs.filter { $0.reason == .memory }
        #expect(!memoryJobs.isEmpty)
        // Largest first.
        #expect(memoryJobs.map(\.memoryBytes) == memoryJobs.map(\.memoryBytes).sorted(by: >))
        #expect(jobs.contains { $0.reason == .shutdown && $0.partition.time?.components.hour == 0 })
        for j in jobs { await h.state.completed(j) }
        await reader.value
        #expect(resumed.withLock { $0 })
    }

    @Test func hugeEntryIDsAreClampedNotTrapped() async throws {
        let h = try Harness(Self.config("max_rows: 10", entities: """
          raw:
            stream: raw
            columns:
              a: string
        """))
        var b = BatchBuilder("raw")
        for id in ["18446744073709551614-0", "9223372036854776-0", "9223372036854775807-0", "1-0"] {
            b.add(id, [("a", "x")])
        }
        let r = await h.state.ingest(b.batch, now: t0)
        #expect(r.rows == 4 && r.deadLetters.isEmpty)
        let jobs = await h.sealed()
        let years = Set(jobs.compactMap { $0.partition.time?.components.year })
        #expect(years.contains(1970))
        #expect(years.max()! > 294_000)
        #expect(jobs.reduce(0) { $0 + $1.rows } == 4)
    }

    /// Invalid UTF-8 in a kept unknown field is dead-lettered per entry; the entity's other rows
    /// are written (before, the encoder refused the whole buffer and the entity stalled for good).
    @Test func invalidUTF8InKeptFieldsNeverBlocksTheEntity() async throws {
        let h = try Harness(Self.config("max_rows: 100", entities: """
          kept:
            stream: kept
            payload: json:data
            unknown_fields: keep
            columns:
              id: int64 not null
        """))
        var b = BatchBuilder("kept")
        b.add("1-0", [("data", #"{"id": 1, "note": "fine"}"#)])
        b.add("2-0", raw: [(Array("data".utf8), Array(#"{"id": 2, "note": ""#.utf8) + [0xFF] + Array(#""}"#.utf8))])
        b.add("3-0", raw: [(Array("data".utf8), Array(#"{"id": 3, ""#.utf8) + [0xE2, 0x28] + Array(#"": 1}"#.utf8))])
        b.add("4-0", [("data", #"{"id": 4}"#)])
        let r = await h.state.ingest(b.batch, now: t0)
        #expect(r.rows == 2)
        #expect(r.deadLetters.map(\.entry) == [1, 2] && r.deadLetters.allSatisfy { $0.reason == "decode" })
        #expect(r.deadLetters.first?.error.contains("invalid UTF-8") == true)
        let jobs = await h.sealed()
        #expect(jobs.map(\.rows) == [2])
        // The sealed buffer is writable.
        let sink = MemorySink()
        let writer = try ParquetWriter(schema: jobs[0].batch.schema, sink: sink)
        try writer.write(jobs[0].batch)
        _ = try writer.close()
    }

    /// One entry with 2,000 new fields: dead-lettered (past max_columns), not 2,001 schema versions.
    @Test func evolutionIsBoundedPerEntryAndByMaxColumns() async throws {
        let h = try Harness(Self.config("max_rows: 100", entities: """
          ev:
            stream: ev
            payload: json:data
            unknown_fields: evolve
            max_columns: 100
            columns:
              id: int64 not null
        """))
        var b = BatchBuilder("ev")
        b.add("1-0", [("data", "{\"id\": 1, " + (0..<2000).map { "\"f\($0)\": 1" }.joined(separator: ", ") + "}")])
        b.add("2-0", [("data", "{\"id\": 2, " + (0..<50).map { "\"g\($0)\": 1" }.joined(separator: ", ") + "}")])
        let r = await h.state.ingest(b.batch, now: t0)
        #expect(r.deadLetters.map(\.entry) == [0] && r.deadLetters[0].error.contains("100 columns"))
        #expect(r.rows == 1)
        let jobs = await h.sealed()
        #expect(jobs.map(\.schemaVersion) == [2])
        #expect(jobs[0].batch.schema.columns.count == 1 + 50 + 1)
    }

    @Test func schemaChangeSealsThePreviousVersion() async throws {
        let h = try Harness(Self.config("max_rows: 100", entities: """
          ev:
            stream: ev
            payload: json:data
            unknown_fields: evolve
            columns:
              id: int64 not null
        """))
        var b = BatchBuilder("ev")
        b.add("1-0", [("data", #"{"id": 1}"#)])
        b.add("2-0", [("data", #"{"id": 2, "extra": "x"}"#)])
        _ = await h.state.ingest(b.batch, now: t0)
        let jobs = await h.sealed()
        #expect(jobs.map(\.reason) == [.schema, .shutdown])
        #expect(jobs.map(\.schemaVersion) == [1, 2])
    }

    static let tenants = """
      ev:
        stream: ev
        payload: json:data
        time: at
        partition_by: [tenant, n]
        time_partition: day
        partition_columns_in_file: false
        columns:
          tenant: string
          n: int32
          at: timestamp(ms, utc)
          v: string
    """

    @Test func partitionsAreBuffersOfTheirOwnAndTheLeastRecentlyAppendedGoesFirst() async throws {
        let h = try Harness(Self.config("max_rows: 100, max_open_partitions: 3", entities: Self.tenants))
        var b = BatchBuilder("ev")
        // 2024-02-29T13:45Z and an hour later: one day, so one buffer per tenant.
        let rows: [(String, String)] = [("\"a\"", "1709214300000"), ("\"b/=\"", "1709214300000"), ("null", "1709217900000"),
                                        ("\"a\"", "1709217900000"), ("\"d\"", "1709214300000"), ("\"\"", "1709214300000")]
        for (i, (t, at)) in rows.enumerated() {
            b.add("\(i + 1)-0", [("data", #"{"tenant": \#(t), "n": 7, "at": \#(at), "v": "x"}"#)])
        }
        let r = await h.state.ingest(b.batch, now: t0)
        #expect(r.rows == 6 && r.deadLetters.isEmpty)
        let jobs = await h.sealed()
        // a, b/=, null open; a appended again; d evicts b/= (least recently appended); "" is the
        // null partition, appended to that buffer.
        #expect(jobs.first?.reason == .partitions)
        #expect(jobs.first?.partition.path == "tenant=b%2F%3D/n=7/year=2024/month=02/day=29")
        let paths = Dictionary(jobs.map { ($0.partition.path, $0.rows) }, uniquingKeysWith: +)
        #expect(paths == ["tenant=a/n=7/year=2024/month=02/day=29": 2,
                          "tenant=b%2F%3D/n=7/year=2024/month=02/day=29": 1,
                          "tenant=__HIVE_DEFAULT_PARTITION__/n=7/year=2024/month=02/day=29": 2,
                          "tenant=d/n=7/year=2024/month=02/day=29": 1], "\(paths)")
        #expect(jobs.filter { $0.reason == .partitions }.count == 1)
        // The partition columns stay out of the file (the rows keep them in the buffer).
        let file = try jobs[0].fileBatch()
        #expect(file.schema.fields.map(\.name) == ["at", "v", "_stream_id"])
        #expect(jobs[0].batch.schema.fields.map(\.name) == ["tenant", "n", "at", "v", "_stream_id"])
    }

    @Test func aPartitionValueTooLongForAKeyIsDeadLettered() async throws {
        let h = try Harness(Self.config("max_rows: 100", entities: Self.tenants))
        var b = BatchBuilder("ev")
        let long = String(repeating: "/", count: 100)  // 300 bytes escaped
        b.add("1-0", [("data", #"{"tenant": "\#(long)", "n": 1, "at": 1709214300000}"#)])
        b.add("2-0", [("data", #"{"tenant": "ok", "n": 1, "at": 1709214300000}"#)])
        let r = await h.state.ingest(b.batch, now: t0)
        #expect(r.rows == 1)
        #expect(r.deadLetters.map(\.reason) == ["partition"] && r.deadLetters.first?.entry == 0)
        #expect(r.deadLetters.first?.error.contains("more than 255") == true, "\(r.deadLetters)")
        let jobs = await h.sealed()
        #expect(jobs.map(\.partition.path) == ["tenant=ok/n=1/year=2024/month=02/day=29"])
    }
}

/// Records acknowledgements, and whether the file of the acknowledged rows was already stored.
final class RecordingAcks: EntryAcknowledging {
    let events = Mutex<[String]>([])
    let deadLetterErrors = Mutex<[String]>([])
    let lake: String
    /// What `entry(stream:id:)` finds in the stream.
    let stream: @Sendable (StreamID) -> StreamBatch?

    init(lake: String, stream: @escaping @Sendable (StreamID) -> StreamBatch? = { _ in nil }) {
        self.lake = lake
        self.stream = stream
    }

    func entry(stream: String, id: StreamID) async throws -> StreamBatch? { self.stream(id) }

    func acknowledge(stream: String, group: String, ids: [StreamID]) async throws {
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".parquet") }
        events.withLock { $0.append("ack \(stream) \(ids.count) after \(files.count) file(s)") }
    }

    func deadLetter(entry: Int, of batch: StreamBatch, to deadLetterStream: String, error: String, reason: String, entity: String,
                    maxLength: Int?) async throws {
        events.withLock { $0.append("dlq \(deadLetterStream) \(batch.entries[entry].id) \(entity)") }
        deadLetterErrors.withLock { $0.append(error) }
    }
}

@Suite struct WorkerFlushOrderTests {
    @Test func sealThenUploadThenAcknowledge() async throws {
        let lake = try TestEnvironment.temporaryDirectory("order").path
        var config = try WorkerStateTests.config("max_rows: 5")
        config.storage.url = "file://" + lake
        let acks = RecordingAcks(lake: lake)
        let worker = try LakewriterWorker(config: config, logger: Logger(label: "test"), metrics: WorkerMetrics(),
                                          store: nil, entries: acks, flushConcurrency: 1)
        let (jobs, continuation) = AsyncStream<FlushJob>.makeStream()
        let state = try WorkerState(config: config, metrics: worker.metrics, logger: Logger(label: "test"),
                                    jobs: continuation)
        _ = await state.ingest(WorkerStateTests.clicks(0..<5), now: .now)
        // Sealed, not yet written: nothing acknowledged.
        #expect(acks.events.withLock { $0 }.isEmpty)
        await state.sealAll(reason: .shutdown)
        var it = jobs.makeAsyncIterator()
        let job = try #require(await it.next())
        await worker.flush(job, state: state)
        // The acknowledgement came after the file was stored, for exactly its entries.
        #expect(acks.events.withLock { $0 } == ["ack clicks 5 after 1 file(s)"])
        let file = try #require(FileManager.default.enumerator(atPath: lake)?.allObjects.compactMap { $0 as? String }
            .first { $0.hasSuffix(".parquet") })
        #expect(file.hasPrefix("clicks/year=2026/month=01/day=01/hour=00/"))
        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        for (reader, table) in try await ParquetReadback.values(path: lake + "/" + file) {
            let cols = table.columns ?? []
            let (u, id) = (try #require(cols.firstIndex(of: "user")), try #require(cols.firstIndex(of: "_stream_id")))
            #expect(table.rows?.map { [$0[u], $0[id]] } == (0..<5).map { [ReadbackValue.string("\($0)"), .string("170000000000\($0)-0")] }, "\(reader)")
        }
    }

    @Test func unroutableEntriesAreDeadLetteredThenAcknowledged() async throws {
        let lake = try TestEnvironment.temporaryDirectory("dlq").path
        var config = try WorkerStateTests.config("max_rows: 5")
        config.storage.url = "file://" + lake
        let acks = RecordingAcks(lake: lake)
        let worker = try LakewriterWorker(config: config, logger: Logger(label: "test"), metrics: WorkerMetrics(),
                                          store: nil, entries: acks, flushConcurrency: 1)
        let (_, continuation) = AsyncStream<FlushJob>.makeStream()
        let state = try WorkerState(config: config, metrics: worker.metrics, logger: Logger(label: "test"),
                                    jobs: continuation)
        var b = BatchBuilder("clicks")
        b.add("5-0", [("data", "{not json")])
        try await worker.handle(b.batch, state: state)
        #expect(acks.events.withLock { $0 } == ["dlq clicks:dlq 5-0 clicks", "ack clicks 1 after 0 file(s)"])
    }
}

/// A Parquet sink in memory.
final class MemorySink: ParquetSink {
    var bytes: [UInt8] = []
    func write(_ b: UnsafeRawBufferPointer) throws { bytes += b }
    func close() throws {}
}
