import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Bad input gives typed errors naming column and row, never a corrupt file")
struct WriterErrorTests {
    static let schema = try! ParquetSchema([
        .required("id", .int64),
        .optional("i8", .int8),
        .optional("price", .decimal(precision: 5, scale: 2)),
        .optional("big", .decimal(precision: 38, scale: 0)),
        .optional("name", .string),
        .optional("u", .uint32),
        .optional("uid", .uuid),
    ])

    /// Appends 5 valid rows, calling `poison` on row 3 instead of the valid value of `column`.
    static func batch(column: Int, poison: (inout ColumnBuilder) -> Void) -> RowBatch {
        var b = RowBatch(schema)
        for r in 0..<5 {
            for c in 0..<schema.columns.count {
                if r == 3 && c == column { poison(&b.columns[c]); continue }
                switch c {
                case 0: b.columns[c].appendInt64(Int64(r))
                case 1: b.columns[c].appendInt64(Int64(r))
                case 2: b.columns[c].appendInt64(Int64(r * 100))
                case 3: b.columns[c].appendDecimal(unscaled: Int128(r))
                case 4: b.columns[c].appendString("n\(r)")
                case 5: b.columns[c].appendInt64(Int64(r))
                default: b.columns[c].appendBytes([UInt8](repeating: UInt8(r), count: 16))
                }
            }
        }
        return b
    }

    static func expectError(_ code: ParquetError.Code, column: String, row: Int = 3,
                            poisonColumn: Int, _ poison: (inout ColumnBuilder) -> Void) throws {
        let sink = MemorySink()
        let w = try ParquetWriter(schema: schema, sink: sink)
        let bad = batch(column: poisonColumn, poison: poison)
        do {
            try w.write(bad)
            Issue.record("no error for \(code)")
        } catch let e as ParquetError {
            #expect(e.code == code)
            #expect(e.column == column)
            #expect(e.row == row)
        }
        // The writer is still usable and the file valid without the rejected batch.
        try w.write(batch(column: -1) { _ in })
        let meta = try w.close()
        #expect(meta.numRows == 5)
        let parsed = try ParquetMetadataReader.read(bytes: sink.bytes)
        #expect(parsed.numRows == 5)
    }

    @Test func valueOutOfRange() throws {
        try Self.expectError(.valueOutOfRange, column: "i8", poisonColumn: 1) { $0.appendInt64(300) }
        try Self.expectError(.valueOutOfRange, column: "u", poisonColumn: 5) { $0.appendInt64(-1) }
        try Self.expectError(.valueOutOfRange, column: "uid", poisonColumn: 6) { $0.appendBytes([1, 2, 3]) }
    }

    @Test func nullInRequiredColumn() throws {
        try Self.expectError(.nullInRequiredColumn, column: "id", poisonColumn: 0) { $0.appendNull() }
    }

    @Test func decimalOverPrecision() throws {
        try Self.expectError(.decimalOverflow, column: "price", poisonColumn: 2) { $0.appendInt64(100_000) }
        var tenTo38: Int128 = 1
        for _ in 0..<38 { tenTo38 *= 10 }
        try Self.expectError(.decimalOverflow, column: "big", poisonColumn: 3) { $0.appendDecimal(unscaled: -tenTo38) }
        try Self.expectError(.decimalOverflow, column: "big", poisonColumn: 3) { $0.appendDecimal(unscaled: tenTo38 - 1 + 1) }
    }

    @Test func invalidUTF8() throws {
        try Self.expectError(.invalidUTF8, column: "name", poisonColumn: 4) { $0.appendBytes([0x61, 0xC3, 0x28]) }
        try Self.expectError(.invalidUTF8, column: "name", poisonColumn: 4) { $0.appendBytes([0xED, 0xA0, 0x80]) }
        try Self.expectError(.invalidUTF8, column: "name", poisonColumn: 4) { $0.appendBytes([0xF0, 0x9F, 0x98]) }
    }

    @Test func wrongAppendAndRowCounts() throws {
        try Self.expectError(.wrongAppend, column: "name", poisonColumn: 4) { $0.appendDouble(1) }
        let w = try ParquetWriter(schema: Self.schema, sink: MemorySink())
        var b = Self.batch(column: -1) { _ in }
        b.columns[2].appendInt64(1)
        #expect(throws: ParquetError.self) { try w.write(b) }
        let other = try ParquetSchema([.required("x", .int32)])
        #expect(throws: ParquetError.self) { try w.write(RowBatch(other)) }
    }

    @Test func invalidNestedLevels() throws {
        let schema = try ParquetSchema([.optional("l", .list(.optional("element", .int32)))])
        let w = try ParquetWriter(schema: schema, sink: MemorySink())
        var b = w.makeBatch()
        b.columns[0].appendInt32(1, repetitionLevel: 0)
        b.columns[0].appendNull(definitionLevel: 0, repetitionLevel: 0)   // null list
        b.columns[0].appendInt32(2, repetitionLevel: 1)                   // continues the null list
        #expect { try w.write(b) } throws: { ($0 as? ParquetError)?.code == .invalidLevels && ($0 as? ParquetError)?.row == 1 }
        b.removeAll()
        b.columns[0].appendNull(definitionLevel: 4, repetitionLevel: 0)
        #expect(throws: ParquetError.self) { try w.write(b) }
    }

    @Test func siblingsMustAgree() throws {
        let schema = try ParquetSchema([
            .optional("s", .structure([.required("a", .int32), .optional("b", .int32)])),
            .optional("l", .list(.optional("element", .structure([.required("sku", .string), .optional("qty", .int32)])))),
        ])
        let w = try ParquetWriter(schema: schema, sink: MemorySink())
        func fill(_ b: inout RowBatch, structBroken: Bool, listBroken: Bool) {
            // row 0: s = {a: 1, b: null}, l = [{sku: x, qty: 2}, null]
            b.columns[0].appendInt32(1); b.columns[1].appendNull(definitionLevel: 1)
            b.columns[2].appendString("x", repetitionLevel: 0); b.columns[3].appendInt32(2, repetitionLevel: 0)
            b.columns[2].appendNull(definitionLevel: 2, repetitionLevel: 1)
            if !listBroken { b.columns[3].appendNull(definitionLevel: 2, repetitionLevel: 1) }
            // row 1: s = null, l = []
            b.columns[0].appendNull(definitionLevel: 0)
            if structBroken { b.columns[1].appendInt32(5) } else { b.columns[1].appendNull(definitionLevel: 0) }
            b.columns[2].appendNull(definitionLevel: 1); b.columns[3].appendNull(definitionLevel: 1)
        }
        var ok = w.makeBatch()
        fill(&ok, structBroken: false, listBroken: false)
        try w.write(ok)
        var bad = w.makeBatch()
        fill(&bad, structBroken: true, listBroken: false)
        #expect { try w.write(bad) } throws: { ($0 as? ParquetError)?.column == "s.b" && ($0 as? ParquetError)?.row == 1 }
        bad.removeAll()
        fill(&bad, structBroken: false, listBroken: true)
        #expect { try w.write(bad) } throws: { ($0 as? ParquetError)?.column == "l.list.element.qty" && ($0 as? ParquetError)?.row == 0 }
        #expect(try w.close().numRows == 2)
    }

    @Test func invalidSchemas() {
        #expect(throws: ParquetError.self) { try ParquetSchema([.required("a", .int32), .optional("a", .int64)]) }
        #expect(throws: ParquetError.self) { try ParquetSchema([.required("d", .decimal(precision: 39, scale: 0))]) }
        #expect(throws: ParquetError.self) { try ParquetSchema([.required("s", .structure([]))]) }
        #expect(throws: ParquetError.self) {
            try ParquetSchema([.required("m", .map(key: .optional("key", .string), value: .optional("value", .int32)))])
        }
    }

    @Test func closedWriterRefuses() throws {
        let w = try ParquetWriter(schema: Self.schema, sink: MemorySink())
        try w.close()
        #expect(throws: ParquetError.self) { try w.write(Self.batch(column: -1) { _ in }) }
    }
}

/// Every refused row is recorded (not only the first), moved with its row by `split` and
/// `append(rowsOf:)`, and dropped by `truncate`: what the worker needs to take the refused rows
/// out of a buffer and write the rest.
@Suite struct FailedRowsTests {
    static func batch(bad: Set<Int>, rows: Int = 8) -> RowBatch {
        var b = RowBatch(WriterErrorTests.schema)
        for r in 0..<rows {
            b.columns[0].appendInt64(Int64(r))
            b.columns[1].appendInt64(r == 6 && bad.contains(6) ? 1000 : Int64(r))  // int8 out of range on row 6
            b.columns[2].appendInt64(Int64(r))
            b.columns[3].appendDecimal(unscaled: Int128(r))
            if bad.contains(r) && r != 6 { b.columns[4].appendBytes([0x61, 0xC3, 0x28]) } else { b.columns[4].appendString("n\(r)") }
            b.columns[5].appendInt64(Int64(r))
            b.columns[6].appendBytes([UInt8](repeating: UInt8(r), count: 16))
        }
        return b
    }

    @Test func everyRefusedRowIsRecordedAndTravelsWithItsRow() throws {
        let b = Self.batch(bad: [1, 3, 6])
        #expect(b.failedRows.rows == [1, 3, 6] && b.failedRows.complete)
        #expect(b.columns[4].failedRows == [1, 3])
        #expect(b.failure(ofRow: 1)?.code == .invalidUTF8)
        #expect(b.failure(ofRow: 6)?.code == .valueOutOfRange)
        #expect(b.failure(ofRow: 3) == nil)  // recorded as failed, but the column's first error is row 1

        // The good rows alone encode and read back; the refused ones keep their marks.
        let parts = b.split(byRowKeys: (0..<8).map { [1, 3, 6].contains($0) ? 1 : 0 })
        let good = try #require(parts.first { $0.key == 0 }?.batch)
        let bad = try #require(parts.first { $0.key == 1 }?.batch)
        #expect(good.failedRows.rows.isEmpty && good.rowCount == 5)
        #expect(bad.failedRows.rows == [0, 1, 2] && bad.rowCount == 3)
        let sink = MemorySink()
        let w = try ParquetWriter(schema: WriterErrorTests.schema, sink: sink)
        try w.write(good)
        _ = try w.close()
        #expect(throws: ParquetError.self) { try ParquetWriter(schema: WriterErrorTests.schema, sink: MemorySink()).write(bad) }

        // append(rowsOf:) brings the marks of the rows it copies, and truncate drops them.
        var copy = RowBatch(WriterErrorTests.schema)
        copy.append(rowsOf: b, 2..<7)
        #expect(copy.failedRows.rows == [1, 4])
        copy.truncate(toRows: 3)
        #expect(copy.failedRows.rows == [1])
        copy.truncate(toRows: 1)
        #expect(copy.failedRows.rows.isEmpty && copy.columns.allSatisfy { $0.error == nil })
    }
}
