/// A stream entry id `<milliseconds>-<sequence>`, kept as two integers so ids compare and
/// format without strings.
public struct StreamID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var milliseconds: UInt64
    public var sequence: UInt64

    public init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    /// `0-0`: before every entry.
    public static let zero = StreamID(milliseconds: 0, sequence: 0)

    public static func < (a: StreamID, b: StreamID) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }

    public var description: String { "\(milliseconds)-\(sequence)" }

    /// The smallest id after this one (for exclusive range starts); the largest id is its own.
    public var successor: StreamID {
        if sequence < .max { return StreamID(milliseconds: milliseconds, sequence: sequence + 1) }
        if milliseconds < .max { return StreamID(milliseconds: milliseconds + 1, sequence: 0) }
        return self
    }

    /// Parses `ms-seq` or `ms` (sequence 0) from raw bytes; nil when malformed.
    public init?(bytes: UnsafeRawBufferPointer) {
        var ms: UInt64 = 0, seq: UInt64 = 0
        var i = 0
        var digits = 0
        while i < bytes.count, bytes[i] != UInt8(ascii: "-") {
            let d = bytes[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            let (m, o1) = ms.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(d))
            guard !o1, !o2 else { return nil }
            ms = a
            i += 1
            digits += 1
        }
        guard digits > 0 else { return nil }
        if i < bytes.count {
            i += 1
            digits = 0
            while i < bytes.count {
                let d = bytes[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                let (m, o1) = seq.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(UInt64(d))
                guard !o1, !o2 else { return nil }
                seq = a
                i += 1
                digits += 1
            }
            guard digits > 0 else { return nil }
        }
        self.init(milliseconds: ms, sequence: seq)
    }

    /// Parses `ms-seq` or `ms`; nil when malformed.
    public init?(_ text: String) {
        var t = text
        guard let v = t.withUTF8({ StreamID(bytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = v
    }

    /// Appends the decimal `ms-seq` form, without an intermediate String.
    func write(into out: inout [UInt8]) {
        Self.writeDecimal(milliseconds, into: &out)
        out.append(UInt8(ascii: "-"))
        Self.writeDecimal(sequence, into: &out)
    }

    static func writeDecimal(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes: room for 20 digits
        withUnsafeMutableBytes(of: &tmp) { buf in
            var i = buf.count
            repeat {
                i -= 1
                buf[i] = UInt8(ascii: "0") &+ UInt8(v % 10)
                v /= 10
            } while v != 0
            out.append(contentsOf: buf[i...])
        }
    }
}
