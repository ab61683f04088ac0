import Foundation

/// A deterministic generator (SplitMix64), so randomized tests and benchmark data are the
/// same on every run.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The `--name value` options of a benchmark, over defaults; an unknown name stops the program.
public struct BenchOptions {
    private var values: [String: String]

    public init(_ defaults: [String: String], arguments: [String] = Array(CommandLine.arguments.dropFirst())) {
        values = defaults
        var it = arguments.makeIterator()
        while let a = it.next() {
            let name = String(a.drop { $0 == "-" })
            guard a.hasPrefix("--"), values[name] != nil, let v = it.next() else {
                fatalError("unknown argument \(a) (options: \(defaults.keys.sorted().map { "--" + $0 }.joined(separator: " ")))")
            }
            values[name] = v
        }
    }

    public func string(_ name: String) -> String { values[name]! }
    public func int(_ name: String) -> Int {
        guard let n = Int(values[name]!) else { fatalError("--\(name) needs a whole number") }
        return n
    }
}

/// The size of the seeded fuzz loops: the fixed count CI runs, scaled by `LAKEWRITER_FUZZ_SCALE`
/// (`scripts/fuzz` runs them 100× longer), with `LAKEWRITER_FUZZ_SEED` mixed into every seed so a
/// long run explores new inputs. A failure names the seed that reproduces it.
public enum Fuzz {
    public static var scale: Int {
        ProcessInfo.processInfo.environment["LAKEWRITER_FUZZ_SCALE"].flatMap { Int($0) }.map { max(1, $0) } ?? 1
    }
    public static var extraSeed: UInt64 {
        ProcessInfo.processInfo.environment["LAKEWRITER_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0
    }
    /// `count` cases in CI, `count × scale` by hand.
    public static func cases(_ count: Int) -> Int { count * scale }
    /// The loop's own seed, mixed with `LAKEWRITER_FUZZ_SEED` (unchanged when it is unset).
    public static func seed(_ base: UInt64) -> UInt64 { extraSeed == 0 ? base : base ^ (extraSeed &* 0x9E37_79B9_7F4A_7C15) }
}
