import Parquet

/// numeric: int16 ndigits, int16 weight, uint16 sign, int16 dscale, then ndigits base-10000
/// digits; value = Σ d[i]·10000^(weight−i).
extension Walker {
    static let signPositive: UInt16 = 0x0000, signNegative: UInt16 = 0x4000, signNaN: UInt16 = 0xC000,
        signPlusInfinity: UInt16 = 0xD000, signMinusInfinity: UInt16 = 0xF000

    struct NumericHeader {
        var ndigits: Int
        var weight: Int
        var sign: UInt16
        var dscale: Int
    }

    func numericHeader(_ p: Int, _ len: Int) throws(PostgresError) -> NumericHeader {
        guard len >= 8 else { throw malformed("numeric of \(len) bytes", p) }
        let h = NumericHeader(ndigits: Int(i16(p)), weight: Int(i16(p + 2)), sign: u16(p + 4), dscale: Int(i16(p + 6)))
        guard h.ndigits >= 0 && len == 8 + 2 * h.ndigits else {
            throw malformed("numeric with \(h.ndigits) digits in \(len) bytes", p)
        }
        guard h.dscale >= 0 else { throw malformed("numeric with display scale \(h.dscale)", p + 6) }
        switch h.sign {
        case Self.signPositive, Self.signNegative, Self.signNaN, Self.signPlusInfinity, Self.signMinusInfinity: break
        default: throw malformed("numeric sign 0x\(String(h.sign, radix: 16))", p + 4)
        }
        return h
    }

    /// numeric → decimal(p,s) unscaled: digits accumulated, then shifted to the column's scale
    /// (up when the value's scale is smaller). NaN, ±Infinity, digits beyond the scale and
    /// values over the precision refuse the row.
    mutating func decimal(_ n: Int, _ node: DecodeNode, _ p: Int, _ len: Int, rep: Int) throws(PostgresError) -> Bool {
        let h = try numericHeader(p, len)
        switch h.sign {
        case Self.signNaN: return refuse(n, "NaN cannot be stored in \(Self.decimalName(node))")
        case Self.signPlusInfinity: return refuse(n, "Infinity cannot be stored in \(Self.decimalName(node))")
        case Self.signMinusInfinity: return refuse(n, "-Infinity cannot be stored in \(Self.decimalName(node))")
        default: break
        }
        var unscaled: Int128 = 0
        if h.ndigits > 0 {
            // Decimal exponent of the last digit group, moved to the column's scale.
            var e = 4 * (h.weight - h.ndigits + 1) + Int(node.scale)
            var q = p + 8
            if h.ndigits <= 4 {
                // Fast path: up to 16 digits fit a UInt64.
                var acc: UInt64 = 0
                for _ in 0..<h.ndigits {
                    let d = u16(q)
                    guard d < 10000 else { throw malformed("numeric digit \(d)", q) }
                    acc = acc &* 10000 &+ UInt64(d)
                    q += 2
                }
                if e < 0 {
                    guard e >= -19 else {
                        return acc == 0 ? appendDecimal(node, 0, rep: rep) : refuse(n, "more fractional digits than \(Self.decimalName(node)) holds")
                    }
                    var div: UInt64 = 1
                    while e < 0 { div &*= 10; e += 1 }
                    guard acc % div == 0 else { return refuse(n, "more fractional digits than \(Self.decimalName(node)) holds") }
                    acc /= div
                }
                unscaled = Int128(acc)
            } else {
                // Groups wholly below the scale must be zero and are skipped, so 38 significant
                // digits never overflow on digits the scale drops anyway.
                for i in 0..<h.ndigits where u16(p + 8 + 2 * i) >= 10000 {
                    throw malformed("numeric digit \(u16(p + 8 + 2 * i))", p + 8 + 2 * i)
                }
                var last = h.ndigits - 1
                while e <= -4 && last >= 0 {
                    if u16(p + 8 + 2 * last) != 0 { return refuse(n, "more fractional digits than \(Self.decimalName(node)) holds") }
                    last -= 1
                    e += 4
                }
                var i = 0
                while i <= last {
                    var d = Int128(u16(q))
                    var radix: Int128 = 10000
                    if i == last && e < 0 {
                        var div: Int128 = 1
                        while e < 0 { div *= 10; e += 1 }
                        guard d % div == 0 else { return refuse(n, "more fractional digits than \(Self.decimalName(node)) holds") }
                        d /= div
                        radix /= div
                    }
                    let (m, o1) = unscaled.multipliedReportingOverflow(by: radix)
                    let (s, o2) = m.addingReportingOverflow(d)
                    if o1 || o2 { return refuse(n, "value exceeds \(Self.decimalName(node))") }
                    unscaled = s
                    q += 2
                    i += 1
                }
                if last < 0 { e = 0 }
            }
            while e > 0 && unscaled != 0 {
                let (m, o) = unscaled.multipliedReportingOverflow(by: 10)
                if o { return refuse(n, "value exceeds \(Self.decimalName(node))") }
                unscaled = m
                e -= 1
            }
        }
        if h.sign == Self.signNegative { unscaled = -unscaled }
        guard unscaled <= node.limit && unscaled >= -node.limit else { return refuse(n, "value exceeds \(Self.decimalName(node))") }
        return appendDecimal(node, unscaled, rep: rep)
    }

    /// `decimal(p,s)`, made only when a row is refused.
    static func decimalName(_ node: DecodeNode) -> String { "decimal(\(node.precision),\(node.scale))" }

    @inline(__always)
    mutating func appendDecimal(_ node: DecodeNode, _ unscaled: Int128, rep: Int) -> Bool {
        cols[Int(node.leaf)].appendDecimal(unscaled: unscaled, repetitionLevel: rep)
        return true
    }

    /// numeric → its exact text, as `numeric_out` prints it (dscale digits after the point),
    /// `NaN`, `Infinity`, `-Infinity`.
    mutating func numericText(_ node: DecodeNode, _ p: Int, _ len: Int, rep: Int) throws(PostgresError) {
        let h = try numericHeader(p, len)
        scratch.removeAll(keepingCapacity: true)
        switch h.sign {
        case Self.signNaN: scratch.append(contentsOf: [0x4E, 0x61, 0x4E])  // NaN
        case Self.signPlusInfinity, Self.signMinusInfinity:
            if h.sign == Self.signMinusInfinity { scratch.append(0x2D) }
            scratch.append(contentsOf: [0x49, 0x6E, 0x66, 0x69, 0x6E, 0x69, 0x74, 0x79])  // Infinity
        default:
            for i in 0..<h.ndigits where u16(p + 8 + 2 * i) >= 10000 {
                throw malformed("numeric digit \(u16(p + 8 + 2 * i))", p + 8 + 2 * i)
            }
            func digit(_ i: Int) -> Int { i >= 0 && i < h.ndigits ? Int(u16(p + 8 + 2 * i)) : 0 }
            if h.sign == Self.signNegative && h.ndigits > 0 { scratch.append(0x2D) }
            if h.weight < 0 {
                scratch.append(0x30)
            } else {
                for i in 0...h.weight {
                    let d = digit(i)
                    if i == 0 {
                        appendDigits(d, width: d >= 1000 ? 4 : d >= 100 ? 3 : d >= 10 ? 2 : 1)
                    } else {
                        appendDigits(d, width: 4)
                    }
                }
            }
            if h.dscale > 0 {
                scratch.append(0x2E)
                var emitted = 0
                var i = h.weight + 1
                while emitted < h.dscale {
                    let d = digit(i)
                    let take = min(4, h.dscale - emitted)
                    let drop = take == 4 ? 1 : take == 3 ? 10 : take == 2 ? 100 : 1000
                    appendDigits(d / drop, width: take)
                    emitted += take
                    i += 1
                }
            }
        }
        let leaf = Int(node.leaf)
        scratch.withUnsafeBytes { cols[leaf].appendBytes($0, repetitionLevel: rep) }
    }

    /// `value` as exactly `width` decimal digits (leading zeros kept).
    @inline(__always)
    mutating func appendDigits(_ value: Int, width: Int) {
        var v = value
        var buf: (UInt8, UInt8, UInt8, UInt8) = (0x30, 0x30, 0x30, 0x30)
        withUnsafeMutableBytes(of: &buf) { b in
            var i = width - 1
            while i >= 0 { b[i] = UInt8(0x30 + v % 10); v /= 10; i -= 1 }
            scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[0..<width]))
        }
    }
}
