/// Bounds on a configuration file, checked before the YAML parser sees the text: a hostile or
/// broken file (megabytes of text, `[` or `- ` nested 100,000 deep) must end in a ``ConfigError``,
/// not in the parser's recursion running out of stack.
public enum ConfigLimits {
    /// Largest configuration file read: 1 MiB.
    public static let maximumFileBytes = 1 << 20
    /// Deepest nesting of mappings, sequences and flow collections (`[`, `{`) accepted.
    public static let maximumNesting = 64

    /// The first place the text nests deeper than `limit`, as a 1-based line, or nil.
    ///
    /// A cheap conservative scan, not a YAML parser: block nesting follows indentation (and
    /// each `- ` / `? ` indicator on a line), flow nesting counts `[` and `{` outside quoted
    /// scalars and comments; block scalar (`|`, `>`) contents are skipped. It may count a level
    /// more than the parser would, never fewer.
    public static func nestingViolation(in text: String, limit: Int = maximumNesting) -> Int? {
        var scan = NestingScan(limit: limit)
        var line = 1
        var violation: Int?
        var bytes = text.utf8[...]
        while violation == nil, !bytes.isEmpty {
            let end = bytes.firstIndex(of: UInt8(ascii: "\n")) ?? bytes.endIndex
            if !scan.line(Array(bytes[bytes.startIndex..<end])) { violation = line }
            bytes = end == bytes.endIndex ? bytes[end...] : bytes[bytes.index(after: end)...]
            line += 1
        }
        return violation
    }
}

/// The state of ``ConfigLimits/nestingViolation(in:limit:)`` between lines.
private struct NestingScan {
    let limit: Int
    /// Columns of the open block nodes, innermost last.
    var blockColumns: [Int] = []
    var flowDepth = 0
    /// Inside a quoted scalar that continues on the next line (`"` or `'`).
    var quote: UInt8?
    /// Inside a block scalar whose content lines are indented more than this column.
    var blockScalarColumn: Int?

    init(limit: Int) { self.limit = limit }

    static let space = UInt8(ascii: " "), hash = UInt8(ascii: "#"), dash = UInt8(ascii: "-")
    static let question = UInt8(ascii: "?"), colon = UInt8(ascii: ":"), comma = UInt8(ascii: ",")
    static let dquote = UInt8(ascii: "\""), squote = UInt8(ascii: "'"), backslash = UInt8(ascii: "\\")
    static let openers: Set<UInt8> = [UInt8(ascii: "["), UInt8(ascii: "{")]
    static let closers: Set<UInt8> = [UInt8(ascii: "]"), UInt8(ascii: "}")]

    /// Scans one line (without its newline); false when it nests past the limit.
    mutating func line(_ b: [UInt8]) -> Bool {
        var i = 0
        var indent = 0
        while indent < b.count, b[indent] == Self.space { indent += 1 }
        let blank = indent == b.count || b[indent] == Self.hash || b[indent] == UInt8(ascii: "\r")
        if let column = blockScalarColumn {
            if blank || indent > column { return true }
            blockScalarColumn = nil
        }
        if quote == nil, flowDepth == 0 {
            if blank { return true }
            // Block structure: the line's indentation, then one level per `- ` / `? ` indicator.
            while let last = blockColumns.last, last > indent { blockColumns.removeLast() }
            if blockColumns.last != indent { blockColumns.append(indent) }
            i = indent
            while i < b.count, b[i] == Self.dash || b[i] == Self.question,
                  i + 1 == b.count || b[i + 1] == Self.space {
                i += 1
                while i < b.count, b[i] == Self.space { i += 1 }
                guard i < b.count, b[i] != Self.hash else { break }
                blockColumns.append(i)
            }
            if blockColumns.count > limit { return false }
        }
        // The rest of the line: quoted scalars, comments, flow collections, block scalar headers.
        var valueStart = quote == nil
        var previous: UInt8 = Self.space
        while i < b.count {
            let c = b[i]
            if let q = quote {
                if q == Self.dquote, c == Self.backslash { i += 2; continue }
                if c == q {
                    if q == Self.squote, i + 1 < b.count, b[i + 1] == Self.squote { i += 2; continue }
                    quote = nil
                }
                previous = c
                i += 1
                continue
            }
            if c == Self.hash, previous == Self.space || previous == UInt8(ascii: "\t") { break }
            let tokenStart = previous == Self.space || previous == UInt8(ascii: "\t")
                || (flowDepth > 0 && (Self.openers.contains(previous) || previous == Self.comma || previous == Self.colon))
            if (c == Self.dquote || c == Self.squote), flowDepth > 0 ? tokenStart : valueStart {
                quote = c
            } else if Self.openers.contains(c), flowDepth > 0 || valueStart {
                flowDepth += 1
                if (blockColumns.count + flowDepth) > limit { return false }
            } else if Self.closers.contains(c), flowDepth > 0 {
                flowDepth -= 1
            } else if flowDepth == 0, valueStart, c == UInt8(ascii: "|") || c == UInt8(ascii: ">") {
                blockScalarColumn = blockColumns.last ?? 0
                return true
            }
            if c == Self.colon, i + 1 == b.count || b[i + 1] == Self.space {
                valueStart = true
            } else if valueStart, c == UInt8(ascii: "&") || c == UInt8(ascii: "!") {
                // An anchor or tag before the value: the value starts after it.
                while i + 1 < b.count, b[i + 1] != Self.space { i += 1 }
            } else if c != Self.space && c != UInt8(ascii: "\t") {
                valueStart = false
            }
            previous = c
            i += 1
        }
        return true
    }
}
