@testable import LakeTools
import Foundation
import Parquet
import Testing
import TestSupport

/// `lakewriter inspect` on hostile footers: invalid counts and 100,000-deep schemas end in
/// an error and exit status 1; wide footers are listed up to the limits with `… N more`.
@Suite struct InspectLimitsTests {
    static func write(_ meta: FileMetaData, _ name: String) throws -> String {
        let footer = meta.thriftBytes()
        var bytes = Array("PAR1".utf8) + footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { bytes += $0 }
        bytes += Array("PAR1".utf8)
        let path = try TestEnvironment.temporaryDirectory("inspect-limits").path + "/\(name).parquet"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    static let leaf = SchemaElement(type: .int64, repetitionType: .optional, name: "x")
    static func group(_ name: String, _ n: Int32) -> SchemaElement {
        SchemaElement(repetitionType: .optional, name: name, numChildren: n)
    }

    func inspect(_ path: String, json: Bool = false) async -> (Int32, OutputBox) {
        let out = OutputBox()
        let code = await Commands.inspect(path: path, json: json, environment: [:], output: out.output)
        return (code, out)
    }

    @Test func negativeNumChildrenFailsCleanly() async throws {
        let path = try Self.write(FileMetaData(schema: [Self.group("schema", 1), Self.group("g", -1), Self.leaf],
                                               numRows: 0, rowGroups: []), "negative")
        let (code, out) = await inspect(path)
        #expect(code == Commands.Status.failure)
        #expect(out.err == "error: \(path): invalid footer: schema element 1 (g) has num_children -1\n")
        #expect(out.out.isEmpty)
    }

    @Test func groupsNested100kDeepFailCleanly() async throws {
        let schema = [Self.group("schema", 1)] + Array(repeating: Self.group("g", 1), count: 100_000) + [Self.leaf]
        let path = try Self.write(FileMetaData(schema: schema, numRows: 0, rowGroups: []), "deep")
        for json in [false, true] {
            let (code, out) = await inspect(path, json: json)
            #expect(code == Commands.Status.failure)
            #expect(out.err == "error: \(path): invalid footer: schema nested deeper than 128 levels at element 128 (g)\n")
        }
    }

    /// The report itself never trusts the footer either (it is public and takes any metadata).
    @Test func reportOfUnvalidatedMetadataIsBounded() {
        let deep = FileMetaData(schema: [Self.group("schema", 1)] + Array(repeating: Self.group("g", 1), count: 100_000) + [Self.leaf],
                                numRows: -1, rowGroups: [])
        let r = Inspector.report(deep, path: "deep", fileBytes: 0)
        #expect(r.schema.count == Inspector.Limits.schemaElements)
        #expect(r.schemaOmitted == 100_001 - Inspector.Limits.schemaElements)
        #expect(r.text.contains("  … 99001 more schema elements\n"))
        #expect(r.json.hasSuffix(",\"schema_omitted\":99001}"))
        for schema in [[Self.group("schema", -3), Self.leaf], [Self.group("schema", Int32.max), Self.group("g", -1), Self.leaf],
                       [Self.group("schema", 1), Self.group("g", Int32.min)], []] {
            let r = Inspector.report(FileMetaData(schema: schema, numRows: 0, rowGroups: []), path: "p", fileBytes: 0)
            #expect(r.schema.count <= schema.count)
            _ = r.text
            _ = r.json
        }
    }

    @Test func wideFootersAreListedUpToTheLimits() async throws {
        let columns = 1200
        let schema = [Self.group("schema", Int32(columns))]
            + (0..<columns).map { SchemaElement(type: .int64, repetitionType: .optional, name: "c\($0)") }
        let chunks = (0..<columns).map { c in
            ColumnChunk(metaData: ColumnMetaData(type: .int64, encodings: [.plain], pathInSchema: ["c\(c)"], codec: .uncompressed,
                                                 numValues: 1, totalUncompressedSize: 10, totalCompressedSize: 10, dataPageOffset: 4))
        }
        // The first row group has every column; the other 149 one each.
        let groups = [RowGroup(columns: chunks, totalByteSize: 10, numRows: 1)]
            + (1..<150).map { _ in RowGroup(columns: [chunks[0]], totalByteSize: 10, numRows: 1) }
        let kv = (0..<150).map { KeyValue(key: "k\($0)", value: String(repeating: "v", count: 5000)) }
        let path = try Self.write(FileMetaData(schema: schema, numRows: 150, rowGroups: groups, keyValueMetadata: kv), "wide")

        let (code, out) = await inspect(path)
        #expect(code == Commands.Status.ok, "\(out.err)")
        let text = out.out
        #expect(text.contains("rows: 150, row groups: 150, format version: 1\n"))
        #expect(text.contains("  … 200 more schema elements\n"))
        #expect(text.contains("  c999: UNCOMPRESSED [PLAIN] 10/10 bytes, 1 values\n  … 200 more columns\nrow group 1:"))
        #expect(text.contains("… 50 more row groups\n"))
        #expect(text.contains("  … 50 more entries\n"))
        #expect(text.contains("  k0 = \(String(repeating: "v", count: 200))… (5000 bytes)\n"))
        #expect(!text.contains("row group 100:"))
        #expect(text.utf8.count < 10_000_000)

        let (jcode, jout) = await inspect(path, json: true)
        #expect(jcode == Commands.Status.ok)
        #expect(jout.out.hasSuffix(",\"schema_omitted\":200,\"row_groups_omitted\":50,\"columns_omitted\":200,\"key_value_omitted\":50}\n"))
        let parsed = try JSONSerialization.jsonObject(with: Data(jout.out.utf8)) as? [String: Any]
        #expect((parsed?["row_groups"] as? [Any])?.count == Inspector.Limits.rowGroups)
    }

    @Test func hostileStatisticsDisplay() {
        let decimal = SchemaElement(type: .fixedLenByteArray, typeLength: 16, repetitionType: .optional, name: "d",
                                    logicalType: .decimal(scale: Int32.max, precision: 38))
        let minInt128 = [0x80] + [UInt8](repeating: 0, count: 15)
        #expect(Inspector.display(minInt128, decimal) == "-170141183460469231731687303715884105728e-2147483647")
        let negativeScale = SchemaElement(type: .int64, name: "n", logicalType: .decimal(scale: -3, precision: 10))
        #expect(Inspector.display([0x7B, 0, 0, 0, 0, 0, 0, 0], negativeScale) == "123e3")
        let normal = SchemaElement(type: .fixedLenByteArray, typeLength: 16, name: "d", logicalType: .decimal(scale: 2, precision: 38))
        #expect(Inspector.display(minInt128, normal) == "-1701411834604692317316873037158841057.28")
        #expect(Inspector.display([UInt8](repeating: 1, count: 40), normal).hasPrefix("0x0101"))
        let ts = SchemaElement(type: .int64, name: "t", logicalType: .timestamp(isAdjustedToUTC: true, unit: .nanos))
        let time = SchemaElement(type: .int64, name: "t", logicalType: .time(isAdjustedToUTC: false, unit: .micros))
        let date = SchemaElement(type: .int32, name: "t", logicalType: .date)
        for v in [Int64.min, Int64.max, -1, 0] {
            let b = withUnsafeBytes(of: v.littleEndian) { Array($0) }
            _ = Inspector.display(b, ts)
            _ = Inspector.display(b, time)
            _ = Inspector.display(Array(b[0..<4]), date)
        }
    }

    /// Seeded mutations of a real footer, read and reported in text and JSON: every case is
    /// an error or a report whose output stays bounded.
    @Test func mutatedFootersNeverCrashTheInspector() throws {
        let schema = try ParquetSchema([
            .required("id", .int64), .optional("name", .string),
            .optional("d", .decimal(precision: 12, scale: 2)),
            .optional("tags", .list(.optional("element", .string))),
            .optional("attrs", .map(key: .required("key", .string), value: .optional("value", .int64))),
        ])
        let dir = try TestEnvironment.temporaryDirectory("inspect-fuzz").path
        let path = dir + "/real.parquet"
        let writer = try ParquetWriter(schema: schema, sink: try FileSink(path: path), properties: WriterProperties())
        var batch = writer.makeBatch()
        for i in 0..<40 {
            batch.columns[0].appendInt64(Int64(i))
            batch.columns[1].appendString("n\(i)")
            batch.columns[2].appendNull()
            batch.columns[3].appendString("t", repetitionLevel: 0)
            batch.columns[4].appendString("k", repetitionLevel: 0)
            batch.columns[5].appendInt64(Int64(i), repetitionLevel: 0)
        }
        try writer.write(batch)
        try writer.close()
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let length = original[(original.count - 8)..<(original.count - 4)].withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        let start = original.count - 8 - length
        let footer = Array(original[start..<(original.count - 8)])
        #expect(Inspector.report(try ParquetMetadataReader.read(bytes: original), path: "p", fileBytes: 0).schema.count == 10)

        var rng = SeededGenerator(seed: Fuzz.seed(0x1A5E_C7))
        var outcomes = (reports: 0, errors: 0)
        for _ in 0..<Fuzz.cases(1500) {
            var f = footer
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                let at = Int.random(in: 0..<f.count, using: &rng)
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: f[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: f[at] ^= 1 << UInt8.random(in: 0...7, using: &rng)
                case 2: f.insert(contentsOf: f[at..<min(f.count, at + Int.random(in: 1...48, using: &rng))], at: at)
                default: f.replaceSubrange(at..<min(f.count, at + 2), with: [0xFF, 0xFF, 0xFF, 0xFF, 0x07])
                }
            }
            // The report is built from whatever decodes, validated by the reader or not.
            let candidates: [FileMetaData?] = [
                try? ParquetMetadataReader.read(bytes: Array(original[0..<start]) + f
                    + withUnsafeBytes(of: UInt32(f.count).littleEndian) { Array($0) } + Array("PAR1".utf8)),
                try? FileMetaData(thriftBytes: f),
            ]
            for meta in candidates {
                guard let meta else { outcomes.errors += 1; continue }
                let r = Inspector.report(meta, path: "p", fileBytes: Int64(original.count))
                #expect(r.schema.count <= Inspector.Limits.schemaElements)
                #expect(r.text.utf8.count < 2_000_000)
                _ = r.json
                outcomes.reports += 1
            }
        }
        #expect(outcomes.reports > 200 && outcomes.errors > 200, "\(outcomes)")
    }
}
