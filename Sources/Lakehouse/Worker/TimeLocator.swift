/// Finds the partitioning time of an event before it is decoded, so the row goes straight
/// into the buffer of its hour. Reads only the time column's value: for a JSON payload it
/// walks the object along the column's source path, skipping everything else.
///
/// Returns epoch microseconds, or nil when the value is absent, null or unparsable: then the
/// entry id's time is used (and the decoder rejects the row itself if the value was invalid).
struct TimeLocator {
    enum Kind { case timestamp, date }
    let path: [[UInt8]]
    let kind: Kind?
    private let scratch = ScratchBuffer(capacity: 256)

    init(entity: EntityConfig) {
        guard let name = entity.timeColumn, let column = entity.columns.first(where: { $0.name == name }) else {
            path = []
            kind = nil
            return
        }
        path = column.source.map { Array($0.utf8) }
        switch column.type {
        case .date: kind = .date
        case .timestamp: kind = .timestamp
        default: kind = nil
        }
    }

    var isConfigured: Bool { kind != nil && !path.isEmpty }

    /// The time of a JSON object payload.
    func micros(json payload: UnsafeRawBufferPointer) -> Int64? {
        guard isConfigured else { return nil }
        var s = JSONScanner(payload)
        do {
            for (depth, key) in path.enumerated() {
                guard s.peek() == UInt8(ascii: "{") else { return nil }
                s.p += 1
                var found = false
                if s.isEmptyContainer(close: UInt8(ascii: "}")) { return nil }
                repeat {
                    guard s.peek() == UInt8(ascii: "\"") else { return nil }
                    var nonASCII = false
                    let k = try s.readString(scratch, nonASCII: &nonASCII)
                    try s.expect(UInt8(ascii: ":"), "':'")  // consumes the colon
                    if k.elementsEqual(key) { found = true; break }
                    try s.skipValue()
                } while try s.nextSeparator(close: UInt8(ascii: "}"))
                guard found else { return nil }
                if depth == path.count - 1 { return try value(&s) }
            }
        } catch {
            return nil
        }
        return nil
    }

    /// The time of a flat-fields entry whose field `name(i)` has value `value(i)`.
    func micros(fieldCount: Int, name: (Int) -> UnsafeRawBufferPointer, value: (Int) -> UnsafeRawBufferPointer) -> Int64? {
        guard isConfigured, path.count == 1 else { return nil }
        for i in 0..<fieldCount where name(i).elementsEqual(path[0]) {
            return text(value(i), allowNumber: true)
        }
        return nil
    }

    private func value(_ s: inout JSONScanner) throws -> Int64? {
        let c = s.peek()
        if c == UInt8(ascii: "\"") {
            var nonASCII = false
            return text(try s.readString(scratch, nonASCII: &nonASCII), allowNumber: false)
        }
        if c == UInt8(ascii: "-") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) {
            let n = try s.readNumber()
            return millis(n)
        }
        return nil
    }

    private func millis(_ n: NumberLiteral) -> Int64? {
        guard n.isInteger, n.digitCount <= 18, n.exponent10 >= 0, n.exponent10 < 4 else { return nil }
        var v = Int64(n.mantissa)
        for _ in 0..<n.exponent10 { v *= 10 }
        if n.negative { v = -v }
        return v.multipliedReportingOverflow(by: 1000).overflow ? nil : v * 1000
    }

    private func text(_ t: UnsafeRawBufferPointer, allowNumber: Bool) -> Int64? {
        switch kind {
        case .date:
            return ValueParsers.date(t).map { Int64($0) * 86_400_000_000 }
        case .timestamp:
            // Parsed at nanosecond precision so that any fraction is accepted, then floored to µs.
            if case .success(let ns) = ValueParsers.timestamp(t, unit: .nanos, requireOffset: false) {
                return ns >= 0 ? ns / 1000 : (ns - 999) / 1000
            }
            if allowNumber, let n = NumberLiteral(t, strictJSON: false) { return millis(n) }
            return nil
        case nil:
            return nil
        }
    }
}
