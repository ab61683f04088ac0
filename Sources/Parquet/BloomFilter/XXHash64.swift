/// xxHash64 (XXH64), the hash Parquet bloom filters apply to a value's PLAIN bytes
/// (byte arrays without their length prefix).
///
/// The fixed-width entry points hash the little-endian bytes of one value without
/// touching memory, for the per-value path of a column writer.
public enum XXHash64 {
    @usableFromInline static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    @usableFromInline static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    @usableFromInline static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    @usableFromInline static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    @usableFromInline static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inlinable @inline(__always)
    static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inlinable @inline(__always)
    static func round(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        rotl(acc &+ lane &* p2, 31) &* p1
    }

    @inlinable @inline(__always)
    static func merge(_ acc: UInt64, _ v: UInt64) -> UInt64 {
        (acc ^ round(0, v)) &* p1 &+ p4
    }

    @inlinable @inline(__always)
    static func avalanche(_ h: UInt64) -> UInt64 {
        var h = h
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }

    @inlinable @inline(__always)
    static func mix8(_ acc: UInt64, _ lane: UInt64) -> UInt64 {
        rotl(acc ^ round(0, lane), 27) &* p1 &+ p4
    }

    @inlinable @inline(__always)
    static func mix4(_ acc: UInt64, _ lane: UInt32) -> UInt64 {
        rotl(acc ^ (UInt64(lane) &* p1), 23) &* p2 &+ p3
    }

    /// XXH64 of a byte range.
    @inlinable
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = bytes.count
        guard let base = bytes.baseAddress else { return avalanche(seed &+ p5) }
        var i = 0
        var h: UInt64
        if n >= 32 {
            var v1 = seed &+ p1 &+ p2
            var v2 = seed &+ p2
            var v3 = seed
            var v4 = seed &- p1
            while i + 32 <= n {
                v1 = round(v1, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
                v2 = round(v2, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i + 8, as: UInt64.self)))
                v3 = round(v3, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i + 16, as: UInt64.self)))
                v4 = round(v4, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i + 24, as: UInt64.self)))
                i += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(n)
        while i + 8 <= n {
            h = mix8(h, UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self)))
            i += 8
        }
        if i + 4 <= n {
            h = mix4(h, UInt32(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
            i += 4
        }
        while i < n {
            h ^= UInt64(base.load(fromByteOffset: i, as: UInt8.self)) &* p5
            h = rotl(h, 11) &* p1
            i += 1
        }
        return avalanche(h)
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    /// XXH64 of the 8 little-endian bytes of `value` (PLAIN INT64).
    @inlinable
    public static func hash(_ value: Int64, seed: UInt64 = 0) -> UInt64 {
        avalanche(mix8(seed &+ p5 &+ 8, UInt64(bitPattern: value)))
    }

    /// XXH64 of the 4 little-endian bytes of `value` (PLAIN INT32).
    @inlinable
    public static func hash(_ value: Int32, seed: UInt64 = 0) -> UInt64 {
        avalanche(mix4(seed &+ p5 &+ 4, UInt32(bitPattern: value)))
    }

    /// PLAIN DOUBLE: the IEEE bits, little-endian.
    @inlinable
    public static func hash(_ value: Double, seed: UInt64 = 0) -> UInt64 {
        hash(Int64(bitPattern: value.bitPattern), seed: seed)
    }

    /// PLAIN FLOAT: the IEEE bits, little-endian.
    @inlinable
    public static func hash(_ value: Float, seed: UInt64 = 0) -> UInt64 {
        hash(Int32(bitPattern: value.bitPattern), seed: seed)
    }

    /// A 16-byte FIXED_LEN_BYTE_ARRAY (UUID) given as two little-endian loads of its bytes.
    @inlinable
    public static func hash16(low: UInt64, high: UInt64, seed: UInt64 = 0) -> UInt64 {
        var h = seed &+ p5 &+ 16
        h = mix8(h, low)
        h = mix8(h, high)
        return avalanche(h)
    }
}
