import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// Builds COPY BINARY bytes by hand.
struct CopyStream {
    var bytes: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]
    mutating func i16(_ v: Int16) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    mutating func i32(_ v: Int32) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.bigEndian) { bytes += $0 } }
    mutating func field(_ body: (inout CopyStream) -> Void) {
        var inner = CopyStream(bytes: [])
        body(&inner)
        i32(Int32(inner.bytes.count))
        bytes += inner.bytes
    }
    mutating func null() { i32(-1) }
    mutating func text(_ s: String) { field { $0.bytes += Array(s.utf8) } }
    mutating func int4(_ v: Int32) { field { $0.i32(v) } }
    /// numeric from base-10000 digits.
    mutating func numeric(_ digits: [Int16], weight: Int16, sign: UInt16 = 0, dscale: Int16) {
        field { f in
            f.i16(Int16(digits.count)); f.i16(weight); f.i16(Int16(bitPattern: sign)); f.i16(dscale)
            for d in digits { f.i16(d) }
        }
    }
    mutating func end() { i16(-1) }
}

@Suite("COPY BINARY decoder on hand-made streams")
struct DecoderTests {
    static func column(_ name: String, _ oid: UInt32, typmod: Int32 = -1, notNull: Bool = false) -> PGColumn {
        PGColumn(name: name, attnum: nil, typeOid: oid, typmod: typmod, typeName: "", isNotNull: notNull,
                 type: PGOid.builtin(oid, typmod: typmod)!)
    }

    static let mapping = try! SourceMapping([
        column("id", PGOid.int4, notNull: true), column("t", PGOid.text),
        column("d", PGOid.numeric, typmod: (12 << 16 | 2) + 4), column("n", PGOid.numeric),
        PGColumn(name: "arr", attnum: nil, typeOid: 1007, typmod: -1, typeName: "int4[]", isNotNull: false,
                 type: .array(element: .int4, elementOid: PGOid.int4)),
    ])

    static func row(_ s: inout CopyStream, id: Int32, t: String?, d: ([Int16], Int16, UInt16, Int16)?,
                    n: ([Int16], Int16, UInt16, Int16)?, arr: [Int32?]?) {
        s.i16(5)
        s.int4(id)
        if let t { s.text(t) } else { s.null() }
        for v in [d, n] {
            if let v { s.numeric(v.0, weight: v.1, sign: v.2, dscale: v.3) } else { s.null() }
        }
        if let arr {
            s.field { f in
                f.i32(1); f.i32(arr.contains(nil) ? 1 : 0); f.i32(Int32(PGOid.int4)); f.i32(Int32(arr.count)); f.i32(1)
                for e in arr { if let e { f.int4(e) } else { f.null() } }
            }
        } else {
            s.null()
        }
    }

    static func decimals(_ c: ColumnBuilder) -> [Int64] { c.int64s }

    static func strings(_ c: ColumnBuilder) -> [String] {
        (0..<c.valueCount).map { String(decoding: c.bytesValue($0), as: UTF8.self) }
    }

    @Test func numericsToDecimalAndText() throws {
        var s = CopyStream()
        // 12.5 (dscale 1 < scale 2: rescaled up), -9999999999.99, 0, 0.01
        Self.row(&s, id: 1, t: "a", d: ([12, 5000], 0, 0, 1), n: ([12, 5000], 0, 0, 1), arr: [1, nil, 3])
        Self.row(&s, id: 2, t: nil, d: ([99, 9999, 9999, 9900], 2, 0x4000, 2), n: ([1], 25, 0, 0), arr: [])
        Self.row(&s, id: 3, t: "", d: ([], 0, 0, 2), n: ([], 0, 0, 5), arr: nil)
        Self.row(&s, id: 4, t: "x", d: ([100], -1, 0, 2), n: ([1], -8, 0x4000, 32), arr: [7])
        // Rejected: NaN in decimal; over the precision; digits beyond the scale; invalid UTF-8.
        Self.row(&s, id: 5, t: "x", d: ([], 0, 0xC000, 0), n: ([], 0, 0xD000, 0), arr: [1])
        Self.row(&s, id: 6, t: "x", d: ([1], 3, 0, 0), n: ([], 0, 0xF000, 0), arr: [1])
        Self.row(&s, id: 7, t: "x", d: ([1, 5], 0, 0, 4), n: nil, arr: nil)
        Self.row(&s, id: 8, t: "\u{FFFD}", d: nil, n: ([], 0, 0xC000, 0), arr: nil)
        s.end()
        // Make row 8's text invalid UTF-8: replace U+FFFD (EF BF BD) with FF FF FF.
        let fffd: [UInt8] = [0xEF, 0xBF, 0xBD]
        if let at = (0..<(s.bytes.count - 2)).last(where: { Array(s.bytes[$0..<($0 + 3)]) == fffd }) {
            s.bytes.replaceSubrange(at..<(at + 3), with: [0xFF, 0xFF, 0xFF])
        }
        let (batch, errors) = try decodeAll(s.bytes, mapping: Self.mapping, keyColumn: "id")
        try batch.validate()
        #expect(batch.rowCount == 4)
        #expect(batch.columns[0].int32s == [1, 2, 3, 4])
        #expect(Self.decimals(batch.columns[2]) == [1250, -999_999_999_999, 0, 1])
        #expect(Self.strings(batch.columns[3]) == ["12.5", "1" + String(repeating: "0", count: 100), "0.00000",
                                                   "-0.00000000000000000000000000000001"])
        #expect(errors.map(\.key) == ["5", "6", "7", "8"])
        #expect(errors.map(\.column) == ["d", "d", "d", "t"])
        #expect(errors[0].reason == "NaN cannot be stored in decimal(12,2)")
        #expect(errors[1].reason == "value exceeds decimal(12,2)")
        #expect(errors[2].reason.contains("fractional digits"))
        #expect(errors[3].reason.contains("UTF-8"))
        // NaN / ±Infinity in a text numeric.
        var t = CopyStream()
        for (i, sign) in [UInt16(0xC000), 0xD000, 0xF000].enumerated() {
            Self.row(&t, id: Int32(i), t: nil, d: nil, n: ([], 0, sign, 0), arr: nil)
        }
        t.end()
        let (b2, e2) = try decodeAll(t.bytes, mapping: Self.mapping)
        #expect(e2.isEmpty)
        #expect(Self.strings(b2.columns[3]) == ["NaN", "Infinity", "-Infinity"])
    }

    @Test func malformedStreamsThrowWithTheOffset() throws {
        func failure(_ bytes: [UInt8]) -> PostgresError? {
            if case .failure(let e) = Result(catching: { try decodeAll(bytes, mapping: Self.mapping) }) { return e as? PostgresError }
            return nil
        }
        var good = CopyStream()
        Self.row(&good, id: 1, t: "abc", d: nil, n: nil, arr: [1])
        let header = 19
        var badSignature = good.bytes; badSignature[3] = 0
        #expect(failure(badSignature)?.byteOffset == 3)
        var fieldCount = good.bytes; fieldCount[header + 1] = 4
        #expect(failure(fieldCount + [0xFF, 0xFF])?.byteOffset == header)
        var negative = good.bytes; negative.replaceSubrange((header + 10)..<(header + 14), with: [0xFF, 0xFF, 0xFF, 0xFE])
        let e = failure(negative + [0xFF, 0xFF])
        #expect(e?.kind == .protocol && e?.byteOffset == header + 10, "\(String(describing: e))")
        // No end marker; cut inside a row; bytes after the end marker.
        #expect(failure(good.bytes)?.message.contains("end marker") == true)
        #expect(failure(Array(good.bytes.dropLast(3)))?.message.contains("inside a row") == true)
        #expect(failure(good.bytes + [0xFF, 0xFF, 0])?.message.contains("after the end marker") == true)
        // An array claiming 7 dimensions.
        var dims = CopyStream()
        dims.i16(5); dims.int4(1); dims.null(); dims.null(); dims.null()
        dims.field { f in f.i32(7); f.i32(0); f.i32(Int32(PGOid.int4)); for _ in 0..<14 { f.i32(1) } }
        dims.end()
        #expect(failure(dims.bytes)?.message.contains("7 dimensions") == true)
        // An array with more elements than bytes.
        var many = CopyStream()
        many.i16(5); many.int4(1); many.null(); many.null(); many.null()
        many.field { f in f.i32(1); f.i32(0); f.i32(Int32(PGOid.int4)); f.i32(Int32.max); f.i32(1) }
        many.end()
        #expect(failure(many.bytes)?.kind == .protocol)
    }

    /// A partial row is never left in the batch, whatever the failure.
    @Test func batchHoldsWholeRowsAfterAProtocolError() throws {
        var s = CopyStream()
        Self.row(&s, id: 1, t: "a", d: nil, n: nil, arr: [1, 2])
        Self.row(&s, id: 2, t: "b", d: nil, n: nil, arr: [3])
        s.i16(5); s.int4(3); s.text("c"); s.i32(-7)
        var decoder = try CopyBinaryDecoder(mapping: Self.mapping)
        var batch = RowBatch(Self.mapping.schema)
        #expect(throws: PostgresError.self) {
            try s.bytes.withUnsafeBytes { try decoder.decode($0, into: &batch) { _ in } }
        }
        #expect(batch.rowCount == 2)
        #expect(batch.columns.allSatisfy { $0.rowCount == 2 })
        try batch.validate()
        try batch.validateSiblings()
    }
}
