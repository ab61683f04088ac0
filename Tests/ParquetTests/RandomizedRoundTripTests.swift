import Foundation
import Parquet
import Testing
import TestSupport

/// Random schemas (nesting up to three levels) and random rows, shredded into levels
/// by a small reference implementation of the Dremel algorithm in the test, written
/// with random writer settings and read back by pyarrow.
@Suite("Randomized schemas and rows round-tripped through pyarrow", .enabled(if: readersAvailable))
struct RandomizedRoundTripTests {
    indirect enum Value {
        case null
        case leaf(ReadbackValue, (inout ColumnBuilder, Int) -> Void)
        case list([Value])
        case object([Value])
        case map([(String, Value)])
    }

    static let leafTypes: [ParquetType] = [
        .boolean, .int32, .int64, .double, .string, .binary, .decimal(precision: 10, scale: 2), .date, .uuid,
        .decimal(precision: 30, scale: 5), .uint32,
    ]

    static func randomField(_ name: String, depth: Int, _ g: inout SeededGenerator) -> ParquetField {
        let optional = Bool.random(using: &g)
        let roll = Int.random(in: 0..<100, using: &g)
        if depth < 3 && roll < 15 {
            return ParquetField(name: name, isOptional: optional,
                                type: .list(randomField("element", depth: depth + 1, &g)))
        }
        if depth < 3 && roll < 30 {
            let n = Int.random(in: 1...3, using: &g)
            return ParquetField(name: name, isOptional: optional,
                                type: .structure((0..<n).map { randomField("f\($0)", depth: depth + 1, &g) }))
        }
        if depth < 3 && roll < 38 {
            return ParquetField(name: name, isOptional: optional,
                                type: .map(key: .required("key", .string), value: randomField("value", depth: depth + 1, &g)))
        }
        return ParquetField(name: name, isOptional: optional, type: leafTypes.randomElement(using: &g)!)
    }

    static func randomLeaf(_ t: ParquetType, _ g: inout SeededGenerator) -> Value {
        switch t {
        case .boolean:
            let v = Bool.random(using: &g)
            return .leaf(.string(v ? "true" : "false")) { $0.appendBool(v, repetitionLevel: $1) }
        case .int32:
            let v = Int32.random(in: .min ... .max, using: &g)
            return .leaf(.s(v)) { $0.appendInt32(v, repetitionLevel: $1) }
        case .uint32:
            let v = UInt32.random(in: .min ... .max, using: &g)
            return .leaf(.s(v)) { $0.appendInt64(Int64(v), repetitionLevel: $1) }
        case .int64:
            let v = Int64.random(in: .min ... .max, using: &g)
            return .leaf(.s(v)) { $0.appendInt64(v, repetitionLevel: $1) }
        case .double:
            let v = Double(Int.random(in: -100_000...100_000, using: &g)) / 8
            return .leaf(.string("\(v)")) { $0.appendDouble(v, repetitionLevel: $1) }
        case .string:
            let alphabet = Array("abcxyz012 é✓-")
            let s = String((0..<Int.random(in: 0...12, using: &g)).map { _ in alphabet.randomElement(using: &g)! })
            return .leaf(.string(s)) { $0.appendString(s, repetitionLevel: $1) }
        case .binary:
            let b = (0..<Int.random(in: 0...6, using: &g)).map { _ in UInt8.random(in: 0...255, using: &g) }
            return .leaf(.string(hex(b))) { $0.appendBytes(b, repetitionLevel: $1) }
        case .uuid:
            let b = (0..<16).map { _ in UInt8.random(in: 0...255, using: &g) }
            return .leaf(.string(hex(b))) { col, r in b.withUnsafeBytes { col.appendFixed($0, repetitionLevel: r) } }
        case .decimal(let p, let s):
            var limit: Int128 = 1
            for _ in 0..<p { limit *= 10 }
            let v = Int128(Int64.random(in: .min ... .max, using: &g)) * Int128(Int32.random(in: .min ... .max, using: &g)) % limit
            return .leaf(.string(decimalText(v, scale: s))) { $0.appendDecimal(unscaled: v, repetitionLevel: $1) }
        case .date:
            let v = Int64.random(in: -30000...30000, using: &g)
            return .leaf(.string(TypesInteropTests.day(v))) { $0.appendInt64(v, repetitionLevel: $1) }
        default:
            fatalError("unused leaf type")
        }
    }

    static func randomValue(_ f: ParquetField, _ g: inout SeededGenerator) -> Value {
        if f.isOptional && Int.random(in: 0..<5, using: &g) == 0 { return .null }
        switch f.type {
        case .list(let e):
            return .list((0..<Int.random(in: 0...3, using: &g)).map { _ in randomValue(e, &g) })
        case .structure(let children):
            return .object(children.map { randomValue($0, &g) })
        case .map(_, let v):
            return .map((0..<Int.random(in: 0...3, using: &g)).map { ("k\($0)", randomValue(v, &g)) })
        default:
            return randomLeaf(f.type, &g)
        }
    }

    static func leafCount(_ f: ParquetField) -> Int {
        switch f.type {
        case .list(let e): return leafCount(e)
        case .structure(let c): return c.reduce(0) { $0 + leafCount($1) }
        case .map(_, let v): return 1 + leafCount(v)
        default: return 1
        }
    }

    /// Dremel shredding: `def` counts present optional/repeated ancestors, `rep` is the level
    /// to emit for the first entry, `depth` the number of repeated ancestors.
    static func shred(_ f: ParquetField, _ v: Value, def: Int, rep: Int, depth: Int,
                      columns: inout [ColumnBuilder], at leaf: Int) {
        if case .null = v {
            for i in leaf..<(leaf + leafCount(f)) { columns[i].appendNull(definitionLevel: def, repetitionLevel: rep) }
            return
        }
        let d = f.isOptional ? def + 1 : def
        switch (f.type, v) {
        case (.list(let e), .list(let items)):
            if items.isEmpty {
                for i in leaf..<(leaf + leafCount(e)) { columns[i].appendNull(definitionLevel: d, repetitionLevel: rep) }
            }
            for (k, item) in items.enumerated() {
                shred(e, item, def: d + 1, rep: k == 0 ? rep : depth + 1, depth: depth + 1, columns: &columns, at: leaf)
            }
        case (.structure(let children), .object(let values)):
            var l = leaf
            for (c, cv) in zip(children, values) {
                shred(c, cv, def: d, rep: rep, depth: depth, columns: &columns, at: l)
                l += leafCount(c)
            }
        case (.map(let kf, let vf), .map(let entries)):
            if entries.isEmpty {
                for i in leaf..<(leaf + 1 + leafCount(vf)) { columns[i].appendNull(definitionLevel: d, repetitionLevel: rep) }
            }
            for (k, (key, value)) in entries.enumerated() {
                let r = k == 0 ? rep : depth + 1
                shred(kf, randomKey(key), def: d + 1, rep: r, depth: depth + 1, columns: &columns, at: leaf)
                shred(vf, value, def: d + 1, rep: r, depth: depth + 1, columns: &columns, at: leaf + 1)
            }
        case (_, .leaf(_, let append)):
            append(&columns[leaf], rep)
        default:
            fatalError("value does not match field")
        }
    }

    static func randomKey(_ k: String) -> Value { .leaf(.string(k)) { $0.appendString(k, repetitionLevel: $1) } }

    static func normalized(_ v: Value) -> ReadbackValue {
        switch v {
        case .null: return nil
        case .leaf(let r, _): return r
        case .list(let items): return .list(items.map(normalized))
        case .object: fatalError("handled with names")
        case .map(let entries): return .list(entries.map { .list([.string($0.0), normalized($0.1)]) })
        }
    }

    static func normalized(_ f: ParquetField, _ v: Value) -> ReadbackValue {
        switch (f.type, v) {
        case (_, .null): return nil
        case (.structure(let children), .object(let values)):
            var o: [String: ReadbackValue] = [:]
            for (c, cv) in zip(children, values) { o[c.name] = normalized(c, cv) }
            return .object(o)
        case (.list(let e), .list(let items)): return .list(items.map { normalized(e, $0) })
        case (.map(_, let vf), .map(let entries)):
            return .list(entries.map { .list([.string($0.0), normalized(vf, $0.1)]) })
        default: return normalized(v)
        }
    }

    @Test(arguments: Array(UInt64(1)...UInt64(7)))
    func roundTrip(seed: UInt64) throws {
        var g = SeededGenerator(seed: seed &* 0x1234_5678_9ABC)
        let fields = (0..<Int.random(in: 1...6, using: &g)).map { Self.randomField("c\($0)", depth: 0, &g) }
        let schema = try ParquetSchema(fields)
        var p = WriterProperties()
        p.dictionaryEnabled = Bool.random(using: &g)
        p.dataPageVersion = Bool.random(using: &g) ? .v1 : .v2
        p.compression = [Compression.uncompressed, .snappy, .zstd(level: 1), .gzip(level: 1), .lz4Raw].randomElement(using: &g)!
        p.dataPageRowLimit = Int.random(in: 1...200, using: &g)
        p.maxRowGroupRows = Int.random(in: 50...1000, using: &g)
        p.dictionaryPageSizeLimit = Int.random(in: 64...4096, using: &g)
        var expected: [[ReadbackValue]] = []
        let rowsPerBatch = Int.random(in: 1...300, using: &g)
        let path = try writeParquet(schema, properties: p, label: "random\(seed)", batches: 3) { _, b in
            for _ in 0..<rowsPerBatch {
                var row: [ReadbackValue] = []
                var leaf = 0
                for f in fields {
                    let v = Self.randomValue(f, &g)
                    Self.shred(f, v, def: 0, rep: 0, depth: 0, columns: &b.columns, at: leaf)
                    leaf += Self.leafCount(f)
                    row.append(Self.normalized(f, v))
                }
                expected.append(row)
            }
        }
        let problems = try ParquetReadback.mismatches(path: path, columns: fields.map(\.name), expected: expected,
                                                      readers: ["pyarrow"])
        #expect(problems.isEmpty, "seed \(seed) schema \(fields): \(problems.prefix(5))")
    }
}
