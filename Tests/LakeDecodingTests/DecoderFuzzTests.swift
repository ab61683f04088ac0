@testable import LakeModel
@testable import LakeDecoding
import Parquet
import Testing
import TestSupport

/// Outside input never crashes the decoders: seeded mutations of real payloads (JSON objects for
/// every type of the grammar, flat fields) end in a staged row or a DecodeError, and every row
/// committed after a successful stage leaves the batch valid for the writer.
@Suite struct DecoderFuzzTests {
    static let seeds: [String] = [
        #"{"b": true, "i8": -5, "i16": 300, "i32": 70000, "i64": 9007199254740993, "u8": 255, "u16": 65535, "u32": 4294967295, "u64": "18446744073709551615", "f32": 1.5, "f64": -2.5e-7, "d": "123.45", "dbig": "12345678901234567890.1234", "s": "ünïcode \"q\" \\ \n", "bin": "AAEC/w==", "id": "123e4567-e89b-12d3-a456-426614174000", "day": "2024-02-29", "tod": "23:59:59.999999", "ts": "2024-01-01T00:00:00.123456Z", "tsl": 1704067200000, "j": {"a": [1, {"b": null}]}, "tags": [1, null, 3], "items": [{"sku": "a", "qty": 1}, {"sku": "b"}], "attrs": {"x": 1, "y": null}, "geo": {"lat": 52.5}}"#,
        #"{"i64": 0, "tags": [], "items": [], "attrs": {}, "s": null, "j": [], "geo": null}"#,
        #"{"i64": -9223372036854775808, "f64": "NaN", "f32": "-Infinity", "ts": "2024-01-01 00:00:00+05:30"}"#,
    ]

    @Test func mutatedPayloadsNeverCrash() throws {
        let entity = try #require(try ConfigLoader(environment: [:]).load(yaml: "entities:\n  all:\n    stream: s\n    unknown_fields: keep\n" + Fixtures.allTypesColumns).entity(named: "all"))
        let decoder = try EntityDecoder(entity: entity)
        var batch = decoder.makeBatch()
        var rng = SeededGenerator(seed: Fuzz.seed(0xD3C0DE))
        let alphabet = Array("{}[]\":,\\-+.eE0123456789 tfnaluü\u{0}\n".utf8) + [0xFF, 0xC3, 0x80]
        var accepted = 0, refused = 0
        for c in 0..<Fuzz.cases(6000) {
            var b = Array(Self.seeds[c % Self.seeds.count].utf8)
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                switch Int.random(in: 0..<5, using: &rng) {
                case 0: b[Int.random(in: 0..<b.count, using: &rng)] = alphabet.randomElement(using: &rng)!
                case 1: b.insert(alphabet.randomElement(using: &rng)!, at: Int.random(in: 0...b.count, using: &rng))
                case 2: if b.count > 1 { b.remove(at: Int.random(in: 0..<b.count, using: &rng)) }
                case 3: b.removeLast(Int.random(in: 0..<min(b.count, 40), using: &rng))
                default:  // deep nesting
                    let depth = Int.random(in: 1...2000, using: &rng)
                    let at = Int.random(in: 0...b.count, using: &rng)
                    b.insert(contentsOf: [UInt8](repeating: UInt8(ascii: "["), count: depth), at: at)
                }
                if b.isEmpty { b = [UInt8(ascii: "{")] }
            }
            let error = withBytes(b) { p throws(DecodeError) in try decoder.stageJSON(p) }
            if error == nil {
                accepted += 1
                "\(c)".utf8.withContiguousStorageIfAvailable { decoder.commitStaged(streamID: UnsafeRawBufferPointer($0), into: &batch) }
            } else {
                refused += 1
            }
        }
        try batch.validate()
        #expect(batch.rowCount == accepted)
        #expect(accepted > 50 && refused > 3000, "accepted \(accepted), refused \(refused)")
        // The batch the decoder filled is writable.
        final class Sink: ParquetSink {
            var n = 0
            func write(_ b: UnsafeRawBufferPointer) throws { n += b.count }
            func close() throws {}
        }
        let writer = try ParquetWriter(schema: batch.schema, sink: Sink())
        try writer.write(batch)
        _ = try writer.close()
    }
}
