import Foundation
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// Mutations and truncations of a real COPY stream must throw a protocol error or decode,
/// never crash, and the batch must always hold only whole, writable rows.
@Suite("COPY BINARY decoder under mutated input", .enabled(if: postgresAvailable))
struct FuzzTests {
    @Test func mutatedStreamsNeverCrash() throws {
        let (stream, mapping) = try withSchema("fuzz") { conn, s -> ([UInt8], SourceMapping) in
            try TypesRoundTripTests.createTypes(conn, s)
            try conn.exec("INSERT INTO \(s).\"Odd Table\" VALUES " + TypesRoundTripTests.rows.replacing("SCHEMA_PLACEHOLDER", with: s)
                .replacing("repeat('ü', 10000)", with: "repeat('ü', 20)"))
            let plan = try BackfillPlan.table(PGTableName(schema: s, name: "Odd Table"), catalog: PostgresCatalog(conn),
                                              parallelism: 1)
            return (try captureCopy(conn, plan.jobs[0].sql), plan.mapping)
        }
        let (clean, cleanErrors) = try decodeAll(stream, mapping: mapping)
        #expect(clean.rowCount == 7 && cleanErrors.isEmpty)

        var rng = SeededGenerator(seed: Fuzz.seed(0x5EED_C0DE))
        let interesting: [Int32] = [-1, -2, 0, 1, 4, 7, 0x7FFF_FFFF, Int32.min, 0x10000, 6]
        var outcomes = [0, 0, 0]  // decoded, threw protocol, rejected rows seen
        for case_ in 0..<Fuzz.cases(3000) {
            var b = stream
            let kind = case_ % 5
            switch kind {
            case 0:  // flip a few bytes
                for _ in 0..<Int.random(in: 1...4, using: &rng) {
                    b[Int.random(in: 0..<b.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            case 1:  // truncate
                b.removeLast(Int.random(in: 1..<b.count, using: &rng))
            case 2:  // an interesting int32 somewhere
                let at = Int.random(in: 0..<(b.count - 4), using: &rng)
                let v = interesting.randomElement(using: &rng)!
                withUnsafeBytes(of: v.bigEndian) { b.replaceSubrange(at..<(at + 4), with: $0) }
            case 3:  // insert or delete a run
                let at = Int.random(in: 0..<b.count, using: &rng)
                if Bool.random(using: &rng) {
                    b.insert(contentsOf: (0..<Int.random(in: 1...9, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }, at: at)
                } else {
                    b.removeSubrange(at..<min(b.count, at + Int.random(in: 1...9, using: &rng)))
                }
            default:  // a length field after the header made -1 or huge
                let at = 19 + 2 + Int.random(in: 0..<200, using: &rng)
                let v: Int32 = Bool.random(using: &rng) ? -1 : Int32.random(in: 0...Int32.max, using: &rng)
                withUnsafeBytes(of: v.bigEndian) { b.replaceSubrange(at..<(at + 4), with: $0) }
            }
            let pieces = [Int.max, 1, Int.random(in: 1...64, using: &rng)][case_ % 3]
            // Every fourth stream as from a UTF8 session (text not checked again): no crash either.
            var decoder = try CopyBinaryDecoder(mapping: mapping, keyColumn: "id", textIsValidUTF8: case_ % 4 == 3)
            var batch = RowBatch(mapping.schema)
            var rejected = 0
            do {
                try b.withUnsafeBytes { raw in
                    var pos = 0
                    while pos < raw.count {
                        let n = min(pieces, raw.count - pos)
                        try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)]), into: &batch) { _ in rejected += 1 }
                        pos += n
                    }
                }
                try decoder.finish()
                outcomes[0] += 1
            } catch let e as PostgresError {
                #expect(e.kind == .protocol, "case \(case_): \(e)")
                outcomes[1] += 1
            }
            if rejected > 0 { outcomes[2] += 1 }
            // Whatever happened, the batch holds whole rows a writer accepts.
            try batch.validate()
            try batch.validateSiblings()
            let w = try ParquetWriter(schema: mapping.schema, sink: MemorySink())
            try w.write(batch)
            try w.close()
        }
        #expect(outcomes[0] > 0 && outcomes[1] > 0)
    }
}
