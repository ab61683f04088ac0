import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Row groups stream to the sink as they complete")
struct StreamingTests {
    /// Counts what reaches the sink, to see row groups leave before close().
    final class CountingSink: ParquetSink {
        var bytes: [UInt8] = []
        var writes = 0
        func write(_ b: UnsafeRawBufferPointer) throws { bytes.append(contentsOf: b); writes += 1 }
        func close() throws {}
    }

    @Test func rowGroupsLeaveBeforeClose() throws {
        let schema = try ParquetSchema([.required("n", .int64), .optional("s", .string)])
        var p = WriterProperties()
        p.maxRowGroupRows = 1000
        let sink = CountingSink()
        let w = try ParquetWriter(schema: schema, sink: sink, properties: p)
        var b = w.makeBatch()
        for i in 0..<2500 { b.columns[0].appendInt64(Int64(i)); b.columns[1].appendString("s\(i % 10)") }
        try w.write(b)
        // Two full row groups are in the sink already; the third waits for more rows or close().
        #expect(sink.bytes.count > 4 && sink.bytes.count == Int(w.bytesWritten))
        let before = sink.bytes.count
        let meta = try w.close()
        #expect(meta.rowGroups.map(\.numRows) == [1000, 1000, 500])
        #expect(sink.bytes.count > before)
        #expect(meta.rowGroups[1].fileOffset ?? 0 < Int64(before))
    }

    @Test func rowGroupsCutByBytes() throws {
        let schema = try ParquetSchema([.required("s", .string)])
        var p = WriterProperties()
        p.maxRowGroupBytes = 200_000
        p.dictionaryEnabled = false
        p.compression = .uncompressed
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink, properties: p)
        var b = w.makeBatch()
        let payload = String(repeating: "x", count: 100)
        for _ in 0..<3 {
            for i in 0..<3000 { b.columns[0].appendString("\(i)-\(payload)") }
            try w.write(b)
            b.removeAll()
        }
        let meta = try w.close()
        #expect(meta.rowGroups.count >= 3)
        #expect(meta.rowGroups.reduce(0) { $0 + $1.numRows } == 9000)
        for g in meta.rowGroups.dropLast() { #expect(g.totalCompressedSize ?? 0 >= 200_000) }
        #expect(try ParquetMetadataReader.read(bytes: sink.bytes).numRows == 9000)
    }
}
