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

    @Test func writeInStepsHandsOverOneRowGroupPerCall() throws {
        let schema = try ParquetSchema([
            .required("n", .int64), .optional("s", .string), .optional("tags", .list(.optional("e", .string))),
        ])
        var p = WriterProperties()
        p.maxRowGroupRows = 1000
        var batch = RowBatch(schema)
        for i in 0..<4500 {
            batch.columns[0].appendInt64(Int64(i))
            if i % 7 == 0 { batch.columns[1].appendNull() } else { batch.columns[1].appendString("s\(i % 13)") }
            // Lists of 0 to 2 elements, so level and value positions differ between columns.
            let c = 2
            switch i % 3 {
            case 0: batch.columns[c].appendNull(definitionLevel: 0)
            case 1: batch.columns[c].appendString("a\(i)")
            default:
                batch.columns[c].appendString("b")
                batch.columns[c].appendString("c\(i)", repetitionLevel: 1)
            }
        }
        // The same batch in one call, for comparison.
        let whole = MemorySink()
        let w1 = try ParquetWriter(schema: schema, sink: whole, properties: p)
        try w1.write(batch)
        try w1.close()

        let sink = CountingSink()
        let w2 = try ParquetWriter(schema: schema, sink: sink, properties: p)
        var cursor = RowBatchCursor()
        var sizes: [Int] = []
        var done = false
        while !done {
            done = try w2.write(batch, from: &cursor)
            sizes.append(sink.bytes.count)
        }
        // Four full row groups each left in their own call; the last 500 rows wait for close().
        #expect(sizes.count == 5)
        #expect(sizes[0] > 4 && sizes[3] > sizes[2] && sizes[4] == sizes[3])
        #expect(cursor.rowsWritten == 4500)
        let meta = try w2.close()
        #expect(meta.rowGroups.map(\.numRows) == [1000, 1000, 1000, 1000, 500])
        #expect(sink.bytes == whole.bytes)

        let path = try TestEnvironment.temporaryDirectory("steps").appendingPathComponent("steps.parquet").path
        try Data(sink.bytes).write(to: URL(fileURLWithPath: path))
        let md = try ParquetReadback.metadata(path: path)
        #expect(md.num_rows == 4500 && md.num_row_groups == 5)
    }

    @Test func writeInStepsValidatesBeforeWritingAnything() throws {
        let schema = try ParquetSchema([.required("n", .int64)])
        var p = WriterProperties()
        p.maxRowGroupRows = 10
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink, properties: p)
        var batch = RowBatch(schema)
        for i in 0..<30 { batch.columns[0].appendInt64(Int64(i)) }
        batch.columns[0].appendNull()  // a null in a required column: the whole batch is refused
        var cursor = RowBatchCursor()
        #expect(throws: ParquetError.self) { _ = try w.write(batch, from: &cursor) }
        #expect(sink.bytes.count == 4 && cursor.rowsWritten == 0)  // only the magic
    }
}

