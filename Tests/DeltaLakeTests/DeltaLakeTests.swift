@testable import DeltaLake
import Foundation
import LakeModel
import Logging
import NIOCore
import ObjectStore
import Parquet
import Testing
import TestSupport

@Suite struct DeltaSchemaTests {
    @Test func typesMapToTheDeltaTypesThatLoseNothing() throws {
        let schema = try ParquetSchema([
            .required("a", .int8), .optional("b", .uint8), .optional("c", .uint16), .optional("d", .uint32),
            .optional("e", .decimal(precision: 20, scale: 0)), .optional("f", .uuid), .optional("g", .json),
            .optional("h", .timestamp(.millis, adjustedToUTC: true)), .optional("i", .timestamp(.micros, adjustedToUTC: false)),
            .optional("j", .list(.optional("element", .string))),
            .optional("k", .map(key: .required("key", .string), value: .required("value", .int64))),
            .optional("l", .structure([.required("x", .date), .optional("y", .binary)])),
        ])
        let s = try DeltaSchema.schemaString(schema)
        let v = try JSONValue.parse(s)
        let types = Dictionary(uniqueKeysWithValues: (v["fields"]?.array ?? []).map { ($0["name"]!.string!, $0["type"]!) })
        #expect(types["a"] == .string("byte") && types["b"] == .string("short") && types["c"] == .string("integer"))
        #expect(types["d"] == .string("long") && types["e"] == .string("decimal(20,0)") && types["f"] == .string("binary"))
        #expect(types["g"] == .string("string") && types["h"] == .string("timestamp") && types["i"] == .string("timestamp_ntz"))
        #expect(types["j"]?["type"] == .string("array") && types["j"]?["containsNull"] == .bool(true))
        #expect(types["k"]?["valueType"] == .string("long") && types["k"]?["valueContainsNull"] == .bool(false))
        #expect(types["l"]?["fields"]?.array?.count == 2)
        #expect(v["fields"]?.array?.first?["nullable"] == .bool(false))
        #expect(DeltaSchema.needsTimestampNtz(schema))
        #expect(DeltaSchema.protocolAction(schema).contains("timestampNtz"))
        #expect(!DeltaSchema.protocolAction(try ParquetSchema([.required("a", .int64)])).contains("Features"))
    }

    @Test func typesWithoutALosslessDeltaTypeAreRefusedByName() throws {
        for (t, word) in [(ParquetType.time(.micros, adjustedToUTC: false), "time of day"), (.timestamp(.nanos, adjustedToUTC: true), "nanosecond"),
                          (.uint64, "uint64")] {
            #expect { try DeltaSchema.schemaString(try ParquetSchema([.optional("col", t)])) } throws: { e in
                "\(e)".contains("column col") && "\(e)".contains(word)
            }
        }
        // The entity mapping never gets there: a Delta entity's files store them as the mapped types.
        #expect(ColumnType.time.parquetType(delta: true) == .int64)
        #expect(ColumnType.int(bits: 64, signed: false).parquetType(delta: true) == .decimal(precision: 20, scale: 0))
        #expect(ColumnType.time.parquetType(delta: false) == .time(.micros, adjustedToUTC: false))
    }
}

@Suite struct DeltaLogFormatTests {
    @Test func addActionsEncodePathsAsURIsAndKeepPartitionValuesRaw() throws {
        let add = DeltaAdd(path: "tenant=a%2Fb/sp ace é/x.parquet", partitionValues: [("tenant", "a/b"), ("region", nil)],
                           size: 10, modificationTime: 5, stats: #"{"numRecords":1}"#)
        let v = try JSONValue.parse(add.json)["add"]!
        #expect(v["path"]?.string == "tenant=a%252Fb/sp%20ace%20%C3%A9/x.parquet")
        #expect(DeltaPath.decode(v["path"]!.string!) == "tenant=a%2Fb/sp ace é/x.parquet")
        #expect(v["partitionValues"] == .object(["tenant": .string("a/b"), "region": .null]))
        #expect(v["dataChange"] == .bool(true) && v["size"]?.int64 == 10)
        #expect(try JSONValue.parse(v["stats"]!.string!)["numRecords"]?.int64 == 1)
        // Partition values come back from a key's Hive segments.
        let pv = DeltaAdd.partitionValues(ofKey: "orders/tenant=a%2Fb/region=__HIVE_DEFAULT_PARTITION__/f.parquet",
                                          columns: ["tenant", "region"])
        #expect(pv?.map(\.column) == ["tenant", "region"] && pv?.map(\.value) == ["a/b", nil])
        #expect(DeltaAdd.partitionValues(ofKey: "orders/f.parquet", columns: ["tenant"]) == nil)
    }

    @Test func statisticsComeFromTheFootersOwnValues() throws {
        let schema = try ParquetSchema([
            .required("n", .int64), .optional("s", .string), .optional("d", .decimal(precision: 12, scale: 2)),
            .optional("day", .date), .optional("at", .timestamp(.millis, adjustedToUTC: true)),
            .optional("f", .double), .optional("tags", .list(.optional("element", .string))),
        ])
        var batch = RowBatch(schema)
        for i in 0..<3 {
            batch.columns[0].appendInt64(Int64(10 - i))
            if i == 1 { batch.columns[1].appendNull() } else { batch.columns[1].appendString("v\(i)") }
            batch.columns[2].appendDecimal(unscaled: Int128(-150 + i))
            batch.columns[3].appendInt32(Int32(19_782 + i))
            batch.columns[4].appendInt64(1_709_157_600_000 + Int64(i))
            batch.columns[5].appendDouble(Double(i))
            batch.columns[6].appendString("x", repetitionLevel: 0)
        }
        let sink = BytesSink()
        let writer = try ParquetWriter(schema: schema, sink: sink)
        try writer.write(batch)
        let meta = try writer.close()
        let stats = try JSONValue.parse(DeltaStats.json(schema: schema, metadata: meta))
        #expect(stats["numRecords"]?.int64 == 3)
        #expect(stats["minValues"]?["n"] == .number("8") && stats["maxValues"]?["n"] == .number("10"))
        #expect(stats["minValues"]?["s"] == .string("v0") && stats["maxValues"]?["s"] == .string("v2"))
        #expect(stats["minValues"]?["d"] == .number("-1.50") && stats["maxValues"]?["d"] == .number("-1.48"))
        #expect(stats["minValues"]?["day"] == .string("2024-02-29"))
        #expect(stats["maxValues"]?["at"] == .string("2024-02-28T22:00:00.002Z"))
        #expect(stats["nullCount"]?["s"] == .number("1") && stats["nullCount"]?["n"] == .number("0"))
        // No bounds for floats or nested columns.
        #expect(stats["minValues"]?["f"] == nil && stats["minValues"]?["tags"] == nil)
    }

    @Test func jsonParserLimitsDepthAndSize() throws {
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: (any Error).self) { try JSONValue.parse(deep) }
        var few = JSONValue.Limits()
        few.values = 10
        #expect(throws: (any Error).self) { try JSONValue.parse("[" + Array(repeating: "1", count: 20).joined(separator: ",") + "]", limits: few) }
        #expect(try JSONValue.parse(#"{"a":[1,"x",null,true,{"b":-2.5e3}]}"#)["a"]?.array?.count == 5)
        #expect(throws: (any Error).self) { try JSONValue.parse(#"{"a":1} x"#) }
    }

    /// Fuzz: any bytes parse or throw, never trap; what parses prints back to the same value.
    @Test func jsonParserFuzz() throws {
        var rng = SeededGenerator(seed: Fuzz.seed(23))
        let pieces = ["{", "}", "[", "]", ",", ":", "\"a\"", "\"\\u00e9\"", "1", "-0.5e2", "null", "true", " ", "\"", "\\", "x", "\u{0}"]
        for _ in 0..<Fuzz.cases(5000) {
            let text = (0..<Int.random(in: 0...30, using: &rng)).map { _ in pieces.randomElement(using: &rng)! }.joined()
            if let v = try? JSONValue.parse(text) {
                #expect(try JSONValue.parse(v.text) == v, "\(text)")
            }
        }
    }
}

@Suite struct DeltaCheckpointTests {
    static func state(files: Int) throws -> DeltaState {
        var s = DeltaState()
        s.apply([
            try JSONValue.parse(#"{"protocol":{"minReaderVersion":3,"minWriterVersion":7,"readerFeatures":["timestampNtz"],"writerFeatures":["timestampNtz"]}}"#),
            try JSONValue.parse(#"{"metaData":{"id":"t1","format":{"provider":"parquet","options":{}},"schemaString":"{\"type\":\"struct\",\"fields\":[]}","partitionColumns":["tenant"],"configuration":{"delta.checkpointInterval":"10","lakewriter.schemaVersion":"2"},"createdTime":7}}"#),
            try JSONValue.parse(#"{"txn":{"appId":"g:s","version":42}}"#),
        ])
        for i in 0..<files {
            let tenant = i % 3 == 0 ? "null" : "\"t\(i % 3)\""
            s.apply([try JSONValue.parse(#"{"add":{"path":"tenant=t/f\#(i).parquet","partitionValues":{"tenant":\#(tenant)},"size":\#(100 + i),"modificationTime":\#(i),"dataChange":true,"stats":"{\"numRecords\":\#(i)}"}}"#)])
        }
        s.apply([try JSONValue.parse(#"{"remove":{"path":"tenant=t/f0.parquet","deletionTimestamp":9,"dataChange":true}}"#)])
        return s
    }

    @Test func checkpointsReadBackToTheSameState() throws {
        let s = try Self.state(files: 250)
        let (bytes, rows) = try DeltaCheckpoint.encode(s)
        #expect(rows == 3 + 249 + 1)
        let back = try DeltaCheckpointReader.state(bytes)
        #expect(back.adds.count == 249 && back.removes.count == 1 && back.txns["g:s"]?["version"] == .number("42"))
        #expect(back.protocolAction?["readerFeatures"] == .array([.string("timestampNtz")]))
        #expect(back.metadataAction?["partitionColumns"] == .array([.string("tenant")]))
        #expect(back.metadataAction?["configuration"]?["lakewriter.schemaVersion"] == .string("2"))
        #expect(back.metadataAction?["format"]?["provider"] == .string("parquet"))
        for (path, add) in s.adds {
            let b = try #require(back.adds[path], "\(path)")
            #expect(b["size"] == add["size"] && b["stats"] == add["stats"] && b["modificationTime"] == add["modificationTime"])
            #expect(b["partitionValues"] == add["partitionValues"], "\(path): \(b.text) vs \(add.text)")
            #expect(b["dataChange"] == .bool(true))
        }
    }

    /// Fuzz: mutated checkpoints throw or read, never trap.
    @Test func damagedCheckpointsNeverCrashTheReader() throws {
        let (bytes, _) = try DeltaCheckpoint.encode(try Self.state(files: 20))
        var rng = SeededGenerator(seed: Fuzz.seed(29))
        for _ in 0..<Fuzz.cases(2000) {
            var b = bytes
            for _ in 0..<Int.random(in: 1...8, using: &rng) {
                let at = Int.random(in: 0..<b.count, using: &rng)
                b[at] = UInt8.random(in: 0...255, using: &rng)
            }
            if Bool.random(using: &rng) { b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng))) + b.suffix(8) }
            _ = try? DeltaCheckpointReader.state(b)
        }
    }
}

@Suite struct DeltaCommitTests {
    static func schema() throws -> ParquetSchema { try ParquetSchema([.required("n", .int64), .required("_stream_id", .string)]) }

    static func add(_ name: String) -> DeltaAdd {
        DeltaAdd(path: "\(name).parquet", size: 1, modificationTime: 1, stats: nil)
    }

    /// Two writers (two processes' tables) racing for the same versions: every commit lands,
    /// versions stay contiguous, only the first carries protocol and metaData.
    @Test func racingWritersLoseNoCommit() async throws {
        let dir = try TestEnvironment.temporaryDirectory("delta-race").path
        let store = try makeObjectStore(url: "file://\(dir)")
        let a = DeltaTable(store: store, root: "t/", checkpointInterval: 1000, logger: Logger(label: "a"))
        let b = DeltaTable(store: store, root: "t/", checkpointInterval: 1000, logger: Logger(label: "b"))
        let schema = try Self.schema()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (name, table) in [("a", a), ("b", b)] {
                group.addTask {
                    for i in 0..<25 {
                        _ = try await table.commit(DeltaCommit(adds: [Self.add("\(name)\(i)")], schema: schema, partitionColumns: []))
                    }
                }
            }
            try await group.waitForAll()
        }
        let log = DeltaLog(store: store, root: "t/")
        let (commits, _) = try await log.listVersions()
        #expect(commits == Array(0...49))
        var paths: [String] = []
        var metadata = 0, protocols = 0
        for v in commits {
            for action in try await log.readCommit(v) ?? [] {
                if let p = action["add"]?["path"]?.string { paths.append(p) }
                if action["metaData"] != nil { metadata += 1 }
                if action["protocol"] != nil { protocols += 1 }
            }
        }
        #expect(Set(paths) == Set((0..<25).flatMap { ["a\($0).parquet", "b\($0).parquet"] }) && paths.count == 50)
        #expect(metadata == 1 && protocols == 1)
        #expect(await a.conflictsRetried + b.conflictsRetried > 0)
    }

    /// Concurrent commits through one table (the worker flushes two files at a time): versions
    /// contiguous, and every checkpoint holds exactly the files the JSON commits up to it add.
    @Test func concurrentCommitsOfOneProcessKeepCheckpointsWhole() async throws {
        let dir = try TestEnvironment.temporaryDirectory("delta-concurrent").path
        let store = try makeObjectStore(url: "file://\(dir)")
        let schema = try Self.schema()
        // A table with a history, then a restarted process committing several files at once.
        let first = DeltaTable(store: store, root: "t/", checkpointInterval: 1000, logger: Logger(label: "a"))
        for i in 0..<30 { _ = try await first.commit(DeltaCommit(adds: [Self.add("f\(i)")], schema: schema, partitionColumns: [])) }
        // Reads take a few milliseconds, at random: the commits' loads of the log interleave.
        let table = DeltaTable(store: LosingFirstAnswer(base: store, slowReads: true), root: "t/", checkpointInterval: 5,
                               logger: Logger(label: "b"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 30..<50 {
                group.addTask { _ = try await table.commit(DeltaCommit(adds: [Self.add("f\(i)")], schema: schema, partitionColumns: [])) }
            }
            try await group.waitForAll()
        }
        // One read of the log for all of them (a second load interleaved with a commit once reset
        // the state a checkpoint was then written from).
        #expect(await table.loads == 1)
        let log = DeltaLog(store: store, root: "t/")
        let (commits, checkpoints) = try await log.listVersions()
        #expect(commits == Array(0...49))
        #expect(checkpoints == [30, 35, 40, 45])
        for c in checkpoints {
            var replay = DeltaState()
            for v in 0...c { replay.apply(try await log.readCommit(v) ?? []) }
            let read = try #require(try await DeltaCheckpoint.read(log: log, version: c))
            #expect(Set(read.adds.keys) == Set(replay.adds.keys), "checkpoint \(c)")
        }
        // A second table object (a restart) loads from the newest checkpoint and sees all 50.
        #expect(try await DeltaTable(store: store, root: "t/", logger: Logger(label: "b")).snapshot().state.adds.count == 50)
    }

    /// A commit whose PUT landed but whose answer was lost is recognised when it is retried,
    /// not written again at the next version.
    @Test func aRetriedCommitThatLandedIsNotWrittenTwice() async throws {
        let dir = try TestEnvironment.temporaryDirectory("delta-retry").path
        let store = LosingFirstAnswer(base: try makeObjectStore(url: "file://\(dir)"))
        let schema = try Self.schema()
        let commit = DeltaCommit(adds: [Self.add("x")], schema: schema, partitionColumns: [])
        let table = DeltaTable(store: store, root: "t/", logger: Logger(label: "a"))
        await #expect(throws: ObjectStoreError.self) { _ = try await table.commit(commit) }
        // The caller retries the same commit: it is found at version 0.
        #expect(try await table.commit(commit) == 0)
        #expect(try await DeltaLog(store: store, root: "t/").listVersions().commits == [0])
        #expect(try await table.commit(DeltaCommit(adds: [Self.add("y")], schema: schema, partitionColumns: [])) == 1)
    }

    /// A schema change by another writer that drops columns this commit writes is a conflict;
    /// a wider one is taken in.
    @Test func schemaChangesByOthersAreCheckedAgainstOurs() async throws {
        let dir = try TestEnvironment.temporaryDirectory("delta-schema").path
        let store = try makeObjectStore(url: "file://\(dir)")
        let schema = try Self.schema()
        let a = DeltaTable(store: store, root: "t/", logger: Logger(label: "a"))
        _ = try await a.commit(DeltaCommit(adds: [Self.add("a0")], schema: schema, partitionColumns: []))
        let b = DeltaTable(store: store, root: "t/", logger: Logger(label: "b"))
        let wider = try ParquetSchema([.required("n", .int64), .optional("m", .string), .required("_stream_id", .string)])
        _ = try await b.commit(DeltaCommit(adds: [Self.add("b0")], schema: wider, partitionColumns: [], schemaVersion: 2))
        // a has not seen b's version 1: its append lands at 2 and it learns the wider schema.
        #expect(try await a.commit(DeltaCommit(adds: [Self.add("a1")], schema: schema, partitionColumns: [])) == 2)
        #expect(await a.currentMetadata?.fieldNames == ["n", "m", "_stream_id"])
        // A writer whose view is older, bringing an unrelated schema, conflicts with a change it
        // has not seen.
        let c = DeltaTable(store: store, root: "t/", logger: Logger(label: "c"))
        _ = try await c.commit(DeltaCommit(adds: [Self.add("c0")], schema: wider, partitionColumns: [], schemaVersion: 2))
        let d = DeltaTable(store: store, root: "t/", logger: Logger(label: "d"))
        let widest = try ParquetSchema([.required("n", .int64), .optional("m", .string), .optional("k", .int32),
                                        .required("_stream_id", .string)])
        _ = try await d.commit(DeltaCommit(adds: [Self.add("d0")], schema: widest, partitionColumns: [], schemaVersion: 3))
        let other = try ParquetSchema([.required("z", .int64), .required("_stream_id", .string)])
        await #expect(throws: DeltaError.self) {
            _ = try await c.commit(DeltaCommit(adds: [Self.add("c1")], schema: other, partitionColumns: [], schemaVersion: 4))
        }
    }
}

/// Forwards to `base`; the first `putIfAbsent` lands but its answer is lost (a transport error),
/// or (`slowReads`) every answer is kept and reads take 0…4 ms.
final class LosingFirstAnswer: ObjectStore, @unchecked Sendable {
    let base: any ObjectStore
    private var lost = false
    let slowReads: Bool
    init(base: any ObjectStore, slowReads: Bool = false) {
        self.base = base
        self.slowReads = slowReads
        lost = slowReads
    }
    func pause() async { if slowReads { try? await Task.sleep(for: .microseconds(Int.random(in: 0...4000))) } }
    var location: String { base.location }
    func put(key: String, body: ByteBuffer) async throws -> ObjectInfo { try await base.put(key: key, body: body) }
    func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        let info = try await base.putIfAbsent(key: key, body: body)
        if !lost {
            lost = true
            throw ObjectStoreError(code: .retriesExhausted, operation: "PutObject", key: key, message: "injected: the answer was lost")
        }
        return info
    }
    func head(key: String) async throws -> ObjectInfo? { try await base.head(key: key) }
    func get(key: String) async throws -> ByteBuffer {
        await pause()
        return try await base.get(key: key)
    }
    func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage {
        await pause()
        return try await base.list(prefix: prefix, continuationToken: continuationToken, maxKeys: maxKeys)
    }
    func delete(key: String) async throws { try await base.delete(key: key) }
    func createMultipartUpload(key: String) async throws -> MultipartUpload { try await base.createMultipartUpload(key: key) }
    func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart {
        try await base.uploadPart(upload, partNumber: partNumber, body: body)
    }
    func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo {
        try await base.completeMultipartUpload(upload, parts: parts)
    }
    func abortMultipartUpload(_ upload: MultipartUpload) async throws { try await base.abortMultipartUpload(upload) }
    func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter { base.makeWriter(key: key, options: options) }
    func shutdown() async throws {}
}

@Suite struct EntryRecordTests {
    @Test func recordsRoundTripAndStaySmall() throws {
        // 100,000 ids as one producer makes them: a few per millisecond.
        var ids: [EntryID] = []
        var ms: UInt64 = 1_796_148_541_757
        while ids.count < 100_000 {
            for seq in 0..<UInt64(1 + ids.count % 4) where ids.count < 100_000 { ids.append(EntryID(ms: ms, seq: seq)) }
            ms += 1
        }
        let text = try EntryRecord.encode(ids.shuffled())
        #expect(try EntryRecord.decode(text) == ids)
        // The size per 100,000 rows (README): under 2 KB for consecutive ids.
        print("entry record: \(text.utf8.count) bytes for 100000 consecutive ids")
        #expect(text.utf8.count < 2048, "\(text.utf8.count)")
        // Scattered ids (every 7th entry of a busy stream) stay small too.
        let scattered = (0..<100_000).map { EntryID(ms: 1_796_148_541_757 + UInt64($0 * 7 / 3), seq: UInt64($0 % 3)) }
        let s = try EntryRecord.encode(scattered)
        #expect(try EntryRecord.decode(s) == scattered.sorted())
        print("entry record: \(s.utf8.count) bytes for 100000 scattered ids")
        #expect(s.utf8.count < 64 << 10)
        #expect(try EntryRecord.decode(try EntryRecord.encode([])) == [])
        let extreme = [EntryID(ms: .max, seq: .max), EntryID(ms: 0, seq: 0)]
        #expect(try EntryRecord.decode(try EntryRecord.encode(extreme)) == extreme.sorted())
    }

    /// Fuzz: damaged records throw, never trap or allocate without bound.
    @Test func damagedRecordsFailCleanly() throws {
        let good = Array(Data(base64Encoded: try EntryRecord.encode((0..<500).map { EntryID(ms: 100 + UInt64($0), seq: 0) }))!)
        var rng = SeededGenerator(seed: Fuzz.seed(31))
        for _ in 0..<Fuzz.cases(3000) {
            var b = good
            for _ in 0..<Int.random(in: 1...6, using: &rng) { b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng) }
            if Bool.random(using: &rng) { b = Array(b.prefix(Int.random(in: 0...b.count, using: &rng))) }
            _ = try? EntryRecord.decode(Data(b).base64EncodedString())
        }
        #expect(throws: EntryRecord.Failure.self) { try EntryRecord.decode("not base64!") }
    }

    /// The committed-entry search finds what commits hold, per stream, and nothing else.
    @Test func committedEntriesAreFoundInTheLog() async throws {
        let dir = try TestEnvironment.temporaryDirectory("delta-entries").path
        let store = try makeObjectStore(url: "file://\(dir)")
        let table = DeltaTable(store: store, root: "t/", logger: Logger(label: "t"))
        let schema = try DeltaCommitTests.schema()
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        for c in 0..<3 {
            var commit = DeltaCommit(adds: [DeltaCommitTests.add("f\(c)")], schema: schema, partitionColumns: [])
            commit.entries = [("s", try EntryRecord.encode((0..<10).map { EntryID(ms: now + UInt64(c * 10 + $0), seq: 0) })),
                              ("other", try EntryRecord.encode([EntryID(ms: now, seq: 99)]))]
            commit.transactions = ["lakewriter:g:s"]
            _ = try await table.commit(commit)
        }
        let index = CommittedEntries(log: DeltaLog(store: store, root: "t/"))
        let probe = [EntryID(ms: now + 5, seq: 0), EntryID(ms: now + 25, seq: 0), EntryID(ms: now + 30, seq: 0), EntryID(ms: now, seq: 99)]
        #expect(try await index.committed(stream: "s", probe) == [EntryID(ms: now + 5, seq: 0), EntryID(ms: now + 25, seq: 0)])
        #expect(try await index.committed(stream: "other", probe) == [EntryID(ms: now, seq: 99)])
        // The txn action advanced once per commit.
        let last = try #require(try await DeltaLog(store: store, root: "t/").readCommit(2))
        #expect(last.contains { $0["txn"]?["appId"]?.string == "lakewriter:g:s" && $0["txn"]?["version"]?.int64 == 3 })
    }
}

@Suite struct ParquetConcatenationTests {
    static func file(_ values: Range<Int64>) throws -> [UInt8] {
        let schema = try ParquetSchema([.required("n", .int64), .optional("s", .string)])
        var batch = RowBatch(schema)
        for v in values { batch.columns[0].appendInt64(v); batch.columns[1].appendString("v\(v)") }
        let sink = BytesSink()
        let w = try ParquetWriter(schema: schema, sink: sink)
        try w.write(batch)
        _ = try w.close()
        return sink.bytes
    }

    @Test func joinedFilesKeepEveryRowGroup() throws {
        let joined = try ParquetConcatenation.join([try Self.file(0..<10), try Self.file(10..<25)], keyValueMetadata: ["k": "v"])
        let meta = try ParquetMetadataReader.read(bytes: joined)
        #expect(meta.numRows == 25 && meta.rowGroups.count == 2)
        #expect(meta.keyValueMetadata?.contains { $0.key == "k" && $0.value == "v" } == true)
        let other = try ParquetSchema([.required("x", .int32)])
        var b = RowBatch(other)
        b.columns[0].appendInt32(1)
        let sink = BytesSink()
        let w = try ParquetWriter(schema: other, sink: sink)
        try w.write(b)
        _ = try w.close()
        #expect(throws: ParquetError.self) { try ParquetConcatenation.join([try Self.file(0..<3), sink.bytes]) }
    }

    /// Fuzz: damaged sources (offsets and sizes from their footers) throw, never trap.
    @Test func damagedSourcesFailCleanly() throws {
        let a = try Self.file(0..<20), b = try Self.file(20..<40)
        var rng = SeededGenerator(seed: Fuzz.seed(37))
        for _ in 0..<Fuzz.cases(3000) {
            var x = b
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                // Mostly the footer, where the offsets are.
                let at = Bool.random(using: &rng) ? Int.random(in: max(0, x.count - 200)..<x.count, using: &rng)
                    : Int.random(in: 0..<x.count, using: &rng)
                x[at] = UInt8.random(in: 0...255, using: &rng)
            }
            _ = try? ParquetConcatenation.join([a, x])
        }
    }
}
