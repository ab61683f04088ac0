import Foundation
import Parquet
import Testing
import TestSupport

/// One schema shape and a filler appending one random row to every column of a batch.
struct SplitCase: Sendable, CustomStringConvertible {
    var name: String
    var schema: ParquetSchema
    var fill: @Sendable (inout RowBatch, inout SeededGenerator) -> Void
    var description: String { name }

    /// Row i's generator: rows can be rebuilt one by one, in any selection, exactly as filled.
    static func rowGenerator(seed: UInt64, row: Int) -> SeededGenerator {
        SeededGenerator(seed: seed ^ (UInt64(row) &* 0xD6E8_FEB8_6659_FD93))
    }

    /// A batch of the rows `rows` (indexes into the generated sequence), in that order.
    func batch(rows: some Sequence<Int>, seed: UInt64) -> RowBatch {
        var b = RowBatch(schema)
        for i in rows {
            var g = Self.rowGenerator(seed: seed, row: i)
            fill(&b, &g)
        }
        return b
    }

    static let all: [SplitCase] = [.flat, .nullable, .nestedStruct, .list, .map, .listOfStruct]
}

// MARK: - Random values

fileprivate extension SeededGenerator {
    mutating func chance(_ p: Double) -> Bool { Double.random(in: 0..<1, using: &self) < p }
    mutating func int(_ r: ClosedRange<Int>) -> Int { Int.random(in: r, using: &self) }
    mutating func text() -> String {
        let alphabet = Array("abcxyz019 _-é日🙂")
        return String((0..<int(0...12)).map { _ in alphabet[int(0...(alphabet.count - 1))] })
    }
    mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8.random(in: 0...255, using: &self) } }
}

extension SplitCase {
    static let flat = SplitCase(name: "flat", schema: try! ParquetSchema([
        .required("id", .int64), .required("name", .string), .required("score", .double),
        .required("flag", .boolean), .required("uid", .uuid), .required("small", .int16),
        .required("ratio", .float), .required("blob", .binary),
    ])) { b, g in
        b.columns[0].appendInt64(Int64.random(in: .min ... .max, using: &g))
        b.columns[1].appendString(g.text())
        b.columns[2].appendDouble(Double.random(in: -1e6...1e6, using: &g))
        b.columns[3].appendBool(g.chance(0.5))
        b.columns[4].appendBytes(g.bytes(16))
        b.columns[5].appendInt32(Int32(g.int(-32768...32767)))
        b.columns[6].appendFloat(Float.random(in: -10...10, using: &g))
        b.columns[7].appendBytes(g.bytes(g.int(0...20)))
    }

    static let nullable = SplitCase(name: "nullable", schema: try! ParquetSchema([
        .optional("i", .int32), .optional("s", .string), .optional("d", .double), .optional("f", .boolean),
        .optional("dec", .decimal(precision: 25, scale: 3)), .optional("day", .date),
        .optional("bin", .binary), .optional("ts", .timestamp(.micros, adjustedToUTC: true)),
        .optional("u", .uuid),
    ])) { b, g in
        func maybe(_ g: inout SeededGenerator, _ c: inout ColumnBuilder, _ append: (inout ColumnBuilder, inout SeededGenerator) -> Void) {
            if g.chance(0.3) { c.appendNull() } else { append(&c, &g) }
        }
        maybe(&g, &b.columns[0]) { c, g in c.appendInt32(Int32.random(in: .min ... .max, using: &g)) }
        maybe(&g, &b.columns[1]) { c, g in c.appendString(g.text()) }
        maybe(&g, &b.columns[2]) { c, g in c.appendDouble(Double.random(in: -1...1, using: &g)) }
        maybe(&g, &b.columns[3]) { c, g in c.appendBool(g.chance(0.5)) }
        maybe(&g, &b.columns[4]) { c, g in
            c.appendDecimal(unscaled: Int128(Int64.random(in: .min ... .max, using: &g)) * Int128(g.int(1...10_000)))
        }
        maybe(&g, &b.columns[5]) { c, g in c.appendInt32(Int32(g.int(-20_000...40_000))) }
        maybe(&g, &b.columns[6]) { c, g in c.appendBytes(g.bytes(g.int(0...9))) }
        maybe(&g, &b.columns[7]) { c, g in c.appendInt64(Int64(g.int(0...4_000_000_000_000_000))) }
        maybe(&g, &b.columns[8]) { c, g in c.appendBytes(g.bytes(16)) }
    }

    /// Leaves: id, person.name (def 1), person.age (2), person.home.city (3), person.home.zip (2),
    /// meta.v (0), meta.note (1).
    static let nestedStruct = SplitCase(name: "nested struct", schema: try! ParquetSchema([
        .required("id", .int32),
        .optional("person", .structure([
            .required("name", .string),
            .optional("age", .int32),
            .optional("home", .structure([.optional("city", .string), .required("zip", .int32)])),
        ])),
        .required("meta", .structure([.required("v", .int64), .optional("note", .string)])),
    ])) { b, g in
        b.columns[0].appendInt32(Int32(g.int(0...1_000_000)))
        if g.chance(0.25) {
            for c in 1...4 { b.columns[c].appendNull(definitionLevel: 0) }
        } else {
            b.columns[1].appendString(g.text())
            if g.chance(0.3) { b.columns[2].appendNull(definitionLevel: 1) } else { b.columns[2].appendInt32(Int32(g.int(0...120))) }
            if g.chance(0.3) {
                b.columns[3].appendNull(definitionLevel: 1); b.columns[4].appendNull(definitionLevel: 1)
            } else {
                if g.chance(0.3) { b.columns[3].appendNull(definitionLevel: 2) } else { b.columns[3].appendString(g.text()) }
                b.columns[4].appendInt32(Int32(g.int(10000...99999)))
            }
        }
        b.columns[5].appendInt64(Int64(g.int(-1000...1000)))
        if g.chance(0.4) { b.columns[6].appendNull() } else { b.columns[6].appendString(g.text()) }
    }

    /// Leaves: tags (def 3, rep 1), nums (1, 1), flags (2, 1), matrix (5, 2), id.
    static let list = SplitCase(name: "list", schema: try! ParquetSchema([
        .optional("tags", .list(.optional("element", .string))),
        .required("nums", .list(.required("element", .int64))),
        .optional("flags", .list(.required("element", .boolean))),
        .optional("matrix", .list(.optional("element", .list(.optional("element", .int32))))),
        .required("id", .int64),
    ])) { b, g in
        switch g.int(0...4) {
        case 0: b.columns[0].appendNull(definitionLevel: 0)
        case 1: b.columns[0].appendNull(definitionLevel: 1)
        default:
            for k in 0..<g.int(1...4) {
                if g.chance(0.25) { b.columns[0].appendNull(definitionLevel: 2, repetitionLevel: k == 0 ? 0 : 1) }
                else { b.columns[0].appendString(g.text(), repetitionLevel: k == 0 ? 0 : 1) }
            }
        }
        let nums = g.int(0...5)
        if nums == 0 { b.columns[1].appendNull(definitionLevel: 0) }
        for k in 0..<nums { b.columns[1].appendInt64(Int64(g.int(-99...99)), repetitionLevel: k == 0 ? 0 : 1) }
        switch g.int(0...3) {
        case 0: b.columns[2].appendNull(definitionLevel: 0)
        case 1: b.columns[2].appendNull(definitionLevel: 1)
        default: for k in 0..<g.int(1...6) { b.columns[2].appendBool(g.chance(0.5), repetitionLevel: k == 0 ? 0 : 1) }
        }
        switch g.int(0...4) {
        case 0: b.columns[3].appendNull(definitionLevel: 0)
        case 1: b.columns[3].appendNull(definitionLevel: 1)
        default:
            for k in 0..<g.int(1...3) {
                let outer = k == 0 ? 0 : 1
                switch g.int(0...3) {
                case 0: b.columns[3].appendNull(definitionLevel: 2, repetitionLevel: outer)
                case 1: b.columns[3].appendNull(definitionLevel: 3, repetitionLevel: outer)
                default:
                    for e in 0..<g.int(1...3) {
                        let r = e == 0 ? outer : 2
                        if g.chance(0.2) { b.columns[3].appendNull(definitionLevel: 4, repetitionLevel: r) }
                        else { b.columns[3].appendInt32(Int32(g.int(-500...500)), repetitionLevel: r) }
                    }
                }
            }
        }
        b.columns[4].appendInt64(Int64(g.int(0...1 << 40)))
    }

    /// Leaves: attrs.key (def 2, rep 1), attrs.value (3, 1), counts.key (1, 1), counts.value (1, 1).
    static let map = SplitCase(name: "map", schema: try! ParquetSchema([
        .optional("attrs", .map(key: .required("key", .string), value: .optional("value", .int64))),
        .required("counts", .map(key: .required("key", .int32), value: .required("value", .double))),
    ])) { b, g in
        switch g.int(0...3) {
        case 0: b.columns[0].appendNull(definitionLevel: 0); b.columns[1].appendNull(definitionLevel: 0)
        case 1: b.columns[0].appendNull(definitionLevel: 1); b.columns[1].appendNull(definitionLevel: 1)
        default:
            for k in 0..<g.int(1...4) {
                let r = k == 0 ? 0 : 1
                b.columns[0].appendString("k\(k)-\(g.text())", repetitionLevel: r)
                if g.chance(0.3) { b.columns[1].appendNull(definitionLevel: 2, repetitionLevel: r) }
                else { b.columns[1].appendInt64(Int64(g.int(-1_000_000...1_000_000)), repetitionLevel: r) }
            }
        }
        let n = g.int(0...3)
        if n == 0 { b.columns[2].appendNull(definitionLevel: 0); b.columns[3].appendNull(definitionLevel: 0) }
        for k in 0..<n {
            b.columns[2].appendInt32(Int32(k * 10 + g.int(0...9)), repetitionLevel: k == 0 ? 0 : 1)
            b.columns[3].appendDouble(Double(g.int(0...1000)) / 8, repetitionLevel: k == 0 ? 0 : 1)
        }
    }

    /// Leaves: items.sku (def 3, rep 1), items.qty (4, 1), items.tags (5, 2), id.
    static let listOfStruct = SplitCase(name: "list<struct>", schema: try! ParquetSchema([
        .optional("items", .list(.optional("element", .structure([
            .required("sku", .string),
            .optional("qty", .int32),
            .optional("tags", .list(.required("element", .string))),
        ])))),
        .required("id", .int64),
    ])) { b, g in
        switch g.int(0...4) {
        case 0: for c in 0...2 { b.columns[c].appendNull(definitionLevel: 0) }
        case 1: for c in 0...2 { b.columns[c].appendNull(definitionLevel: 1) }
        default:
            for k in 0..<g.int(1...4) {
                let r = k == 0 ? 0 : 1
                if g.chance(0.2) {
                    for c in 0...2 { b.columns[c].appendNull(definitionLevel: 2, repetitionLevel: r) }
                    continue
                }
                b.columns[0].appendString("sku-\(g.int(0...999))", repetitionLevel: r)
                if g.chance(0.3) { b.columns[1].appendNull(definitionLevel: 3, repetitionLevel: r) }
                else { b.columns[1].appendInt32(Int32(g.int(1...50)), repetitionLevel: r) }
                switch g.int(0...3) {
                case 0: b.columns[2].appendNull(definitionLevel: 3, repetitionLevel: r)
                case 1: b.columns[2].appendNull(definitionLevel: 4, repetitionLevel: r)
                default:
                    for e in 0..<g.int(1...3) { b.columns[2].appendString(g.text(), repetitionLevel: e == 0 ? r : 2) }
                }
            }
        }
        b.columns[3].appendInt64(Int64(g.int(0...1_000_000)))
    }
}

// MARK: - Helpers

/// Keys in runs of random length (as hour partitions of roughly ordered events come), drawn from
/// `distinct` values around an hour number, so some keys come back after others.
fileprivate func runKeys(_ n: Int, distinct: Int, maxRun: Int, _ g: inout SeededGenerator) -> [Int] {
    var keys: [Int] = []
    keys.reserveCapacity(n)
    while keys.count < n {
        let key = 481_000 + g.int(0...(distinct - 1))
        keys.append(contentsOf: repeatElement(key, count: min(g.int(1...maxRun), n - keys.count)))
    }
    return keys
}

/// The keys in order of their first row.
fileprivate func firstSeenOrder(_ keys: [Int]) -> [Int] {
    var seen = Set<Int>(), out: [Int] = []
    for k in keys where seen.insert(k).inserted { out.append(k) }
    return out
}

/// The bytes of a file holding `batch` (small pages, so parts span several).
fileprivate func fileBytes(_ batch: RowBatch) throws -> [UInt8] {
    var p = WriterProperties()
    p.dataPageRowLimit = 64
    let sink = MemorySink()
    let w = try ParquetWriter(schema: batch.schema, sink: sink, properties: p)
    try w.write(batch)
    try w.close()
    return sink.bytes
}

fileprivate func writeFile(_ batch: RowBatch, label: String) throws -> String {
    let dir = try TestEnvironment.temporaryDirectory(label)
    let path = dir.appendingPathComponent("\(label).parquet").path
    let w = try ParquetWriter(schema: batch.schema, sink: try FileSink(path: path))
    try w.write(batch)
    try w.close()
    return path
}

// MARK: - Tests

@Suite("Splitting a batch by a per-row key")
struct RowBatchSplitTests {
    /// Each part, written and read back by pyarrow, holds exactly the rows of its key in order,
    /// as pyarrow reads them from the whole batch written in one file.
    @Test(.enabled(if: readersAvailable), arguments: SplitCase.all)
    func partsReadBackAsTheirRows(_ c: SplitCase) throws {
        let seed: UInt64 = 0x5EED_0000 &+ UInt64(c.name.utf8.count)
        var g = SeededGenerator(seed: seed &* 31)
        let n = 700
        let keys = runKeys(n, distinct: 5, maxRun: 40, &g)
        let batch = c.batch(rows: 0..<n, seed: seed)
        try batch.validate()

        let whole = try ParquetReadback.values(path: try writeFile(batch, label: "split-whole"))["pyarrow"]
        let columns = try #require(whole?.columns), rows = try #require(whole?.rows)
        try #require(rows.count == n)

        let parts = batch.split(byRowKeys: keys)
        #expect(parts.map(\.key) == firstSeenOrder(keys))
        #expect(parts.reduce(0) { $0 + $1.batch.rowCount } == n)
        for (key, part) in parts {
            let mine = keys.indices.filter { keys[$0] == key }
            #expect(part.rowCount == mine.count, "key \(key)")
            try part.validate()
            let path = try writeFile(part, label: "split-part")
            let problems = try ParquetReadback.mismatches(path: path, columns: columns, expected: mine.map { rows[$0] },
                                                          readers: ["pyarrow"])
            #expect(problems.isEmpty, "\(c) key \(key):\n\(problems.prefix(10).joined(separator: "\n"))")
        }
    }

    /// Without readers: each part writes the same file as a batch filled with only its rows,
    /// for few and many keys (more than the linear-search limit), long runs and runs of one row.
    @Test(arguments: SplitCase.all)
    func partsEqualBatchesOfTheirRows(_ c: SplitCase) throws {
        let seed: UInt64 = 0xABCD_0000 &+ UInt64(c.name.utf8.count)
        var g = SeededGenerator(seed: seed &* 7)
        let n = 500
        let batch = c.batch(rows: 0..<n, seed: seed)
        for (distinct, maxRun) in [(2, 100), (5, 1), (13, 3), (40, 1)] {
            let keys = runKeys(n, distinct: distinct, maxRun: maxRun, &g)
            let parts = batch.split(byRowKeys: keys)
            #expect(parts.map(\.key) == firstSeenOrder(keys))
            for (key, part) in parts {
                let expected = c.batch(rows: keys.indices.filter { keys[$0] == key }, seed: seed)
                try part.validate()
                for i in part.columns.indices {
                    #expect(part.columns[i].rowCount == expected.columns[i].rowCount)
                    #expect(part.columns[i].levelCount == expected.columns[i].levelCount)
                    #expect(part.columns[i].valueCount == expected.columns[i].valueCount)
                    #expect(part.columns[i].byteCount == expected.columns[i].byteCount)
                }
                #expect(try fileBytes(part) == fileBytes(expected), "\(c) keys \(distinct)/\(maxRun) key \(key)")
            }
        }
    }

    /// Appending consecutive ranges of a batch, to an empty batch or to one already holding the
    /// first rows, reproduces it.
    @Test(arguments: SplitCase.all)
    func appendOfConsecutiveRangesReproducesTheBatch(_ c: SplitCase) throws {
        let seed: UInt64 = 0xFEED_0000 &+ UInt64(c.name.utf8.count)
        var g = SeededGenerator(seed: seed)
        let n = 400
        let batch = c.batch(rows: 0..<n, seed: seed)
        let reference = try fileBytes(batch)
        var cuts = [0, n]
        for _ in 0..<12 { cuts.append(g.int(0...n)) }
        cuts.sort()
        var rebuilt = RowBatch(c.schema)
        for (a, b) in zip(cuts, cuts.dropFirst()) { rebuilt.append(rowsOf: batch, a..<b) }  // empty ranges included
        #expect(rebuilt.rowCount == n)
        try rebuilt.validate()
        for i in batch.columns.indices {
            #expect(rebuilt.columns[i].levelCount == batch.columns[i].levelCount)
            #expect(rebuilt.columns[i].valueCount == batch.columns[i].valueCount)
            #expect(rebuilt.columns[i].byteCount == batch.columns[i].byteCount)
        }
        #expect(try fileBytes(rebuilt) == reference)

        var tail = c.batch(rows: 0..<150, seed: seed)
        tail.append(rowsOf: batch, 150..<n)
        #expect(try fileBytes(tail) == reference)
        // The parts of a split appended back in key order give the rows grouped by key.
        let keys = runKeys(n, distinct: 4, maxRun: 10, &g)
        var grouped = RowBatch(c.schema)
        for (_, part) in batch.split(byRowKeys: keys) { grouped.append(rowsOf: part, 0..<part.rowCount) }
        let order = firstSeenOrder(keys).flatMap { k in keys.indices.filter { keys[$0] == k } }
        #expect(try fileBytes(grouped) == fileBytes(c.batch(rows: order, seed: seed)))
    }

    @Test func singleKeyAndEmptyBatches() throws {
        let c = SplitCase.listOfStruct
        let batch = c.batch(rows: 0..<50, seed: 1)
        let parts = batch.split(byRowKeys: Array(repeating: 7, count: 50))
        #expect(parts.count == 1 && parts[0].key == 7)
        #expect(parts[0].batch.allocatedBytes == batch.allocatedBytes)
        #expect(try fileBytes(parts[0].batch) == fileBytes(batch))
        #expect(RowBatch(c.schema).split(byRowKeys: []).isEmpty)
        // Splitting a part again, and splitting one-row batches.
        let one = c.batch(rows: [3], seed: 1).split(byRowKeys: [9])
        #expect(one.count == 1 && one[0].batch.rowCount == 1)
    }

    /// An error recorded for a row moves with it: only its part is rejected, at the row's new index.
    @Test func errorsGoWithTheirRow() throws {
        let schema = try ParquetSchema([.optional("s", .string), .optional("tags", .list(.optional("element", .int8)))])
        var b = RowBatch(schema)
        for i in 0..<10 {
            if i == 6 { b.columns[0].appendBytes([0xFF, 0xFE]) } else { b.columns[0].appendString("r\(i)") }
            b.columns[1].appendInt32(Int32(i == 3 ? 300 : i), repetitionLevel: 0)
            b.columns[1].appendInt32(1, repetitionLevel: 1)
        }
        #expect(b.columns[0].error?.row == 6 && b.columns[1].error?.row == 3)
        let keys = [0, 1, 0, 1, 1, 0, 0, 2, 2, 0]  // row 6 is the 4th row of key 0, row 3 the 2nd of key 1
        let parts = b.split(byRowKeys: keys)
        #expect(parts.map(\.key) == [0, 1, 2])
        #expect(parts[0].batch.columns[0].error?.row == 3)
        #expect(parts[0].batch.columns[0].error?.code == .invalidUTF8)
        #expect(parts[0].batch.columns[1].error == nil)
        #expect(parts[1].batch.columns[1].error?.row == 1)
        #expect(parts[1].batch.columns[1].error?.code == .valueOutOfRange)
        #expect(parts[1].batch.columns[0].error == nil)
        #expect(throws: Never.self) { try parts[2].batch.validate() }
        #expect(throws: ParquetError.self) { try ParquetWriter(schema: schema, sink: MemorySink()).write(parts[0].batch) }

        var a = RowBatch(schema)
        a.append(rowsOf: b, 0..<3)
        #expect(a.columns[0].error == nil && a.columns[1].error == nil)
        a.append(rowsOf: b, 5..<8)
        #expect(a.columns[0].error?.row == 4)
        #expect(a.columns[1].error == nil)
    }
}
