@testable import LakeModel
import Testing
import TestSupport

/// The type grammar's bounds: nesting depth, struct width, name and text length. Types nested
/// 128+ / 256+ deep used to pass check-config and crash convert; now they are parse errors.
@Suite struct TypeGrammarLimitsTests {
    func failure(_ text: String) -> ColumnTypeParser.Failure? {
        do {
            _ = try ColumnTypeParser.parseField(text)
            return nil
        } catch {
            return error
        }
    }

    static func lists(_ n: Int, _ leaf: String = "int64") -> String {
        String(repeating: "list<", count: n) + leaf + String(repeating: ">", count: n)
    }

    static func structs(_ n: Int) -> String {
        String(repeating: "struct<a:", count: n) + "int64" + String(repeating: ">", count: n)
    }

    static func maps(_ n: Int) -> String {
        String(repeating: "map<string, ", count: n) + "int64" + String(repeating: ">", count: n)
    }

    @Test func deepTypesAreRefused() {
        for text in [Self.lists(128), Self.lists(10_000), Self.structs(256), Self.structs(5000), Self.maps(5000),
                     Self.lists(33), Self.structs(33), Self.maps(33)] {
            let f = failure(text)
            #expect(f?.message == "types nested deeper than 32 levels", "\(String(describing: f))")
            // The error quotes an excerpt, not the whole text.
            #expect((f?.description.count ?? 0) < 200, "\(String(describing: f?.description.count))")
        }
        #expect(failure(Self.lists(33))?.offset == 5 * 32)
        #expect(failure(Self.lists(33))!.description.hasPrefix("types nested deeper than 32 levels at position 161 of '…"))
    }

    @Test func depthAtTheLimitParses() throws {
        for text in [Self.lists(32), Self.structs(32), Self.maps(32),
                     String(repeating: "list<struct<a:map<string, ", count: 10) + "list<list<int64>>"
                         + String(repeating: ">>>", count: 10)] {
            let t = try ColumnTypeParser.parseField(text).type
            #expect(try ColumnTypeParser.parseField(t.description).type == t)
        }
        // Depth counts open levels, not all of them: siblings do not add up.
        let wide = "struct<" + (0..<40).map { "f\($0):" + Self.lists(31) }.joined(separator: ", ") + ">"
        #expect(failure(wide) == nil)
    }

    @Test func structFieldCountIsBounded() {
        func fields(_ n: Int) -> String { "struct<" + (0..<n).map { "f\($0):int8" }.joined(separator: ",") + ">" }
        #expect(failure(fields(1024)) == nil)
        #expect(failure(fields(1025))?.message == "struct with more than 1024 fields")
    }

    @Test func namesAndTextAreBounded() {
        #expect(failure("struct<\(String(repeating: "n", count: 255)):int8>") == nil)
        let long = failure("struct<\(String(repeating: "n", count: 256)):int8>")
        #expect(long?.message == "name longer than 255 characters")
        #expect(long?.offset == 7)
        #expect(failure(String(repeating: "x", count: 60_000))?.message == "name longer than 255 characters")
        #expect(failure(Self.lists(20_000))?.message == "type text longer than 65536 bytes")
        let huge = "struct<" + (0..<9000).map { "f\($0):int8" }.joined(separator: ",") + ">"
        #expect(failure(huge)?.message == "type text longer than 65536 bytes")
    }

    @Test func deepTypeInAConfigurationNamesTheColumn() {
        let yaml = "entities:\n  e:\n    stream: s\n    columns:\n      id: int64\n      deep: \(Self.lists(128))\n"
        do {
            _ = try ConfigLoader(environment: [:]).load(yaml: yaml, file: "c.yaml")
            Issue.record("accepted")
        } catch {
            #expect(error.line == 6)
            #expect(error.keyPath == "entities.e.columns.deep")
            #expect(error.description.hasPrefix("c.yaml:6: entities.e.columns.deep: types nested deeper than 32 levels at position 161"), "\(error)")
            #expect(error.description.count < 300)
        }
    }

    /// Seeded random token strings and mutations of valid types: every input parses to a type
    /// (whose description parses back to it) or fails with a position inside the text.
    @Test func mutatedTypesNeverCrash() {
        var rng = SeededGenerator(seed: Fuzz.seed(0x7E9E_5EED))
        let tokens = ["list", "<", ">", "struct", "map", "string", ",", ":", "a", "b", "_x9", "not", "null", "not null",
                      "decimal", "(", ")", "38", "0", "99999999999999999999", "timestamp", "us", "ns", "utc", "time",
                      " ", "\t", "int64", "uint8", "json", "uuid", "date", "é", "\u{0}", "<<", ">>", "list<", "struct<a:",
                      "map<string,", String(repeating: "z", count: 300)]
        let seeds = ["list<struct<sku:string not null, qty:int32>>", "map<string, decimal(12,2) not null>",
                     "struct<a:timestamp(us, utc), b:list<map<string, time(us)>>, c:uuid not null>",
                     Self.lists(32), Self.structs(31), "decimal(38,38)", "int64 not null"]
        var outcomes = (types: 0, failures: 0)
        for i in 0..<Fuzz.cases(5000) {
            var text: [Character]
            if i % 3 == 0 {
                text = Array((0..<Int.random(in: 0...60, using: &rng)).map { _ in tokens.randomElement(using: &rng)! }.joined())
            } else {
                text = Array(Bool.random(using: &rng) ? seeds.randomElement(using: &rng)! : Self.randomType(&rng, depth: 0))
                for _ in 0..<Int.random(in: i % 3 == 1 ? 0...0 : 1...3, using: &rng) {
                    let at = Int.random(in: 0...text.count, using: &rng)
                    switch Int.random(in: 0..<4, using: &rng) {
                    case 0: text.insert(contentsOf: tokens.randomElement(using: &rng)!, at: at)
                    case 1 where at < text.count: text.remove(at: at)
                    case 2:
                        let end = min(text.count, at + Int.random(in: 1...30, using: &rng))
                        text.insert(contentsOf: text[at..<end], at: at)
                    default:
                        let n = Int.random(in: 1...200, using: &rng)
                        text.insert(contentsOf: Array(repeating: Array(["list<", "struct<q:", "map<string,"].randomElement(using: &rng)!), count: n).joined(), at: at)
                    }
                }
            }
            let s = String(text)
            do {
                let t = try ColumnTypeParser.parseField(s).type
                #expect(try ColumnTypeParser.parseField(t.description).type == t, "\(s)")
                outcomes.types += 1
            } catch {
                #expect(error.offset >= 0 && error.offset <= s.count, "\(s): \(error)")
                #expect(error.description.count < 400)
                outcomes.failures += 1
            }
        }
        #expect(outcomes.types > 1000 && outcomes.failures > 1000, "\(outcomes)")
    }

    /// A random type text, nested up to about 40 levels (so past the limit at times).
    static func randomType(_ rng: inout SeededGenerator, depth: Int) -> String {
        let scalars = ["bool", "int8", "uint64", "float32", "double", "decimal(12, 2)", "string", "binary", "uuid", "date",
                       "time(us)", "timestamp(ns, utc)", "timestamp(ms)", "json"]
        let nullability = Int.random(in: 0..<4, using: &rng) == 0 ? " not null" : ""
        guard depth < 40, Int.random(in: 0..<10, using: &rng) < (depth < 3 ? 8 : 9) - (depth > 30 ? 2 : 0) else {
            return scalars.randomElement(using: &rng)! + nullability
        }
        switch Int.random(in: 0..<3, using: &rng) {
        case 0: return "list<\(randomType(&rng, depth: depth + 1))>" + nullability
        case 1: return "map<string, \(randomType(&rng, depth: depth + 1))>" + nullability
        default:
            let n = Int.random(in: 1...(depth < 2 ? 4 : 2), using: &rng)
            return "struct<" + (0..<n).map { "f\($0): \(randomType(&rng, depth: depth + 1))" }.joined(separator: ", ") + ">" + nullability
        }
    }
}
