import Foundation
@testable import PostgresSource
import TestSupport
import Testing

/// The tuple framer of the backfill's entity mode: the same stream in any pieces gives the same
/// tuples, and mutated or truncated streams throw a protocol error, never crash or loop.
@Suite("COPY BINARY tuple framing", .enabled(if: postgresAvailable))
struct CopyTupleReaderTests {
    static func frame(_ bytes: [UInt8], columns: Int, pieces: Int) throws -> [[String?]] {
        var reader = CopyTupleReader(columns: columns, maxTupleBytes: 1 << 20)
        var out: [[String?]] = []
        try bytes.withUnsafeBytes { raw in
            var pos = 0
            while pos < raw.count {
                let n = min(pieces, raw.count - pos)
                try reader.feed(UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)])) { t in
                    out.append((0..<t.count).map { i in t.field(i).map { String(decoding: $0, as: UTF8.self) } })
                }
                pos += n
            }
        }
        try reader.finish()
        return out
    }

    @Test func tuplesMatchPostgresInAnyPiecesAndMutationsNeverCrash() throws {
        let conn = try connect()
        let sql = "SELECT g::text, CASE WHEN g % 3 = 0 THEN NULL ELSE repeat('ü', g % 40) END, '' FROM generate_series(1, 300) g"
        let stream = try captureCopy(conn, "COPY (\(sql)) TO STDOUT (FORMAT binary)")
        let expected = try conn.query(sql)
        for pieces in [Int.max, 1, 7, 4096] {
            #expect(try Self.frame(stream, columns: 3, pieces: pieces) == expected, "pieces \(pieces)")
        }
        // A wrong column count is a protocol error, not a misread.
        #expect(throws: PostgresError.self) { try Self.frame(stream, columns: 2, pieces: .max) }

        var rng = SeededGenerator(seed: Fuzz.seed(0xF4A3E))
        var threw = 0
        for c in 0..<Fuzz.cases(3000) {
            var b = stream
            switch c % 4 {
            case 0:
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1: b.removeLast(Int.random(in: 1..<b.count, using: &rng))
            case 2:
                let at = Int.random(in: 19..<(b.count - 4), using: &rng)
                let v: Int32 = [-1, -2, 0, 0x7FFF_FFFF, Int32.min, 1 << 21].randomElement(using: &rng)!
                withUnsafeBytes(of: v.bigEndian) { b.replaceSubrange(at..<(at + 4), with: $0) }
            default:
                let at = Int.random(in: 0..<b.count, using: &rng)
                b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...9, using: &rng)))
            }
            do {
                let tuples = try Self.frame(b, columns: 3, pieces: [Int.max, 1, 13][c % 3])
                #expect(tuples.count <= 300 + 1)
            } catch let e as PostgresError {
                #expect(e.kind == .protocol)
                threw += 1
            }
        }
        #expect(threw > 1000)
    }
}
