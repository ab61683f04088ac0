import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// The column-at-a-time decoder (``Walker/runColumnar(from:roots:ncols:index:)``) against the
/// row-by-row one on the same streams: every type of the round-trip table with its edge values,
/// refused rows among them, fed whole and in odd pieces, and mutated streams (a differential
/// fuzz): same rows, same levels and values in every column, same rejects, same errors.
@Suite("COPY BINARY decoded a column at a time", .enabled(if: postgresAvailable))
struct ColumnarDecodeTests {
    /// The round-trip table's 7 rows 12 times over (ids apart), and rows each decoder must
    /// refuse: timestamps past Int64 µs since 1970, NaN in a numeric(12,2) (catalog mode
    /// maps nearly every value; these are the ones it cannot hold).
    static func stream() throws -> ([UInt8], SourceMapping) {
        try withSchema("columnar") { conn, s -> ([UInt8], SourceMapping) in
            try TypesRoundTripTests.createTypes(conn, s)
            try conn.exec("CREATE TABLE \(s).seed (LIKE \(s).\"Odd Table\")")
            try conn.exec("INSERT INTO \(s).seed VALUES " + TypesRoundTripTests.rows.replacing("SCHEMA_PLACEHOLDER", with: s)
                .replacing("repeat('ü', 10000)", with: "repeat('ü', 300)"))
            try conn.exec("INSERT INTO \(s).\"Odd Table\" SELECT id + 100 * k, i2, i4, i8, o, f4, f8, b, n, n12, n40, dn, t, vc, bp, nm, en, ci, \"by\", u, js, jb, d, tm, ttz, ts, tstz, iv, ia, ta, na, cp, cpa, ip, ipa, hs, \"Mixed Case\" FROM \(s).seed, generate_series(0, 11) AS k")
            try conn.exec("INSERT INTO \(s).\"Odd Table\" (id, ts, \"Mixed Case\") VALUES (5001, '294276-12-31 23:59:59', 1)")
            try conn.exec("INSERT INTO \(s).\"Odd Table\" (id, tstz) VALUES (5002, '294276-12-31 23:59:59+00')")
            try conn.exec("INSERT INTO \(s).\"Odd Table\" (id, n12, i8) VALUES (5003, 'NaN', 3)")
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "Odd Table"), catalog: PostgresCatalog(conn),
                                              parallelism: 1)
            return (try captureCopy(conn, plan.jobs[0].sql), plan.mapping)
        }
    }

    struct Decoded: Equatable {
        var columns: [String]
        var rows: Int
        var errors: [String]
        var thrown: String?

        /// The first difference, short (the whole fingerprint runs to megabytes).
        func difference(from other: Decoded) -> String? {
            if rows != other.rows { return "rows \(rows) vs \(other.rows)" }
            if errors != other.errors { return "rejects \(errors) vs \(other.errors)" }
            if thrown != other.thrown { return "error \(thrown ?? "none") vs \(other.thrown ?? "none")" }
            if let i = columns.indices.first(where: { columns[$0] != other.columns[$0] }) {
                return "column \(columns[i].prefix { $0 != " " }) differs"
            }
            return nil
        }
    }

    /// Every column's levels and values, so two batches compare whole.
    static func fingerprint(_ b: RowBatch) -> [String] {
        b.columns.map { c in
            "\(c.descriptor.dottedPath) rows \(c.rowCount) levels \(c.levelCount) def \(c.definitionLevels) rep \(c.repetitionLevels) "
                + "i32 \(c.int32Values) i64 \(c.int64Values) f \(c.floatValues.map(\.bitPattern)) d \(c.doubleValues.map(\.bitPattern)) "
                + "b \(c.boolValues) bytes \(c.bytes) off \(c.offsets) err \(c.error.map { "\($0)" } ?? "-")"
        }
    }

    static func decode(_ bytes: [UInt8], _ mapping: SourceMapping, columnarFrom: Int?, pieces: [Int],
                       trusted: Bool = false) throws -> Decoded {
        var decoder = try CopyBinaryDecoder(mapping: mapping, keyColumn: "id", textIsValidUTF8: trusted, columnarFrom: columnarFrom)
        var batch = RowBatch(mapping.schema)
        var errors: [String] = []
        var thrown: String?
        do {
            try bytes.withUnsafeBytes { raw in
                var pos = 0, k = 0
                while pos < raw.count {
                    let n = min(pieces[k % pieces.count], raw.count - pos)
                    k += 1
                    try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)]), into: &batch) {
                        errors.append("\($0.row) \($0.column) \($0.key ?? "-") \($0.reason)")
                    }
                    pos += n
                }
            }
            try decoder.finish()
        } catch {
            thrown = "\(error)"
        }
        return Decoded(columns: fingerprint(batch), rows: batch.rowCount, errors: errors, thrown: thrown)
    }

    @Test func sameBatchesAsRowByRow() throws {
        let (bytes, mapping) = try Self.stream()
        let reference = try Self.decode(bytes, mapping, columnarFrom: nil, pieces: [Int.max])
        #expect(reference.rows == 84 && reference.errors.count == 3 && reference.thrown == nil, "\(reference.errors)")
        for from in [1, 2, CopyBinaryDecoder.columnarMinRows] {
            for pieces in [[Int.max], [1], [7, 13, 64], [4096, 1], [300]] {
                let got = try Self.decode(bytes, mapping, columnarFrom: from, pieces: pieces)
                #expect(got.difference(from: reference) == nil, "columnar from \(from) rows, pieces \(pieces)")
            }
        }
        // Text the server vouched for (no UTF-8 check): bulk appends of text and json.
        let trusted = try Self.decode(bytes, mapping, columnarFrom: nil, pieces: [Int.max], trusted: true)
        #expect(try Self.decode(bytes, mapping, columnarFrom: 1, pieces: [Int.max], trusted: true).difference(from: trusted) == nil)
        #expect(trusted.difference(from: reference) == nil)
    }

    /// Decimals of INT32 and INT64 storage converted in bulk: every digit layout of up to 16
    /// digits, scales above and below the value's, -0, the precision's edges; and values the
    /// bulk path leaves to the row-wise walker (17 and 18 digits, NaN, over the precision).
    @Test func decimalsAsRowByRow() throws {
        let (bytes, mapping) = try withSchema("columnar_dec") { conn, s -> ([UInt8], SourceMapping) in
            try conn.exec("CREATE TABLE \(s).d (id int8 NOT NULL, d5 numeric(5,2), d9 numeric(9,0), d18 numeric(18,6), d12 numeric(12,2) NOT NULL)")
            try conn.exec("""
                INSERT INTO \(s).d SELECT i, ((i * 7919) % 100000 - 50000) / 100.0, (i * 104729) % 1000000000 - 500000000,
                  ((i * 15485863) % 1000000000000) / 1000000.0 * (CASE WHEN i % 2 = 0 THEN -1 ELSE 1 END), (i * 31) % 100000000000 / 100.0
                FROM generate_series(1::int8, 200) AS i
                """)
            try conn.exec("""
                INSERT INTO \(s).d VALUES (1001, 999.99, 999999999, 999999999999.999999, 9999999999.99),
                  (1002, -999.99, -999999999, -999999999999.999999, -9999999999.99), (1003, -0, 0, -0.000000, 0),
                  (1004, 0.01, 1, 0.000001, 0.01), (1005, NULL, NULL, NULL, 10000), (1006, 100, 100000000, 123456789012.5, 1e9),
                  (1007, 'NaN', 5, 1, 1), (1008, 1, 'NaN', 1, 1), (1009, 1.5, 2, 'NaN', 3)
                """)
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "d"), catalog: PostgresCatalog(conn), parallelism: 1)
            return (try captureCopy(conn, plan.jobs[0].sql), plan.mapping)
        }
        #expect(mapping.schema.columns.map(\.storage) == [.int64, .int32, .int32, .int64, .int64])
        let reference = try Self.decode(bytes, mapping, columnarFrom: nil, pieces: [Int.max])
        #expect(reference.rows == 206 && reference.errors.count == 3, "\(reference.errors)")
        for from in [1, CopyBinaryDecoder.columnarMinRows] {
            for pieces in [[Int.max], [5, 333]] {
                let got = try Self.decode(bytes, mapping, columnarFrom: from, pieces: pieces)
                #expect(got.difference(from: reference) == nil, "columnar from \(from) rows, pieces \(pieces)")
            }
        }
    }

    /// Mutations and truncations: the columnar decoder ends as the row-wise one does, whatever
    /// the bytes (rows, rejects, the error and its offset).
    @Test func mutatedStreamsDecodeAlike() throws {
        let (stream, mapping) = try Self.stream()
        var rng = SeededGenerator(seed: Fuzz.seed(0xC0_1A_4E))
        let interesting: [Int32] = [-1, -2, 0, 1, 4, 8, 16, 0x7FFF_FFFF, Int32.min, 37]
        var threw = 0
        for case_ in 0..<Fuzz.cases(600) {
            var b = stream
            switch case_ % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:
                b.removeLast(Int.random(in: 1..<b.count, using: &rng))
            case 2:
                let at = Int.random(in: 0..<(b.count - 4), using: &rng)
                let v = interesting.randomElement(using: &rng)!
                withUnsafeBytes(of: v.bigEndian) { b.replaceSubrange(at..<(at + 4), with: $0) }
            default:
                let at = Int.random(in: 0..<b.count, using: &rng)
                b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...9, using: &rng)))
            }
            let pieces = [[Int.max], [Int.random(in: 1...512, using: &rng)]][case_ % 2]
            let trusted = case_ % 3 == 0
            let rowWise = try Self.decode(b, mapping, columnarFrom: nil, pieces: pieces, trusted: trusted)
            let columnar = try Self.decode(b, mapping, columnarFrom: 1 + case_ % 5, pieces: pieces, trusted: trusted)
            #expect(columnar.difference(from: rowWise) == nil, "case \(case_)")
            if rowWise.thrown != nil { threw += 1 }
        }
        #expect(threw > 0)
    }
}
