import Foundation
import Testing
import TestSupport
@testable import Parquet

/// Hand-built hostile footers (negative and overlong counts, 100,000-deep schemas and Thrift
/// structs, huge list and map sizes) and mutated real footers: the reader returns metadata or
/// throws a ``ParquetReadError``, never traps.
@Suite struct MalformedFooterTests {
    /// A whole file around `footer`: magic, the footer, its length, magic (no data is needed).
    static func file(_ footer: [UInt8], length: Int? = nil) -> [UInt8] {
        var bytes = Array("PAR1".utf8) + footer
        withUnsafeBytes(of: UInt32(truncatingIfNeeded: length ?? footer.count).littleEndian) { bytes += $0 }
        return bytes + Array("PAR1".utf8)
    }

    static func file(schema: [SchemaElement], numRows: Int64 = 0, rowGroups: [RowGroup] = []) -> [UInt8] {
        file(FileMetaData(schema: schema, numRows: numRows, rowGroups: rowGroups).thriftBytes())
    }

    static let leaf = SchemaElement(type: .int64, repetitionType: .optional, name: "x")

    static func group(_ name: String = "g", _ n: Int32) -> SchemaElement {
        SchemaElement(repetitionType: .optional, name: name, numChildren: n)
    }

    func footerProblem(_ bytes: [UInt8]) -> String? {
        do {
            _ = try ParquetMetadataReader.read(bytes: bytes)
            return nil
        } catch let ParquetReadError.invalidFooter(problem) {
            return problem
        } catch {
            return "other: \(error)"
        }
    }

    @Test func negativeNumChildrenIsAnError() {
        #expect(footerProblem(Self.file(schema: [Self.group("schema", 1), Self.group("g", -1), Self.leaf]))
            == "schema element 1 (g) has num_children -1")
        #expect(footerProblem(Self.file(schema: [Self.group("schema", -5), Self.leaf])) == "schema element 0 (schema) has num_children -5")
        #expect(footerProblem(Self.file(schema: [Self.group("schema", Int32.min)])) == "schema element 0 (schema) has num_children -2147483648")
    }

    @Test func numChildrenPastTheElementsIsAnError() {
        #expect(footerProblem(Self.file(schema: [Self.group("schema", Int32.max), Self.leaf]))
            == "schema element 0 (schema) has num_children 2147483647 but 1 elements follow")
        #expect(footerProblem(Self.file(schema: [Self.group("schema", 2), Self.group("g", 1), Self.leaf]))
            == "the schema ends inside a group: 1 more elements expected")
        #expect(footerProblem(Self.file(schema: [Self.group("schema", 1), Self.leaf, Self.leaf]))
            == "1 schema elements after the root's 1 children")
        #expect(footerProblem(Self.file(schema: [])) == "the schema is empty")
        // A consistent schema reads.
        #expect(footerProblem(Self.file(schema: [Self.group("schema", 2), Self.group("g", 1), Self.leaf, Self.leaf])) == nil)
    }

    @Test func groupsNested100kDeepAreRefused() {
        let deep = [Self.group("schema", 1)] + Array(repeating: Self.group("g", 1), count: 100_000) + [Self.leaf]
        #expect(footerProblem(Self.file(schema: deep)) == "schema nested deeper than 128 levels at element 128 (g)")
        let limit = [Self.group("schema", 1)] + Array(repeating: Self.group("g", 1), count: 127) + [Self.leaf]
        #expect(footerProblem(Self.file(schema: limit)) == nil)
        let past = [Self.group("schema", 1)] + Array(repeating: Self.group("g", 1), count: 128) + [Self.leaf]
        #expect(footerProblem(Self.file(schema: past)) != nil)
    }

    @Test func negativeRowAndValueCountsAreErrors() {
        let schema = [Self.group("schema", 1), Self.leaf]
        #expect(footerProblem(Self.file(schema: schema, numRows: -1)) == "num_rows -1")
        let badGroup = RowGroup(columns: [], totalByteSize: 0, numRows: -3)
        #expect(footerProblem(Self.file(schema: schema, rowGroups: [badGroup]))?.hasPrefix("row group 0 has num_rows -3") == true)
        let chunk = ColumnChunk(metaData: ColumnMetaData(type: .int64, encodings: [.plain], pathInSchema: ["x"], codec: .uncompressed,
                                                         numValues: -7, totalUncompressedSize: 10, totalCompressedSize: 10,
                                                         dataPageOffset: 4))
        let rg = RowGroup(columns: [chunk], totalByteSize: 10, numRows: 1)
        #expect(footerProblem(Self.file(schema: schema, rowGroups: [rg]))?.hasPrefix("row group 0 column 0 has num_values -7") == true)
    }

    /// FileMetaData with an unknown struct field (id 100) holding structs nested `depth` deep.
    static func nestedStructFooter(depth: Int) -> [UInt8] {
        var b: [UInt8] = [0x0C, 0xC8, 0x01] // field 100, struct (long form: zigzag 100 = 200)
        b += Array(repeating: 0x1C, count: depth) // field +1, struct
        b += Array(repeating: 0x00, count: depth + 1) // stops
        return b + [0x00]
    }

    @Test func thriftStructsNested100kDeepAreRefused() {
        for depth in [100, 100_000] {
            #expect {
                try ParquetMetadataReader.read(bytes: Self.file(Self.nestedStructFooter(depth: depth)))
            } throws: { error in
                guard case let ParquetReadError.invalidThrift(what, e) = error else { return false }
                return what == "footer" && e.code == .tooDeep
            }
        }
        // Within the limit the struct is skipped; the footer then lacks its required fields.
        #expect {
            try ParquetMetadataReader.read(bytes: Self.file(Self.nestedStructFooter(depth: 10)))
        } throws: { error in
            guard case let ParquetReadError.invalidThrift(_, e) = error else { return false }
            return e.code == .missingField
        }
    }

    @Test func hugeListAndMapSizesAreErrors() {
        // FileMetaData.schema (field 2, list) of struct with a size of 2^31 - 1.
        let list: [UInt8] = [0x15, 0x02, 0x29, 0xFF, 0xC9, 0xFF, 0xFF, 0xFF, 0x07, 0x00]
        // field 1 i32 version = 1, then field 2 list header: 0xF? (15 = long size) with struct type 0xC.
        let footer: [UInt8] = [0x15, 0x02, 0x19, 0xFC, 0xFF, 0xFF, 0xFF, 0xFF, 0x07] + [0x00]
        for f in [list, footer] {
            #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.read(bytes: Self.file(f)) }
        }
        // An unknown map field (id 100) claiming 2^31 - 1 entries of i32 → i32.
        let map: [UInt8] = [0x0B, 0xC8, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x07, 0x55, 0x00]
        #expect {
            try ParquetMetadataReader.read(bytes: Self.file(map))
        } throws: { error in
            guard case let ParquetReadError.invalidThrift(_, e) = error else { return false }
            return e.code == .truncated || e.code == .negativeLength
        }
        // Lengths past Int32 and varints past 64 bits.
        let long: [UInt8] = [0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.read(bytes: Self.file(long)) }
    }

    @Test func footerLengthIsCheckedAgainstTheFile() {
        let footer = FileMetaData(schema: [Self.group("schema", 1), Self.leaf], numRows: 0, rowGroups: []).thriftBytes()
        for length in [footer.count + 1, footer.count + 5, Int(UInt32.max), 0] {
            let bytes = Self.file(footer, length: length)
            #expect(throws: ParquetReadError.badFooterLength(length: length, fileSize: bytes.count)) {
                try ParquetMetadataReader.read(bytes: bytes)
            }
        }
        // Shorter than the footer: the tail of the footer is read as a footer and fails to decode or validate.
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.read(bytes: Self.file(footer, length: footer.count - 3)) }
    }

    /// A real file from ``ParquetWriter`` (nested columns, statistics, two row groups): its footer.
    static func realFooter() throws -> (file: [UInt8], footerStart: Int, footer: [UInt8]) {
        let schema = try ParquetSchema([
            .required("id", .int64), .optional("name", .string),
            .optional("tags", .list(.optional("element", .string))),
            .optional("item", .structure([.required("sku", .string), .optional("qty", .int32)])),
            .optional("attrs", .map(key: .required("key", .string), value: .optional("value", .int64))),
        ])
        var properties = WriterProperties()
        properties.maxRowGroupRows = 50
        properties.keyValueMetadata = ["k": "v", "lakewriter.test": "malformed"]
        let dir = try TestEnvironment.temporaryDirectory("malformed-footer")
        let path = dir.appendingPathComponent("real.parquet").path
        let writer = try ParquetWriter(schema: schema, sink: try FileSink(path: path), properties: properties)
        var batch = writer.makeBatch()
        for half in 0..<2 {
            for i in (half * 50)..<(half * 50 + 50) {
                batch.columns[0].appendInt64(Int64(i))
                if i % 3 == 0 { batch.columns[1].appendNull() } else { batch.columns[1].appendString("n\(i)") }
                if i % 2 == 0 {
                    batch.columns[2].appendString("t\(i)", repetitionLevel: 0)
                    batch.columns[3].appendString("sku\(i)")
                    batch.columns[4].appendInt32(Int32(i))
                    batch.columns[5].appendString("k", repetitionLevel: 0)
                    batch.columns[6].appendInt64(Int64(-i), repetitionLevel: 0)
                } else {
                    for c in 2...6 { batch.columns[c].appendNull(definitionLevel: 0) }
                }
            }
            try writer.write(batch)
            batch.removeAll()
        }
        try writer.close()
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let length = bytes[(bytes.count - 8)..<(bytes.count - 4)].withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        let start = bytes.count - 8 - length
        return (bytes, start, Array(bytes[start..<(bytes.count - 8)]))
    }

    /// Seeded mutations of a real footer: bytes flipped, inserted, removed, repeated, and varints
    /// replaced by huge or negative values; the length sometimes wrong. Every case reads or throws.
    @Test func mutatedRealFootersNeverCrash() throws {
        let (original, start, footer) = try Self.realFooter()
        #expect(try ParquetMetadataReader.read(bytes: original).schema.count > 5)
        let data = Array(original[0..<start])
        var rng = SeededGenerator(seed: Fuzz.seed(0xF00F_E12))
        var outcomes = (read: 0, invalidFooter: 0, thrift: 0, other: 0)
        let varints: [[UInt8]] = [[0x01], [0x7F], [0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0xFE, 0xFF, 0xFF, 0xFF, 0x0F],
                                  [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80]]
        let meta = try FileMetaData(thriftBytes: footer)
        let counts: [Int32] = [-1, 0, 1, 2, 3, 7, 1000, Int32.max, Int32.min]
        for n in 0..<Fuzz.cases(3000) {
            var f = footer
            if n % 3 == 0 {
                // Structured: counts and the schema list changed, re-encoded as valid Thrift.
                var m = meta
                for _ in 0..<Int.random(in: 1...3, using: &rng) {
                    let i = Int.random(in: 0..<m.schema.count, using: &rng)
                    switch Int.random(in: 0..<5, using: &rng) {
                    case 0: m.schema[i].numChildren = counts.randomElement(using: &rng)!
                    case 1: m.schema.remove(at: i)
                    case 2: m.schema.insert(m.schema[i], at: i)
                    case 3: m.numRows = Int64(counts.randomElement(using: &rng)!)
                    default:
                        let g = Int.random(in: 0..<m.rowGroups.count, using: &rng)
                        m.rowGroups[g].numRows = Int64(counts.randomElement(using: &rng)!)
                        m.rowGroups[g].columns[0].metaData?.numValues = Int64(counts.randomElement(using: &rng)!)
                    }
                    if m.schema.isEmpty { m.schema = meta.schema }
                }
                f = m.thriftBytes()
            }
            for _ in 0..<Int.random(in: n % 3 == 0 ? 0...0 : 1...4, using: &rng) {
                let at = Int.random(in: 0..<f.count, using: &rng)
                switch Int.random(in: 0..<7, using: &rng) {
                case 0: f[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: f[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                case 2: f.insert(UInt8.random(in: 0...255, using: &rng), at: at)
                case 3: if f.count > 1 { f.remove(at: at) }
                case 4:
                    let end = min(f.count, at + Int.random(in: 1...64, using: &rng))
                    f.insert(contentsOf: f[at..<end], at: at)
                case 5:
                    f.replaceSubrange(at..<min(f.count, at + Int.random(in: 1...3, using: &rng)),
                                      with: varints.randomElement(using: &rng)!)
                default:
                    f.removeSubrange(at..<min(f.count, at + Int.random(in: 1...32, using: &rng)))
                }
            }
            var bytes = data + f
            let length = Int.random(in: 0..<10, using: &rng) == 0 ? Int.random(in: 0...(f.count * 2), using: &rng) : f.count
            withUnsafeBytes(of: UInt32(length).littleEndian) { bytes += $0 }
            bytes += Array("PAR1".utf8)
            do {
                let meta = try ParquetMetadataReader.read(bytes: bytes)
                try ParquetMetadataReader.validate(meta)
                outcomes.read += 1
            } catch ParquetReadError.invalidFooter {
                outcomes.invalidFooter += 1
            } catch ParquetReadError.invalidThrift {
                outcomes.thrift += 1
            } catch {
                #expect(error is ParquetReadError, "\(error)")
                outcomes.other += 1
            }
        }
        #expect(outcomes.read > 100 && outcomes.thrift > 100 && outcomes.invalidFooter > 300, "\(outcomes)")
    }
}
