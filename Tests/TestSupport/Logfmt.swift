/// A strict logfmt parser (the grammar of go-logfmt, which Grafana Loki, Vector and Heroku's tools
/// read): `key=value` pairs separated by one space; a key is printable characters other than space,
/// `=` and `"`; a value is bare (the same characters, non-empty) or quoted with JSON escapes
/// (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\uXXXX`) and no raw control character. Anything
/// else, and a key given twice, is an error.
public enum Logfmt {
    public struct Failure: Error, CustomStringConvertible {
        public var message: String
        public var line: String
        public var description: String { "\(message) in \(line.debugDescription)" }
    }

    /// The pairs of one line (without its newline), in order.
    public static func parse(_ line: String) throws -> [(key: String, value: String)] {
        let s = Array(line.unicodeScalars)
        var i = 0
        var pairs: [(key: String, value: String)] = []
        var seen: Set<String> = []
        func fail(_ m: String) -> Failure { Failure(message: m + " at \(i)", line: line) }
        func isControl(_ u: Unicode.Scalar) -> Bool { u.value < 0x20 || (0x7F...0x9F).contains(u.value) }
        func bare(_ u: Unicode.Scalar) -> Bool { u != " " && u != "=" && u != "\"" && !isControl(u) }
        guard !s.isEmpty else { throw fail("empty line") }
        while i < s.count {
            if !pairs.isEmpty {
                guard s[i] == " " else { throw fail("expected one space between pairs") }
                i += 1
            }
            var key = ""
            while i < s.count, bare(s[i]) { key.unicodeScalars.append(s[i]); i += 1 }
            guard !key.isEmpty else { throw fail("expected a key") }
            guard i < s.count, s[i] == "=" else { throw fail("expected = after key \(key)") }
            i += 1
            var value = ""
            if i < s.count, s[i] == "\"" {
                i += 1
                var closed = false
                while i < s.count {
                    let u = s[i]
                    if u == "\"" { closed = true; i += 1; break }
                    if isControl(u) { throw fail("raw control character in a quoted value") }
                    if u == "\\" {
                        i += 1
                        guard i < s.count else { throw fail("dangling backslash") }
                        switch s[i] {
                        case "\"": value += "\""
                        case "\\": value += "\\"
                        case "/": value += "/"
                        case "b": value += "\u{8}"
                        case "f": value += "\u{C}"
                        case "n": value += "\n"
                        case "r": value += "\r"
                        case "t": value += "\t"
                        case "u":
                            guard i + 4 < s.count, let v = UInt32(String(String.UnicodeScalarView(s[(i + 1)...(i + 4)])), radix: 16),
                                  let scalar = Unicode.Scalar(v) else { throw fail("bad \\u escape") }
                            value.unicodeScalars.append(scalar)
                            i += 4
                        default: throw fail("unknown escape \\\(s[i])")
                        }
                        i += 1
                        continue
                    }
                    value.unicodeScalars.append(u)
                    i += 1
                }
                guard closed else { throw fail("unterminated quoted value") }
            } else {
                while i < s.count, bare(s[i]) { value.unicodeScalars.append(s[i]); i += 1 }
                guard !value.isEmpty else { throw fail("empty bare value for \(key) (write \"\")") }
            }
            guard seen.insert(key).inserted else { throw fail("key \(key) given twice") }
            pairs.append((key, value))
        }
        return pairs
    }

    /// The pairs of one line as a dictionary.
    public static func fields(_ line: String) throws -> [String: String] {
        Dictionary(uniqueKeysWithValues: try parse(line).map { ($0.key, $0.value) })
    }
}
