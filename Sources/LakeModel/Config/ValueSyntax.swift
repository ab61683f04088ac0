/// Parsers for the small value languages used in the configuration: environment
/// references, durations and byte sizes. They return `nil` or a message rather than
/// throwing, so the YAML reader can attach the key path and line.
public enum ConfigSyntax {
    /// Expands `${VAR}` and `${VAR:-default}` from `environment`. `$$` stands for a literal `$`.
    /// A `${VAR}` whose variable is unset is an error (a typo would otherwise pass silently);
    /// `${VAR:-}` explicitly allows an empty value. `:-` also applies when the variable is set but empty,
    /// as in the shell.
    public static func expandEnvironment(_ text: String, environment: [String: String]) -> Result<String, ExpansionError> {
        guard text.contains("$") else { return .success(text) }
        var out = ""
        var chars = Substring(text)
        while let dollar = chars.firstIndex(of: "$") {
            out += chars[chars.startIndex..<dollar]
            let after = chars.index(after: dollar)
            if after < chars.endIndex, chars[after] == "$" {
                out += "$"
                chars = chars[chars.index(after: after)...]
                continue
            }
            guard after < chars.endIndex, chars[after] == "{" else {
                out += "$"
                chars = chars[after...]
                continue
            }
            guard let close = chars[after...].firstIndex(of: "}") else {
                return .failure(.unterminated)
            }
            let body = chars[chars.index(after: after)..<close]
            let name: Substring
            var fallback: Substring?
            if let sep = body.range(of: ":-") {
                name = body[body.startIndex..<sep.lowerBound]
                fallback = body[sep.upperBound...]
            } else {
                name = body
            }
            guard !name.isEmpty, name.allSatisfy({ $0 == "_" || $0.isASCII && ($0.isLetter || $0.isNumber) }),
                  !(name.first!.isNumber)
            else { return .failure(.badName(String(body))) }
            let value = environment[String(name)]
            if let fallback {
                out += (value?.isEmpty ?? true) ? String(fallback) : value!
            } else if let value {
                out += value
            } else {
                return .failure(.unset(String(name)))
            }
            chars = chars[chars.index(after: close)...]
        }
        out += chars
        return .success(out)
    }

    /// Why an environment reference could not be expanded.
    public enum ExpansionError: Error, Equatable, CustomStringConvertible {
        case unset(String)
        case badName(String)
        case unterminated

        public var description: String {
            switch self {
            case .unset(let name): "environment variable \(name) is not set (use ${\(name):-default} to allow that)"
            case .badName(let body): "invalid environment reference ${\(body)}"
            case .unterminated: "unterminated ${ in value"
            }
        }
    }

    /// Parses `250ms`, `2s`, `5m`, `1h`, `1d`, also combined like `1h30m`; a bare `0` is zero.
    /// Units: ns, us, ms, s, m, h, d. Fractions are accepted per component (`1.5s`).
    public static func parseDuration(_ text: String) -> Duration? {
        let s = text.trimmingSpaces()
        if s == "0" { return .zero }
        var total: Duration = .zero
        var rest = Substring(s)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let numEnd = rest.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? rest.endIndex
            let numText = rest[rest.startIndex..<numEnd]
            guard !numText.isEmpty, let number = Double(numText), number.isFinite else { return nil }
            rest = rest[numEnd...]
            let unitEnd = rest.firstIndex(where: { !$0.isLetter }) ?? rest.endIndex
            let unit = rest[rest.startIndex..<unitEnd]
            rest = rest[unitEnd...]
            let nanosPerUnit: Double
            switch unit {
            case "ns": nanosPerUnit = 1
            case "us", "µs": nanosPerUnit = 1e3
            case "ms": nanosPerUnit = 1e6
            case "s": nanosPerUnit = 1e9
            case "m": nanosPerUnit = 60e9
            case "h": nanosPerUnit = 3600e9
            case "d": nanosPerUnit = 86400e9
            default: return nil
            }
            let nanos = number * nanosPerUnit
            guard nanos < 9.2e18 else { return nil }
            total += .nanoseconds(Int64(nanos.rounded()))
        }
        return total
    }

    /// Parses a byte size: a bare integer is bytes; `KB`, `MB`, `GB`, `TB` are powers of 1000 and
    /// `KiB`, `MiB`, `GiB`, `TiB` powers of 1024 (`K`, `M`, `G` alone are read as binary units, as
    /// most tools do). Fractions are allowed (`1.5GiB`); the result is rounded down to whole bytes.
    public static func parseSize(_ text: String) -> Int64? {
        let s = text.trimmingSpaces()
        let numEnd = s.firstIndex(where: { !($0.isASCII && ($0.isNumber || $0 == ".")) }) ?? s.endIndex
        guard let number = Double(s[s.startIndex..<numEnd]), number.isFinite, number >= 0 else { return nil }
        let unit = s[numEnd...].trimmingSpaces().lowercased()
        let factor: Double
        switch unit {
        case "", "b": factor = 1
        case "kb": factor = 1e3
        case "mb": factor = 1e6
        case "gb": factor = 1e9
        case "tb": factor = 1e12
        case "k", "kib": factor = 1024
        case "m", "mib": factor = 1024 * 1024
        case "g", "gib": factor = 1024 * 1024 * 1024
        case "t", "tib": factor = 1024 * 1024 * 1024 * 1024
        default: return nil
        }
        let bytes = number * factor
        guard bytes < 9.2e18 else { return nil }
        return Int64(bytes)
    }

    /// Formats a duration the way the configuration writes it (`250ms`, `5s`, `2m`, `1h30m`).
    public static func format(_ d: Duration) -> String {
        let (sec, atto) = d.components
        let nanos = sec * 1_000_000_000 + atto / 1_000_000_000
        if nanos == 0 { return "0s" }
        if nanos % 1_000_000_000 != 0 {
            if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
            if nanos % 1000 == 0 { return "\(nanos / 1000)us" }
            return "\(nanos)ns"
        }
        var s = sec
        var out = ""
        if s >= 3600 { out += "\(s / 3600)h"; s %= 3600 }
        if s >= 60 { out += "\(s / 60)m"; s %= 60 }
        if s > 0 { out += "\(s)s" }
        return out
    }

    /// Formats a size with the largest binary unit that divides it exactly.
    public static func formatSize(_ bytes: Int64) -> String {
        for (unit, f) in [("TiB", Int64(1) << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]
        where bytes >= f && bytes % f == 0 {
            return "\(bytes / f)\(unit)"
        }
        return "\(bytes)"
    }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
