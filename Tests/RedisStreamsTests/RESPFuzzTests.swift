import CHiredis
@testable import RedisStreams
import Testing
import TestSupport

/// The RESP path of stream reads from raw bytes: hiredis's reader with the flat-token functions
/// (`lw_flat_parse`, the same functions a connection uses), then ``StreamBatch/decodeRead``.
/// Generated XREADGROUP replies (binary field names and values, deleted entries, several
/// streams) decode to exactly what was encoded; thousands of mutations of them (flipped bytes,
/// cuts, changed lengths and counts, changed type markers, insertions) end in a batch, an
/// incomplete reply or a protocol/`unexpectedReply` error, never a crash.
@Suite struct RESPFuzzTests {
    struct Entry: Equatable { var id: String; var fields: [([UInt8], [UInt8])]?
        static func == (a: Entry, b: Entry) -> Bool {
            a.id == b.id && a.fields?.map { $0.0 } == b.fields?.map { $0.0 } && a.fields?.map { $0.1 } == b.fields?.map { $0.1 }
        }
    }

    static func bulk(_ b: [UInt8]) -> [UInt8] { Array("$\(b.count)\r\n".utf8) + b + Array("\r\n".utf8) }
    static func array(_ n: Int) -> [UInt8] { Array("*\(n)\r\n".utf8) }

    static func encode(_ streams: [(String, [Entry])]) -> [UInt8] {
        var out = array(streams.count)
        for (name, entries) in streams {
            out += array(2) + bulk(Array(name.utf8)) + array(entries.count)
            for e in entries {
                out += array(2) + bulk(Array(e.id.utf8))
                if let f = e.fields {
                    out += array(f.count * 2)
                    for (k, v) in f { out += bulk(k) + bulk(v) }
                } else {
                    out += Array("*-1\r\n".utf8)
                }
            }
        }
        return out
    }

    static func generate(_ rng: inout SeededGenerator) -> [(String, [Entry])] {
        (0..<Int.random(in: 1...3, using: &rng)).map { s in
            var ms = UInt64.random(in: 0...1_800_000_000_000, using: &rng)
            let entries = (0..<Int.random(in: 0...6, using: &rng)).map { _ -> Entry in
                ms += UInt64.random(in: 0...3, using: &rng)
                let id = "\(ms)-\(Int.random(in: 0...9, using: &rng))"
                if Int.random(in: 0..<8, using: &rng) == 0 { return Entry(id: id, fields: nil) }
                let fields = (0..<Int.random(in: 0...4, using: &rng)).map { _ in
                    ((0..<Int.random(in: 1...6, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) },
                     (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) })
                }
                return Entry(id: id, fields: fields)
            }
            return ("s\(s)", entries)
        }
    }

    /// 1: a reply, 0: incomplete, -1: protocol error.
    static func parse(_ bytes: [UInt8], into flat: FlatReply) -> Int32 {
        bytes.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { lw_flat_parse($0.baseAddress, $0.count, flat.storage) }
        }
    }

    static func decode(_ flat: FlatReply) throws(RedisError) -> [(String, [Entry])] {
        try StreamBatch.decodeRead(flat, source: .new, skipThrough: { _ in nil }, operation: "XREADGROUP").map { d in
            let b = d.batch
            return (b.stream, b.entries.map { e in
                Entry(id: b.string(e.idRange), fields: e.isDeleted ? nil : e.fieldIndices.map { f in
                    (Array(b.bytes[b.fields[f].name]), Array(b.bytes[b.fields[f].value]))
                })
            })
        }
    }

    @Test func generatedRepliesRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5EED_4E5B)
        let flat = FlatReply()
        for _ in 0..<500 {
            let streams = Self.generate(&rng)
            #expect(Self.parse(Self.encode(streams), into: flat) == 1)
            let back = try Self.decode(flat)
            #expect(back.map(\.0) == streams.map(\.0))
            #expect(back.map(\.1) == streams.map(\.1))
        }
        // A reply in two halves is incomplete, not an error, until the rest arrives.
        let bytes = Self.encode([("s", [Entry(id: "1-1", fields: [(Array("k".utf8), Array("v".utf8))])])])
        #expect(Self.parse(Array(bytes.prefix(bytes.count / 2)), into: flat) == 0)
    }

    @Test func mutatedRepliesNeverCrash() {
        var rng = SeededGenerator(seed: Fuzz.seed(0xF022_0001))
        let flat = FlatReply()
        var outcomes = [0, 0, 0, 0]  // decoded, incomplete, protocol error, unexpectedReply
        let markers: [UInt8] = Array("*$:+-_,#%~>(=".utf8)
        for _ in 0..<Fuzz.cases(6000) {
            var bytes = Self.encode(Self.generate(&rng))
            for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                let at = Int.random(in: 0..<bytes.count, using: &rng)
                switch Int.random(in: 0..<7, using: &rng) {
                case 0: bytes[at] = UInt8.random(in: 0...255, using: &rng)
                case 1: bytes.removeSubrange(at...)
                case 2: bytes.insert(contentsOf: Array("\(Int.random(in: -2...99_999_999, using: &rng))".utf8), at: at)
                case 3: bytes[at] = markers.randomElement(using: &rng)!
                case 4: bytes.remove(at: at)
                case 5:  // a length or count replaced by a huge or negative one
                    if let line = bytes[at...].firstIndex(where: { $0 == UInt8(ascii: "$") || $0 == UInt8(ascii: "*") }),
                       let end = bytes[line...].firstIndex(of: UInt8(ascii: "\r")) {
                        let n = ["-1", "-7", "0", "2147483647", "9223372036854775807", "4294967297", "99999999999999999999"]
                            .randomElement(using: &rng)!
                        bytes.replaceSubrange((line + 1)..<end, with: Array(n.utf8))
                    }
                default: bytes.insert(contentsOf: Self.array(Int.random(in: 0...3, using: &rng)), at: at)
                }
            }
            switch Self.parse(bytes, into: flat) {
            case 1:
                do { _ = try Self.decode(flat); outcomes[0] += 1 } catch {
                    #expect(error.code == .unexpectedReply)
                    outcomes[3] += 1
                }
            case 0: outcomes[1] += 1
            default: outcomes[2] += 1
            }
        }
        // Every kind of outcome happened: the mutations reach each layer.
        #expect(outcomes.allSatisfy { $0 > 50 }, "\(outcomes)")
    }
}
