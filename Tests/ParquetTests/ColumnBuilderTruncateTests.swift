import Parquet
import Testing

@Suite("Taking rows back from a batch")
struct ColumnBuilderTruncateTests {
    static let schema = try! ParquetSchema([
        .required("id", .int64),
        .optional("name", .string),
        .optional("tags", .list(.optional("element", .string))),
        .optional("pair", .structure([.optional("a", .int32), .required("b", .uuid)])),
        .optional("flag", .boolean),
    ])

    static func appendRow(_ b: inout RowBatch, _ i: Int, tags: [String?]?) {
        b.columns[0].appendInt64(Int64(i))
        if i % 3 == 0 { b.columns[1].appendNull() } else { b.columns[1].appendString("name\(i)") }
        switch tags {
        case nil: b.columns[2].appendNull(definitionLevel: 0, repetitionLevel: 0)
        case let t? where t.isEmpty: b.columns[2].appendNull(definitionLevel: 1, repetitionLevel: 0)
        case let t?:
            for (k, s) in t.enumerated() {
                if let s { b.columns[2].appendString(s, repetitionLevel: k == 0 ? 0 : 1) }
                else { b.columns[2].appendNull(definitionLevel: 2, repetitionLevel: k == 0 ? 0 : 1) }
            }
        }
        b.columns[3].appendInt32(Int32(i))
        b.columns[4].appendBytes([UInt8](repeating: UInt8(i & 0xFF), count: 16))
        b.columns[5].appendBool(i % 2 == 0)
    }

    /// A batch filled with rows 0..<n, then truncated, must equal one filled with fewer rows.
    @Test func truncatedEqualsShorter() throws {
        let tags: [[String?]?] = [["a", nil, "b"], nil, [], ["x"], [nil], ["p", "q", "r", "s"]]
        for keep in 0...6 {
            var full = RowBatch(Self.schema), short = RowBatch(Self.schema)
            for i in 0..<6 { Self.appendRow(&full, i, tags: tags[i]) }
            for i in 0..<keep { Self.appendRow(&short, i, tags: tags[i]) }
            full.truncate(toRows: keep)
            #expect(full.rowCount == keep)
            try full.validate()
            // Append the same next row to both: they must still agree afterwards.
            Self.appendRow(&full, 9, tags: ["z", nil])
            Self.appendRow(&short, 9, tags: ["z", nil])
            for c in full.columns.indices {
                #expect(full.columns[c].levelCount == short.columns[c].levelCount, "keep \(keep) column \(c)")
                #expect(full.columns[c].valueCount == short.columns[c].valueCount, "keep \(keep) column \(c)")
                #expect(full.columns[c].byteCount == short.columns[c].byteCount, "keep \(keep) column \(c)")
            }
            let a = MemorySink(), b = MemorySink()
            let wa = try ParquetWriter(schema: Self.schema, sink: a), wb = try ParquetWriter(schema: Self.schema, sink: b)
            try wa.write(full); try wb.write(short)
            try wa.close(); try wb.close()
            #expect(a.bytes == b.bytes, "keep \(keep)")
        }
    }

    /// An error recorded in a dropped row is forgotten; one in a kept row stays.
    @Test func errorsOfDroppedRowsAreForgotten() throws {
        var b = RowBatch(try ParquetSchema([.optional("s", .string), .optional("d", .decimal(precision: 4, scale: 0))]))
        b.columns[0].appendString("ok"); b.columns[1].appendInt64(1)
        b.columns[0].appendBytes([0xFF, 0xFE]); b.columns[1].appendInt64(100_000)
        #expect(b.columns[0].error != nil && b.columns[1].error != nil)
        b.truncate(toRows: 1)
        #expect(b.columns[0].error == nil && b.columns[1].error == nil)
        try b.validate()
        b.columns[0].appendBytes([0xFF]); b.columns[1].appendInt64(2)
        b.columns[0].appendString("later"); b.columns[1].appendInt64(3)
        b.truncate(toRows: 2)
        #expect(b.columns[0].error != nil)
    }
}
