import LakeModel
import Foundation

/// A time-ordered UUID (RFC 9562 version 7) naming each data file, so that
/// file names sort by creation time and never collide across restarts.
public struct UUIDv7: Hashable, Sendable, CustomStringConvertible {
    public var bytes: (UInt64, UInt64)

    /// A new id for the given time (milliseconds since the Unix epoch).
    public init<G: RandomNumberGenerator>(epochMillis: UInt64, using rng: inout G) {
        let rand = rng.next()
        let randB = rng.next()
        // 48 bits of time, version 7, 12 random bits.
        let hi = (epochMillis & 0xFFFF_FFFF_FFFF) << 16 | 0x7000 | (rand & 0x0FFF)
        // variant 0b10, 62 random bits.
        let lo = (randB & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000
        bytes = (hi, lo)
    }

    /// A new id for now.
    public init() {
        var rng = SystemRandomNumberGenerator()
        let ms = UInt64(Date().timeIntervalSince1970 * 1000)
        self.init(epochMillis: ms, using: &rng)
    }

    public var epochMillis: UInt64 { bytes.0 >> 16 }

    public var description: String {
        let hex = Self.hex(bytes.0, 16) + Self.hex(bytes.1, 16)
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-"
            + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    static func hex(_ v: UInt64, _ width: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: width - s.count) + s
    }

    public static func == (a: UUIDv7, b: UUIDv7) -> Bool { a.bytes == b.bytes }
    public func hash(into h: inout Hasher) { h.combine(bytes.0); h.combine(bytes.1) }
}
