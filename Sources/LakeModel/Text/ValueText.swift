/// Values as text, the one way lakewriter prints them: `inspect` statistics, Hive partition
/// values and Delta statistics and partition values share it. Dates ISO (`2024-05-01`),
/// timestamps `2024-05-01T10:00:00.5` (`Z` for UTC), decimals plain (`-0.50`), UUIDs 8-4-4-4-12.
public enum ValueText {
    /// `YYYY-MM-DD` of days since 1970-01-01 (years past 9999 or before 0 keep their digits and sign).
    public static func date(days: Int) -> String {
        let (y, m, d) = CivilCalendar.civilFromDays(days)
        let year = y < 0 ? "-" + String(-y).leftPad(4) : String(y).leftPad(4)
        return "\(year)-\(String(m).leftPad(2))-\(String(d).leftPad(2))"
    }

    /// `.f…` with as many digits as the unit (`digits`: 3, 6 or 9); empty for a whole second.
    public static func fraction(_ sub: Int64, digits: Int) -> String {
        sub == 0 ? "" : "." + String(sub).leftPad(digits)
    }

    /// `HH:MM:SS[.fff…]` of a time of day in units of `perSecond` per second.
    public static func time(_ v: Int64, perSecond ps: Int64, digits: Int) -> String {
        let secs = v / ps
        let sub = v % ps
        return "\(String(secs / 3600).leftPad(2)):\(String(secs / 60 % 60).leftPad(2)):\(String(secs % 60).leftPad(2))"
            + fraction(sub, digits: digits)
    }

    /// `YYYY-MM-DD{separator}HH:MM:SS[.fff…]` of an instant in units of `perSecond` since the epoch,
    /// with `Z` appended when `utc`; `everyDigit` writes the fraction of a whole second too (`.000`).
    public static func timestamp(_ v: Int64, perSecond ps: Int64, digits: Int, utc: Bool, separator: String = "T",
                                 everyDigit: Bool = false) -> String {
        var secs = v / ps
        var sub = v % ps
        if sub < 0 { sub += ps; secs -= 1 }
        var days = secs / 86_400
        var tod = secs % 86_400
        if tod < 0 { tod += 86_400; days -= 1 }
        let clock = everyDigit ? time(tod, perSecond: 1, digits: 0) + "." + String(sub).leftPad(digits)
            : time(tod * ps + sub, perSecond: ps, digits: digits)
        return date(days: Int(days)) + separator + clock + (utc ? "Z" : "")
    }

    /// The plain decimal of an unscaled value: `12345` at scale 2 is `123.45`, `-5` is `-0.05`.
    public static func decimal(_ v: Int128, scale: Int) -> String {
        let negative = v < 0
        var digits = String(v.magnitude)
        // A scale no decimal has (footers are not trusted): the unscaled value and the scale.
        guard (0...76).contains(scale) else { return (negative ? "-" : "") + digits + (scale < 0 ? "e\(-scale)" : "e-\(scale)") }
        if scale > 0 {
            digits = digits.leftPad(scale + 1)
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return (negative ? "-" : "") + digits
    }

    /// The canonical lowercase 8-4-4-4-12 form of 16 bytes.
    public static func uuid<C: Collection<UInt8>>(_ b: C) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(36)
        for (i, x) in b.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
            out.append(hex[Int(x >> 4)])
            out.append(hex[Int(x & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
