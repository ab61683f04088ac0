import LakeModel

/// Text → value conversions shared by JSON payloads and flat string fields. Each works on raw
/// bytes, allocates nothing, and returns nil or a reason instead of guessing: decimals are never
/// rounded, timestamps never lose digits.
public enum ValueParsers {
    // MARK: Decimal

    /// Why a decimal was refused.
    public enum DecimalFailure: Error, Equatable {
        case syntax, scale, precision
    }

    /// The unscaled value of `text` (`-12.50`, `1e3`, `"0.1"` content) at `scale`, checked against
    /// `precision`. Extra fractional digits are accepted only when they are zeros.
    public static func decimal(_ text: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Result<Int128, DecimalFailure> {
        if let fast = decimalFast(text, precision: precision, scale: scale) { return .success(Int128(fast)) }
        return decimalSlow(text, precision: precision, scale: scale)
    }

    /// Powers of ten that fit an Int64.
    nonisolated(unsafe) static let powersOf10: UnsafePointer<Int64> = {
        let t = UnsafeMutablePointer<Int64>.allocate(capacity: 19)
        var v: Int64 = 1
        for i in 0..<19 { t[i] = v; if i < 18 { v *= 10 } }
        return UnsafePointer(t)
    }()

    /// The common case in 64-bit arithmetic: `-?digits[.digits]` with at most `scale` fraction digits
    /// and at most 18 digits in all. nil sends everything else (exponents, trailing zeros beyond the
    /// scale, errors) to the exact general path.
    @inline(__always)
    static func decimalFast(_ text: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Int64? {
        let n = text.count
        guard n > 0, n <= 20, precision <= 18 else { return nil }
        var i = 0
        let negative = text[0] == UInt8(ascii: "-")
        if negative { i = 1 }
        var v: Int64 = 0
        var digits = 0
        var fraction = -1
        while i < n {
            let c = text[i]
            let d = c &- 0x30
            if d < 10 {
                v = v &* 10 &+ Int64(d)
                digits += 1
                if fraction >= 0 { fraction += 1 }
            } else if c == UInt8(ascii: "."), fraction < 0 {
                fraction = 0
            } else {
                return nil
            }
            i += 1
        }
        if fraction == 0 || digits == 0 || digits > 18 { return nil }
        let f = max(fraction, 0)
        guard f <= scale else { return nil }
        let (scaled, overflow) = v.multipliedReportingOverflow(by: powersOf10[scale - f])
        guard !overflow, scaled < powersOf10[precision] else { return nil }
        return negative ? -scaled : scaled
    }

    static func decimalSlow(_ text: UnsafeRawBufferPointer, precision: Int, scale: Int) -> Result<Int128, DecimalFailure> {
        let n = text.count
        var i = 0
        var negative = false
        if i < n, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { negative = text[i] == UInt8(ascii: "-"); i += 1 }
        var digits: Int128 = 0
        var significant = 0 // digits after leading zeros, kept in `digits`
        var fraction = 0 // digits after the point kept in `digits`
        var sawDigit = false
        var trailingZeroOverflow = false
        func push(_ d: UInt8, isFraction: Bool) -> Bool {
            if significant == 0 && d == 0 {
                if isFraction { fraction += 1 }
                return true
            }
            guard significant < 38 else { return false }
            digits = digits * 10 + Int128(d)
            significant += 1
            if isFraction { fraction += 1 }
            return true
        }
        while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
            sawDigit = true
            if !push(text[i] - 0x30, isFraction: false) { return .failure(.precision) }
            i += 1
        }
        if i < n, text[i] == UInt8(ascii: ".") {
            i += 1
            while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
                sawDigit = true
                if !push(text[i] - 0x30, isFraction: true) { trailingZeroOverflow = true; if text[i] != 0x30 { return .failure(.scale) } }
                i += 1
            }
        }
        guard sawDigit else { return .failure(.syntax) }
        var exponent = 0
        if i < n, text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E") {
            i += 1
            var eneg = false
            if i < n, text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+") { eneg = text[i] == UInt8(ascii: "-"); i += 1 }
            guard i < n, text[i] >= 0x30 && text[i] <= 0x39 else { return .failure(.syntax) }
            while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
                if exponent < 10_000 { exponent = exponent * 10 + Int(text[i] - 0x30) }
                i += 1
            }
            if eneg { exponent = -exponent }
        }
        guard i == n else { return .failure(.syntax) }
        _ = trailingZeroOverflow
        // value = digits × 10^(exponent − fraction); bring it to `scale` fractional digits.
        var shift = scale - (fraction - exponent)
        while shift < 0 {
            // Dropping digits is allowed only when they are zeros.
            if digits % 10 != 0 { return .failure(.scale) }
            digits /= 10
            shift += 1
        }
        if digits == 0 { return .success(0) }
        let limit = pow10(precision)
        while shift > 0 {
            digits *= 10
            shift -= 1
            if digits >= limit { return .failure(.precision) }
        }
        if digits >= limit { return .failure(.precision) }
        return .success(negative ? -digits : digits)
    }

    static func pow10(_ n: Int) -> Int128 {
        var v: Int128 = 1
        for _ in 0..<n { v *= 10 }
        return v
    }

    // MARK: Dates and times

    /// Days since 1970-01-01 of a proleptic Gregorian date.
    @inline(__always)
    public static func daysFromCivil(_ y: Int, _ m: Int, _ d: Int) -> Int { CivilCalendar.daysFromCivil(y, m, d) }

    /// (year, month, day) of days since 1970-01-01.
    public static func civilFromDays(_ z: Int) -> (Int, Int, Int) { CivilCalendar.civilFromDays(z) }

    @inline(__always)
    static func digits(_ t: UnsafeRawBufferPointer, _ at: Int, _ count: Int) -> Int? {
        guard at + count <= t.count else { return nil }
        var v = 0
        for i in at..<(at + count) {
            let c = t[i] &- 0x30
            guard c < 10 else { return nil }
            v = v * 10 + Int(c)
        }
        return v
    }

    static func daysInMonth(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// `YYYY-MM-DD` → days since the epoch; the date must exist.
    @inline(__always)
    public static func date(_ t: UnsafeRawBufferPointer) -> Int32? {
        guard t.count == 10 else { return nil }
        return dateAt(t, 0).map { Int32($0) }
    }

    @inline(__always)
    static func dateAt(_ t: UnsafeRawBufferPointer, _ o: Int) -> Int? {
        guard let y = digits(t, o, 4), t[o + 4] == UInt8(ascii: "-"), let m = digits(t, o + 5, 2),
              t[o + 7] == UInt8(ascii: "-"), let d = digits(t, o + 8, 2),
              m >= 1, m <= 12, d >= 1, d <= daysInMonth(y, m)
        else { return nil }
        return daysFromCivil(y, m, d)
    }

    /// `HH:MM:SS[.f…]` at `o`; returns (nanoseconds of the day, bytes read, dropped non-zero digits).
    /// The fraction may have any number of digits; digits beyond `keepDigits` must be zeros.
    @inline(__always)
    static func clock(_ t: UnsafeRawBufferPointer, _ o: Int, keepDigits: Int) -> (Int64, Int)? {
        guard t.count >= o + 8, let h = digits(t, o, 2), t[o + 2] == UInt8(ascii: ":"), let mi = digits(t, o + 3, 2),
              t[o + 5] == UInt8(ascii: ":"), let s = digits(t, o + 6, 2), h < 24, mi < 60, s < 60
        else { return nil }
        var i = o + 8
        var sub: Int64 = 0
        if i < t.count, t[i] == UInt8(ascii: ".") {
            i += 1
            var n = 0
            while i < t.count, t[i] &- 0x30 < 10 {
                let d = Int64(t[i] &- 0x30)
                if n < keepDigits { sub = sub * 10 + d } else if d != 0 { return nil }
                n += 1
                i += 1
            }
            guard n > 0 else { return nil }
            while n < keepDigits { sub *= 10; n += 1 }
        }
        var unit: Int64 = 1
        for _ in 0..<keepDigits { unit *= 10 }
        return ((Int64(h) * 3600 + Int64(mi) * 60 + Int64(s)) * unit + sub, i - o)
    }

    /// `HH:MM:SS[.ffffff]` → microseconds since midnight (more digits only when zeros).
    public static func timeMicros(_ t: UnsafeRawBufferPointer) -> Int64? {
        guard let (v, n) = clock(t, 0, keepDigits: 6), n == t.count else { return nil }
        return v
    }

    /// Why a timestamp text was refused.
    public enum TimestampFailure: Error, Equatable {
        case syntax, offsetRequired, precision, range
    }

    /// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.f…](Z|±HH:MM)` (also `t`, `z`, a space separator) → units since
    /// the epoch of the UTC instant. Without an offset the text is accepted only when `requireOffset`
    /// is false, and read as written. Fraction digits finer than the unit must be zeros.
    public static func timestamp(_ t: UnsafeRawBufferPointer, unit: ColumnType.TimeUnit, requireOffset: Bool) -> Result<Int64, TimestampFailure> {
        guard t.count >= 19, let days = dateAt(t, 0) else { return .failure(.syntax) }
        let sep = t[10]
        guard sep == UInt8(ascii: "T") || sep == UInt8(ascii: "t") || sep == UInt8(ascii: " ") else { return .failure(.syntax) }
        guard let (tod, n) = clock(t, 11, keepDigits: unit.digits) else {
            // Distinguish "too many digits" from syntax errors for a useful message.
            if clock(t, 11, keepDigits: 9) != nil { return .failure(.precision) }
            return .failure(.syntax)
        }
        var i = 11 + n
        var offsetSeconds = 0
        if i == t.count {
            if requireOffset { return .failure(.offsetRequired) }
        } else {
            let c = t[i]
            if c == UInt8(ascii: "Z") || c == UInt8(ascii: "z") {
                i += 1
            } else if c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
                guard let oh = digits(t, i + 1, 2), i + 3 < t.count, t[i + 3] == UInt8(ascii: ":"), let om = digits(t, i + 4, 2),
                      oh < 24, om < 60
                else { return .failure(.syntax) }
                offsetSeconds = (oh * 3600 + om * 60) * (c == UInt8(ascii: "-") ? -1 : 1)
                i += 6
            } else {
                return .failure(.syntax)
            }
            guard i == t.count else { return .failure(.syntax) }
        }
        let perSecond = unit.perSecond
        let (daysUnits, o1) = Int64(days).multipliedReportingOverflow(by: 86_400 * perSecond)
        let (v, o2) = daysUnits.addingReportingOverflow(tod)
        let (w, o3) = v.subtractingReportingOverflow(Int64(offsetSeconds) * perSecond)
        if o1 || o2 || o3 { return .failure(.range) }
        return .success(w)
    }

    /// Epoch milliseconds → units, refusing overflow.
    @inline(__always)
    public static func fromEpochMillis(_ ms: Int64, unit: ColumnType.TimeUnit) -> Int64? {
        switch unit {
        case .millis: return ms
        case .micros:
            let (v, o) = ms.multipliedReportingOverflow(by: 1000)
            return o ? nil : v
        case .nanos:
            let (v, o) = ms.multipliedReportingOverflow(by: 1_000_000)
            return o ? nil : v
        }
    }

    // MARK: UUID, base64, UTF-8

    @inline(__always)
    static func hexValue(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: 0xFF
        }
    }

    /// Hex digit values, 0xFF for anything else; built once, read-only afterwards (safe to share).
    nonisolated(unsafe) static let hexTable: UnsafePointer<UInt8> = {
        let t = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
        for i in 0..<256 { t[i] = hexValue(UInt8(i)) }
        return UnsafePointer(t)
    }()

    /// Offsets of the 16 byte pairs in canonical UUID text.
    nonisolated(unsafe) static let uuidOffsets: UnsafePointer<Int> = {
        let t = UnsafeMutablePointer<Int>.allocate(capacity: 16)
        for (i, o) in [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34].enumerated() { t[i] = o }
        return UnsafePointer(t)
    }()

    /// Canonical `8-4-4-4-12` hex in any case → 16 bytes written to `out`.
    @inline(__always)
    public static func uuid(_ t: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Bool {
        guard t.count == 36 else { return false }
        let p = t.baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard p[8] == 0x2D, p[13] == 0x2D, p[18] == 0x2D, p[23] == 0x2D else { return false }
        let table = hexTable
        let offsets = uuidOffsets
        var bad: UInt8 = 0
        for j in 0..<16 {
            let o = offsets[j]
            let hi = table[Int(p[o])], lo = table[Int(p[o + 1])]
            bad |= hi | lo
            out[j] = hi << 4 | (lo & 0x0F)
        }
        return bad & 0xF0 == 0
    }

    private static let base64Table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        t[Int(UInt8(ascii: "-"))] = 62 // URL-safe alphabet too
        t[Int(UInt8(ascii: "_"))] = 63
        return t
    }()

    /// Standard or URL-safe base64, padding optional → bytes appended to `out`.
    public static func base64(_ t: UnsafeRawBufferPointer, into out: ScratchBuffer) -> Bool {
        var n = t.count
        while n > 0, t[n - 1] == UInt8(ascii: "=") { n -= 1 }
        guard t.count - n <= 2, n % 4 != 1 else { return false }
        if t.count != n, t.count % 4 != 0 { return false }
        out.reserve(n / 4 * 3 + 3)
        var acc: UInt32 = 0
        var bits = 0
        return base64Table.withUnsafeBufferPointer { table in
            for i in 0..<n {
                let v = table[Int(t[i])]
                if v == 0xFF { return false }
                acc = acc << 6 | UInt32(v)
                bits += 6
                if bits >= 8 {
                    bits -= 8
                    out.append(byte: UInt8(truncatingIfNeeded: acc >> UInt32(bits)))
                }
            }
            return true
        }
    }

    /// Strict UTF-8 validation (no overlongs, no surrogates, ≤ U+10FFFF).
    public static func isValidUTF8(_ t: UnsafeRawBufferPointer) -> Bool {
        var i = 0
        let n = t.count
        while i < n {
            let c = t[i]
            if c < 0x80 { i += 1; continue }
            var need = 0
            var minScalar: UInt32 = 0
            var v: UInt32
            if c & 0xE0 == 0xC0 { need = 1; v = UInt32(c & 0x1F); minScalar = 0x80 } else if c & 0xF0 == 0xE0 { need = 2; v = UInt32(c & 0x0F); minScalar = 0x800 } else if c & 0xF8 == 0xF0 { need = 3; v = UInt32(c & 0x07); minScalar = 0x10000 } else { return false }
            guard i + need < n else { return false }
            for k in 1...need {
                let b = t[i + k]
                guard b & 0xC0 == 0x80 else { return false }
                v = v << 6 | UInt32(b & 0x3F)
            }
            guard v >= minScalar, v <= 0x10FFFF, !(v >= 0xD800 && v <= 0xDFFF) else { return false }
            i += need + 1
        }
        return true
    }
}
