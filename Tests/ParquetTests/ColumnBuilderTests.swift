import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Column builders")
struct ColumnBuilderTests {
    static func decimal(_ text: String, _ type: ParquetType = .decimal(precision: 12, scale: 2)) -> (ColumnBuilder, ParquetError?) {
        let schema = try! ParquetSchema([.optional("d", type)])
        var b = RowBatch(schema)
        var t = text
        t.withUTF8 { b.columns[0].appendDecimal(text: UnsafeRawBufferPointer($0)) }
        return (b.columns[0], b.columns[0].error)
    }

    @Test func decimalText() throws {
        let ok: [(String, Int64)] = [("12.5", 1250), ("-0.01", -1), ("+3", 300), ("1e3", 100_000), ("1.50e-1", 15),
                                     ("0.500", 50), ("9999999999.99", 999_999_999_999), ("000.10", 10)]
        for (text, unscaled) in ok {
            let (_, e) = Self.decimal(text)
            #expect(e == nil, "\(text)")
        }
        // Round-trip through a file to see the stored value.
        let schema = try ParquetSchema([.required("d", .decimal(precision: 12, scale: 2))])
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink)
        var b = w.makeBatch()
        for (text, _) in ok { var t = text; t.withUTF8 { b.columns[0].appendDecimal(text: UnsafeRawBufferPointer($0)) } }
        try w.write(b)
        let meta = try w.close()
        let st = try #require(meta.rowGroups[0].columns[0].metaData?.statistics)
        #expect(st.minValue == withUnsafeBytes(of: Int64(-1).littleEndian, Array.init))
        #expect(st.maxValue == withUnsafeBytes(of: Int64(999_999_999_999).littleEndian, Array.init))
        for bad in ["12.345", "1e-3", "abc", "", "-", "1.2.3", "10000000000.00", "1e", "12a"] {
            let (_, e) = Self.decimal(bad)
            #expect(e != nil, "\(bad)")
        }
        let (_, wide) = Self.decimal("-12345678901234567890.123456789", .decimal(precision: 38, scale: 9))
        #expect(wide == nil)
    }

    @Test func countsAndReuse() throws {
        let schema = try ParquetSchema([.optional("l", .list(.required("element", .int64))), .required("x", .string)])
        var b = RowBatch(schema)
        b.columns[0].appendInt64(1, repetitionLevel: 0)
        b.columns[0].appendInt64(2, repetitionLevel: 1)
        b.columns[0].appendNull(definitionLevel: 0)
        b.columns[1].appendString("a")
        b.columns[1].appendString("b")
        #expect(b.columns[0].rowCount == 2 && b.columns[0].levelCount == 3 && b.columns[0].valueCount == 2)
        #expect(b.rowCount == 2)
        try b.validate()
        b.removeAll()
        #expect(b.rowCount == 0 && b.columns[1].valueCount == 0)
    }

    @Test func emptyFileIsValid() throws {
        let schema = try ParquetSchema([.required("x", .int64), .optional("s", .string)])
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink)
        try w.write(w.makeBatch())
        let meta = try w.close()
        #expect(meta.numRows == 0 && meta.rowGroups.isEmpty)
        #expect(sink.isClosed)
        let parsed = try ParquetMetadataReader.read(bytes: sink.bytes)
        #expect(parsed.schema.count == 3)
        #expect(parsed.createdBy == LakewriterVersion.createdBy)
    }

    @Test(.enabled(if: readersAvailable)) func emptyFileReadsBack() throws {
        let schema = try ParquetSchema([.required("x", .int64), .optional("s", .string)])
        let path = try writeParquet(schema, label: "empty") { _, _ in }
        try expectReadBack(path, columns: ["x", "s"], [])
    }

    @Test func keyValueMetadataAndCreatedBy() throws {
        let schema = try ParquetSchema([.required("x", .int64)])
        var p = WriterProperties()
        p.keyValueMetadata = ["b": "2", "a": "1"]
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink, properties: p)
        w.setMetadata("c", "3")
        var b = w.makeBatch()
        b.columns[0].appendInt64(1)
        try w.write(b)
        try w.close()
        let meta = try ParquetMetadataReader.read(bytes: sink.bytes)
        #expect(meta.keyValueMetadata?.map(\.key) == ["a", "b", "c"])
        #expect(meta.keyValueMetadata?.map(\.value) == ["1", "2", "3"])
        // parquet-java's VersionParser form: "<app> version <semver> (build <id>)".
        let created = try #require(meta.createdBy)
        #expect(created.wholeMatch(of: /lakewriter version \d+\.\d+\.\d+ \(build [^)]+\)/) != nil)
    }
}
