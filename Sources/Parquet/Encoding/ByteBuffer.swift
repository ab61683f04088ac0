// Little-endian writes into [UInt8] through raw pointers (page bodies, headers).
extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
    }

    @inline(__always)
    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        if raw.count > 0 { append(contentsOf: raw.assumingMemoryBound(to: UInt8.self)) }
    }

    /// ULEB128 varint.
    @inline(__always)
    mutating func appendVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        append(UInt8(v))
    }

    /// Overwrites 4 bytes at `offset` with `v` little-endian (length back-patching).
    @inline(__always)
    mutating func setLE32(_ v: UInt32, at offset: Int) {
        let le = v.littleEndian
        self[offset] = UInt8(truncatingIfNeeded: le)
        self[offset + 1] = UInt8(truncatingIfNeeded: le >> 8)
        self[offset + 2] = UInt8(truncatingIfNeeded: le >> 16)
        self[offset + 3] = UInt8(truncatingIfNeeded: le >> 24)
    }
}

/// Bits needed for values up to `maxValue` (0 for 0): ceil(log2(max + 1)).
@inline(__always)
func bitWidth(_ maxValue: Int) -> Int {
    maxValue <= 0 ? 0 : (Int.bitWidth - maxValue.leadingZeroBitCount)
}
