extension ColumnBuilder {
    /// Appends a decimal given as text (`"-12.5"`, `"1e3"`, `"0.50"`), exactly: digits beyond
    /// the column's scale must be zeros (no silent rounding), and the value must fit the
    /// precision. Meant for JSON numbers and strings decoded straight from bytes.
    public mutating func appendDecimal(text: UnsafeRawBufferPointer, repetitionLevel: Int = 0) {
        guard case .decimal(_, let scale) = descriptor.type else {
            pushPresent(repetitionLevel)
            wrongAppend("decimal text")
            return
        }
        guard let v = Self.parseDecimal(text, scale: scale) else {
            pushPresent(repetitionLevel)
            fail(.valueOutOfRange, "\"\(String(decoding: text.prefix(64), as: UTF8.self))\" is not a decimal with scale \(scale)")
            appendPlaceholder()
            return
        }
        appendDecimal(unscaled: v, repetitionLevel: repetitionLevel)
    }

    /// The unscaled value of `text` at `scale`, or nil if it is not a number, has non-zero
    /// digits beyond the scale, or exceeds 38 digits.
    static func parseDecimal(_ text: UnsafeRawBufferPointer, scale: Int) -> Int128? {
        var i = 0
        let n = text.count
        guard n > 0 else { return nil }
        var negative = false
        if text[0] == UInt8(ascii: "-") || text[0] == UInt8(ascii: "+") { negative = text[0] == UInt8(ascii: "-"); i = 1 }
        var digits: Int128 = 0
        var digitCount = 0
        var fraction = 0
        var sawPoint = false
        var any = false
        var droppedNonZero = false
        while i < n {
            let c = text[i]
            if c >= 0x30 && c <= 0x39 {
                any = true
                if digitCount == 0 && c == 0x30 {
                    if sawPoint { fraction += 1 }
                } else if digitCount < 38 {
                    digits = digits * 10 + Int128(c - 0x30)
                    digitCount += 1
                    if sawPoint { fraction += 1 }
                } else {
                    return nil
                }
            } else if c == UInt8(ascii: ".") && !sawPoint {
                sawPoint = true
            } else {
                break
            }
            i += 1
        }
        guard any else { return nil }
        var exponent = 0
        if i < n && (text[i] == UInt8(ascii: "e") || text[i] == UInt8(ascii: "E")) {
            i += 1
            var expNegative = false
            if i < n && (text[i] == UInt8(ascii: "-") || text[i] == UInt8(ascii: "+")) {
                expNegative = text[i] == UInt8(ascii: "-"); i += 1
            }
            var e = 0
            var expDigits = false
            while i < n, text[i] >= 0x30 && text[i] <= 0x39 {
                e = e * 10 + Int(text[i] - 0x30)
                if e > 1000 { return nil }
                expDigits = true
                i += 1
            }
            guard expDigits else { return nil }
            exponent = expNegative ? -e : e
        }
        guard i == n else { return nil }
        var shift = scale - fraction + exponent
        while shift < 0 {
            if digits % 10 != 0 { droppedNonZero = true }
            digits /= 10
            shift += 1
        }
        if droppedNonZero { return nil }
        while shift > 0 {
            if digits > Int128.max / 10 { return nil }
            digits *= 10
            shift -= 1
        }
        return negative ? -digits : digits
    }
}
