#if canImport(Glibc)
import LakeModel
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A JSON syntax problem found by ``JSONScanner``: the byte offset in the scanned text and what was expected.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public var description: String { "invalid JSON at byte \(offset + 1): \(reason)" }
}

/// A byte-level JSON tokenizer over memory the caller keeps alive.
///
/// Nothing is allocated per value: strings without escapes come back as spans of the
/// input, strings with escapes are decoded into a reusable ``ScratchBuffer``, numbers
/// come back as ``NumberLiteral`` (digits accumulated while scanning). Values a caller
/// does not need are skipped without being decoded.
public struct JSONScanner {
    public let start: UnsafePointer<UInt8>
    public let end: UnsafePointer<UInt8>
    /// Next byte to read.
    public var p: UnsafePointer<UInt8>

    public init(_ bytes: UnsafeRawBufferPointer) {
        let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? JSONScanner.emptyPointer
        start = base
        end = base + bytes.count
        p = base
    }

    // Points at one immutable zero byte that is never freed or written: safe to share.
    nonisolated(unsafe) private static let emptyPointer: UnsafePointer<UInt8> = {
        let m = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
        m.initialize(to: 0)
        return UnsafePointer(m)
    }()

    public var offset: Int { p - start }
    public var atEnd: Bool { p >= end }

    @inline(__always)
    public func fail(_ reason: String) -> JSONSyntaxError {
        JSONSyntaxError(offset: p - start, reason: reason)
    }

    /// Skips spaces, tabs, CR and LF; returns the next byte or 0 at the end.
    @inline(__always)
    public mutating func peek() -> UInt8 {
        while p < end {
            let c = p.pointee
            if c == 0x20 || c == 0x0A || c == 0x0D || c == 0x09 { p += 1 } else { return c }
        }
        return 0
    }

    @inline(__always)
    public mutating func expect(_ byte: UInt8, _ what: StaticString) throws(JSONSyntaxError) {
        guard peek() == byte else { throw fail(p < end ? "expected \(what)" : "expected \(what), found end of input") }
        p += 1
    }

    /// True when one more member or element follows (consumes the `,`); false at the closing byte
    /// (consumed too).
    @inline(__always)
    public mutating func nextSeparator(close: UInt8) throws(JSONSyntaxError) -> Bool {
        let c = peek()
        if c == UInt8(ascii: ",") { p += 1; return true }
        if c == close { p += 1; return false }
        throw fail(close == UInt8(ascii: "}") ? "expected , or }" : "expected , or ]")
    }

    /// After `{` or `[`: true when the container is empty (and consumes its closing byte).
    @inline(__always)
    public mutating func isEmptyContainer(close: UInt8) -> Bool {
        if peek() == close { p += 1; return true }
        return false
    }

    // MARK: Strings

    /// The content of a string token; `p` is at the opening quote.
    /// Without escapes the span points into the input; with escapes it points into `scratch`
    /// (valid until the scratch buffer's next use). `nonASCII` is set when any byte ≥ 0x80 was seen.
    @inline(__always)
    public mutating func readString(_ scratch: ScratchBuffer, nonASCII: inout Bool) throws(JSONSyntaxError) -> UnsafeRawBufferPointer {
        p += 1 // opening quote
        let begin = p
        var high: UInt8 = 0
        // Eight bytes at a time while no quote, backslash or control byte is in the word.
        while end - p >= 8 {
            let w = UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let highs: UInt64 = 0x8080_8080_8080_8080
            let q = w ^ (ones &* 0x22)
            let b = w ^ (ones &* 0x5C)
            let special = ((q &- ones) & ~q) | ((b &- ones) & ~b) | ((w &- ones &* 0x20) & ~w)
            if special & highs != 0 { break }
            high |= UInt8(truncatingIfNeeded: (w & highs) != 0 ? 0x80 : 0)
            p += 8
        }
        while p < end {
            let c = p.pointee
            if c == UInt8(ascii: "\"") {
                let span = UnsafeRawBufferPointer(start: begin, count: p - begin)
                p += 1
                if high & 0x80 != 0 { nonASCII = true }
                return span
            }
            if c == UInt8(ascii: "\\") {
                if high & 0x80 != 0 { nonASCII = true }
                return try readEscapedString(from: begin, scratch, nonASCII: &nonASCII)
            }
            if c < 0x20 { throw fail("control character in string") }
            high |= c
            p += 1
        }
        throw fail("unterminated string")
    }

    private mutating func readEscapedString(from begin: UnsafePointer<UInt8>, _ scratch: ScratchBuffer,
                                            nonASCII: inout Bool) throws(JSONSyntaxError) -> UnsafeRawBufferPointer {
        scratch.reset()
        scratch.append(UnsafeRawBufferPointer(start: begin, count: p - begin))
        while p < end {
            var c = p.pointee
            if c == UInt8(ascii: "\"") {
                p += 1
                return scratch.bytes
            }
            if c < 0x20 { throw fail("control character in string") }
            if c != UInt8(ascii: "\\") {
                // Copy the run up to the next special byte.
                let runStart = p
                while p < end {
                    c = p.pointee
                    if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 { break }
                    if c >= 0x80 { nonASCII = true }
                    p += 1
                }
                scratch.append(UnsafeRawBufferPointer(start: runStart, count: p - runStart))
                continue
            }
            p += 1
            guard p < end else { break }
            let e = p.pointee
            p += 1
            switch e {
            case UInt8(ascii: "\""): scratch.append(byte: 0x22)
            case UInt8(ascii: "\\"): scratch.append(byte: 0x5C)
            case UInt8(ascii: "/"): scratch.append(byte: 0x2F)
            case UInt8(ascii: "b"): scratch.append(byte: 0x08)
            case UInt8(ascii: "f"): scratch.append(byte: 0x0C)
            case UInt8(ascii: "n"): scratch.append(byte: 0x0A)
            case UInt8(ascii: "r"): scratch.append(byte: 0x0D)
            case UInt8(ascii: "t"): scratch.append(byte: 0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    // A high surrogate must be followed by an escaped low surrogate.
                    guard end - p >= 6, p[0] == UInt8(ascii: "\\"), p[1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate in \\u escape")
                    }
                    p += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw fail("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw fail("unpaired surrogate in \\u escape")
                }
                if scalar >= 0x80 { nonASCII = true }
                scratch.appendUTF8(scalar)
            default:
                p -= 1
                throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard end - p >= 4 else { throw fail("short \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let c = p.pointee
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw fail("invalid hex digit in \\u escape")
            }
            v = v << 4 | d
            p += 1
        }
        return v
    }

    // MARK: Numbers and literals

    /// Reads a number token at `p` (a `-` or digit), validating the JSON number grammar.
    @inline(__always)
    public mutating func readNumber() throws(JSONSyntaxError) -> NumberLiteral {
        let begin = p
        while p < end {
            let c = p.pointee
            // digits, '+', '-', '.', 'e', 'E'
            if (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E || c == 0x2B || c == 0x65 || c == 0x45 { p += 1 } else { break }
        }
        let span = UnsafeRawBufferPointer(start: begin, count: p - begin)
        guard let n = NumberLiteral(span, strictJSON: true) else {
            p = begin
            throw fail("invalid number")
        }
        return n
    }

    /// Reads `true`, `false` or `null` at `p`; returns 1, 0 or -1.
    @inline(__always)
    public mutating func readLiteral() throws(JSONSyntaxError) -> Int {
        let c = p.pointee
        if c == UInt8(ascii: "t"), end - p >= 4, p[1] == UInt8(ascii: "r"), p[2] == UInt8(ascii: "u"), p[3] == UInt8(ascii: "e") {
            p += 4; return 1
        }
        if c == UInt8(ascii: "f"), end - p >= 5, p[1] == UInt8(ascii: "a"), p[2] == UInt8(ascii: "l"), p[3] == UInt8(ascii: "s"),
           p[4] == UInt8(ascii: "e") {
            p += 5; return 0
        }
        if c == UInt8(ascii: "n"), end - p >= 4, p[1] == UInt8(ascii: "u"), p[2] == UInt8(ascii: "l"), p[3] == UInt8(ascii: "l") {
            p += 4; return -1
        }
        throw fail("unexpected character")
    }

    /// Skips one value of any kind at the next non-space byte, validating its syntax.
    public mutating func skipValue(depth: Int = 0) throws(JSONSyntaxError) {
        guard depth < 512 else { throw fail("nesting deeper than 512") }
        let c = peek()
        switch c {
        case UInt8(ascii: "\""):
            p += 1
            while p < end {
                let b = p.pointee
                if b == UInt8(ascii: "\"") { p += 1; return }
                if b == UInt8(ascii: "\\") {
                    p += 1
                    guard p < end else { break }
                    let e = p.pointee
                    if e == UInt8(ascii: "u") {
                        p += 1
                        _ = try hex4()
                        continue
                    }
                    guard e == 0x22 || e == 0x5C || e == 0x2F || e == 0x62 || e == 0x66 || e == 0x6E || e == 0x72 || e == 0x74 else {
                        throw fail("invalid escape")
                    }
                } else if b < 0x20 {
                    throw fail("control character in string")
                }
                p += 1
            }
            throw fail("unterminated string")
        case UInt8(ascii: "{"):
            p += 1
            if isEmptyContainer(close: UInt8(ascii: "}")) { return }
            repeat {
                guard peek() == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                try skipValue(depth: depth + 1)
                try expect(UInt8(ascii: ":"), ":")
                try skipValue(depth: depth + 1)
            } while try nextSeparator(close: UInt8(ascii: "}"))
        case UInt8(ascii: "["):
            p += 1
            if isEmptyContainer(close: UInt8(ascii: "]")) { return }
            repeat {
                try skipValue(depth: depth + 1)
            } while try nextSeparator(close: UInt8(ascii: "]"))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            _ = try readNumber()
        case 0:
            throw fail("expected a value, found end of input")
        default:
            _ = try readLiteral()
        }
    }
}

/// A number's text with what the scan learned: sign, up to 19 significant digits as an
/// integer, the decimal exponent, and whether it is a plain integer literal.
public struct NumberLiteral {
    public var text: UnsafeRawBufferPointer
    public var negative: Bool
    /// True when there is no fraction and no exponent.
    public var isInteger: Bool
    /// The digits (point removed) when `digitCount` ≤ 19, else meaningless.
    public var mantissa: UInt64
    /// Count of digits after leading zeros (point removed).
    public var digitCount: Int
    /// value = ±mantissa × 10^exponent10 when digitCount ≤ 19.
    public var exponent10: Int

    /// Parses `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`. With `strictJSON` false (text from
    /// strings) a leading `+` and leading zeros are also accepted.
    @inline(__always)
    public init?(_ text: UnsafeRawBufferPointer, strictJSON: Bool) {
        self.text = text
        let n = text.count
        var i = 0
        negative = false
        if i < n, text[i] == UInt8(ascii: "-") { negative = true; i += 1 } else if !strictJSON, i < n, text[i] == UInt8(ascii: "+") { i += 1 }
        guard i < n, text[i] >= 0x30 && text[i] <= 0x39 else { return nil }
        if strictJSON, text[i] == 0x30, i + 1 < n, text[i + 1] >= 0x30 && text[i + 1] <= 0x39 { return nil }
        var m: UInt64 = 0
        var digits = 0
        var exp = 0
        while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
            let d = UInt64(text[i] &- 0x30)
            if digits > 0 || d != 0 {
                if digits < 19 { m = m &* 10 &+ d } else { exp += 1 }
                digits += 1
            }
            i += 1
        }
        var integer = true
        if i < n, text[i] == UInt8(ascii: ".") {
            integer = false
            i += 1
            guard i < n, text[i] >= 0x30 && text[i] <= 0x39 else { return nil }
            while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
                let d = UInt64(text[i] &- 0x30)
                if digits > 0 || d != 0 {
                    if digits < 19 { m = m &* 10 &+ d; exp -= 1 }
                    digits += 1
                } else {
                    exp -= 1
                }
                i += 1
            }
        }
        if i < n, text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E") {
            integer = false
            i += 1
            var eneg = false
            if i < n, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { eneg = text[i] == UInt8(ascii: "-"); i += 1 }
            guard i < n, text[i] >= 0x30 && text[i] <= 0x39 else { return nil }
            var e = 0
            while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
                if e < 100_000 { e = e * 10 + Int(text[i] &- 0x30) }
                i += 1
            }
            exp += eneg ? -e : e
        }
        guard i == n else { return nil }
        isInteger = integer
        mantissa = m
        digitCount = digits
        exponent10 = exp
    }

    /// The value as an Int64 when it is an integer literal that fits.
    @inline(__always)
    public var int64: Int64? {
        guard isInteger, digitCount <= 19 else { return nil }
        if negative {
            return mantissa <= UInt64(Int64.max) + 1 ? Int64(truncatingIfNeeded: 0 &- mantissa) : nil
        }
        return mantissa <= UInt64(Int64.max) ? Int64(mantissa) : nil
    }

    /// The value as a UInt64 when it is a non-negative integer literal that fits.
    public var uint64: UInt64? {
        guard isInteger, !negative || mantissa == 0 else { return nil }
        if digitCount <= 19 { return mantissa }
        guard digitCount == 20 else { return nil }
        // 20 digits: the 20th was counted into exponent10; recompute exactly.
        var v: UInt64 = 0
        for b in text where b >= 0x30 && b <= 0x39 {
            let (m1, o1) = v.multipliedReportingOverflow(by: 10)
            let (m2, o2) = m1.addingReportingOverflow(UInt64(b - 0x30))
            if o1 || o2 { return nil }
            v = m2
        }
        return v
    }

    /// The nearest Double (exact fast path for ≤ 15 digits and small exponents, else strtod).
    @inline(__always)
    public var double: Double {
        if digitCount <= 15 && exponent10 >= -22 && exponent10 <= 22 {
            var d = Double(mantissa)
            if exponent10 < 0 { d /= NumberLiteral.powers[-exponent10] } else { d *= NumberLiteral.powers[exponent10] }
            return negative ? -d : d
        }
        return slowDouble()
    }

    private static let powers: [Double] = (0...22).map { e in
        var v = 1.0
        for _ in 0..<e { v *= 10 }
        return v
    }

    private func slowDouble() -> Double {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: text.count + 1) { buf in
            for i in 0..<text.count { buf[i] = CChar(bitPattern: text[i]) }
            buf[text.count] = 0
            return strtod(buf.baseAddress!, nil)
        }
    }
}

/// A growable byte buffer reused across values (decoded strings, base64, row staging).
/// A class so several decoders can share one without copies; it is used by one thread at a time.
public final class ScratchBuffer {
    public private(set) var base: UnsafeMutablePointer<UInt8>
    public private(set) var count = 0
    private var capacity: Int

    public init(capacity: Int = 4096) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    deinit { base.deallocate() }

    @inline(__always) public func reset() { count = 0 }

    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    @inline(__always)
    public func reserve(_ extra: Int) {
        if count + extra > capacity { grow(count + extra) }
    }

    private func grow(_ needed: Int) {
        var c = capacity * 2
        while c < needed { c *= 2 }
        let n = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        n.update(from: base, count: count)
        base.deallocate()
        base = n
        capacity = c
    }

    @inline(__always)
    public func append(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).update(from: bytes.baseAddress!.assumingMemoryBound(to: UInt8.self), count: bytes.count)
        count += bytes.count
    }

    @inline(__always)
    public func append(byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    public func append(_ s: StaticString) {
        append(UnsafeRawBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    /// Appends one Unicode scalar as UTF-8.
    public func appendUTF8(_ v: UInt32) {
        reserve(4)
        if v < 0x80 {
            base[count] = UInt8(v); count += 1
        } else if v < 0x800 {
            base[count] = UInt8(0xC0 | (v >> 6)); base[count + 1] = UInt8(0x80 | (v & 0x3F)); count += 2
        } else if v < 0x10000 {
            base[count] = UInt8(0xE0 | (v >> 12)); base[count + 1] = UInt8(0x80 | ((v >> 6) & 0x3F))
            base[count + 2] = UInt8(0x80 | (v & 0x3F)); count += 3
        } else {
            base[count] = UInt8(0xF0 | (v >> 18)); base[count + 1] = UInt8(0x80 | ((v >> 12) & 0x3F))
            base[count + 2] = UInt8(0x80 | ((v >> 6) & 0x3F)); base[count + 3] = UInt8(0x80 | (v & 0x3F)); count += 4
        }
    }

    /// Truncates to `n` bytes (a mark taken earlier).
    @inline(__always) public func truncate(_ n: Int) { count = n }
}
