@testable import LakeModel
import Foundation
import Testing
import TestSupport

/// The bounds checked before the YAML parser runs: file size and nesting depth. Inputs that
/// crashed the parser (100,000 levels) end in a ``ConfigError`` with the file and line.
@Suite struct ConfigLimitsTests {
    func loadError(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader(environment: [:]).load(yaml: yaml, file: "deep.yaml")
            return nil
        } catch {
            return error
        }
    }

    func expectNestingError(_ yaml: String, line: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let e = loadError(yaml)
        #expect(e?.line == line, "\(String(describing: e))", sourceLocation: sourceLocation)
        #expect(e?.message.contains("nested deeper than 64 levels") == true, "\(String(describing: e))", sourceLocation: sourceLocation)
        #expect(e?.description.hasPrefix("deep.yaml:\(line): nested deeper") == true, sourceLocation: sourceLocation)
    }

    @Test func flowSequences100kDeepAreRefused() {
        expectNestingError(String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000), line: 1)
        expectNestingError("entities:\n  e: " + String(repeating: "[", count: 100_000), line: 2)
    }

    @Test func flowMappings100kDeepAreRefused() {
        expectNestingError("redis:\n  url: redis://x\nentities: " + String(repeating: "{a: ", count: 100_000), line: 3)
    }

    @Test func blockSequenceIndicators100kDeepAreRefused() {
        expectNestingError(String(repeating: "- ", count: 100_000) + "x\n", line: 1)
        expectNestingError("entities:\n  e:\n    " + String(repeating: "- ", count: 100_000) + "x\n", line: 3)
    }

    @Test func blockIndentationPastTheLimitIsRefused() {
        // 70 nested mappings; line 64 opens the 64th level, line 65 the 65th.
        let yaml = (0..<70).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " x\n"
        expectNestingError(yaml, line: 65)
        // Block levels and flow levels add up.
        let mixed = (0..<60).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
            + " " + String(repeating: "[", count: 10) + String(repeating: "]", count: 10) + "\n"
        expectNestingError(mixed, line: 60)
    }

    @Test func nestingAtTheLimitReachesTheParser() {
        let yaml = "entities:\n  e:\n    stream: s\n    columns: " + String(repeating: "[", count: 61) + String(repeating: "]", count: 61) + "\n"
        #expect(ConfigLimits.nestingViolation(in: yaml) == nil)
        let e = loadError(yaml)
        #expect(e?.keyPath == "entities.e.columns", "\(String(describing: e))")
        #expect(e?.message == "expected a mapping")
        #expect(ConfigLimits.nestingViolation(in: (0..<64).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")) == nil)
        #expect(ConfigLimits.nestingViolation(in: (0..<65).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n")) == 65)
    }

    @Test func bracketsInScalarsAndCommentsDoNotCount() throws {
        let deep = String(repeating: "[", count: 1000)
        let yaml = """
            # \(deep)
            redis:
              url: redis://h:6379   # \(deep)
              group: "\(deep)"
              consumer: '\(deep) it''s \(deep)'
              route_field: a\(deep)
            entities:
              e:
                stream: |
                  \(deep)
                  \(String(repeating: "- ", count: 1000))
                columns: {a: "\(deep)", b: int64}
            """
        #expect(ConfigLimits.nestingViolation(in: yaml) == nil)
        // It reaches the parser and the checks: the column type is not valid.
        let e = loadError(yaml)
        #expect(e?.keyPath == "entities.e.columns.a")
        #expect(ConfigLimits.nestingViolation(in: Fixtures.exampleConfig) == nil)
        #expect(ConfigLimits.nestingViolation(in: Fixtures.evolvingEntityConfig) == nil)
    }

    @Test func oversizedConfigurationIsRefused() throws {
        let big = "entities: {e: {stream: s, columns: {a: int64}}}\n" + String(repeating: "#\n", count: ConfigLimits.maximumFileBytes / 2)
        let e = loadError(big)
        #expect(e?.line == nil)
        #expect(e?.message.contains("the limit is 1048576 bytes (1 MiB)") == true, "\(String(describing: e))")

        let dir = try TestEnvironment.temporaryDirectory("config-limits").path
        let path = dir + "/big.yaml"
        try big.write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigLoader(environment: [:]).load(path: path)
            Issue.record("expected an error")
        } catch {
            #expect(error.file == path)
            #expect(error.description.hasPrefix("\(path): the configuration is \(big.utf8.count) bytes"), "\(error)")
        }
        // Just under the limit still loads.
        let fits = "entities: {e: {stream: s, columns: {a: int64}}}\n"
        let padded = fits + String(repeating: "#", count: ConfigLimits.maximumFileBytes - fits.utf8.count)
        #expect(try ConfigLoader(environment: [:]).load(yaml: padded).entities.count == 1)
    }

    /// Seeded mutations of the example configuration (bytes flipped, YAML indicators inserted,
    /// slices repeated, runs of `[`, `{` and `- `): each load ends in a config or a ConfigError.
    @Test func mutatedConfigurationsNeverCrash() {
        var rng = SeededGenerator(seed: Fuzz.seed(0x5EED_C0F1))
        let base = Array(Fixtures.exampleConfig.utf8)
        let alphabet = Array("[]{}-:?,'\"#|>&*!%@` \n\t\\x0_.".utf8) + [0xC3, 0xA9, 0x00, 0xFF]
        var outcomes = (configs: 0, errors: 0, nesting: 0)
        for _ in 0..<Fuzz.cases(3000) {
            var b = base
            for _ in 0..<Int.random(in: 1...6, using: &rng) {
                let at = Int.random(in: 0...b.count, using: &rng)
                switch Int.random(in: 0..<6, using: &rng) {
                case 0: b.insert(alphabet.randomElement(using: &rng)!, at: at)
                case 1 where at < b.count: b.remove(at: at)
                case 2 where at < b.count: b[at] = alphabet.randomElement(using: &rng)!
                case 3:
                    let end = min(b.count, at + Int.random(in: 1...80, using: &rng))
                    b.insert(contentsOf: b[at..<end], at: at)
                case 4:
                    let run = Array(["[", "{a: ", "- ", "? ", "  ", "\n  - "].randomElement(using: &rng)!.utf8)
                    let n = Int.random(in: 1...(Bool.random(using: &rng) ? 70 : 3000), using: &rng)
                    b.insert(contentsOf: Array((0..<n).map { _ in run }.joined()), at: at)
                default:
                    let end = min(b.count, at + Int.random(in: 1...40, using: &rng))
                    b.removeSubrange(at..<end)
                }
            }
            let text = String(decoding: b, as: UTF8.self)
            do {
                _ = try ConfigLoader(environment: Fixtures.exampleEnvironment).load(yaml: text, file: "fuzz.yaml")
                outcomes.configs += 1
            } catch {
                outcomes.errors += 1
                if error.message.contains("nested deeper") { outcomes.nesting += 1 }
                #expect(error.description.hasPrefix("fuzz.yaml"))
            }
        }
        // Both outcomes and the nesting check are exercised.
        #expect(outcomes.configs > 100 && outcomes.errors > 100 && outcomes.nesting > 50, "\(outcomes)")
    }
}
