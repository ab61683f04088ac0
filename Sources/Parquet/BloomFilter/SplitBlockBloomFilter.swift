/// Parquet's split-block bloom filter: 256-bit blocks of eight 32-bit words; the high
/// half of a value's xxHash64 picks the block, the low half sets one bit per word.
///
/// The bitset is stored as words and serialized little-endian, as the spec lays it out.
public struct SplitBlockBloomFilter: Sendable, Equatable {
    /// The eight salts of the spec (BloomFilter.md).
    @usableFromInline static let salts: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x47B6_137B, 0x4497_4D91, 0x8824_AD5B, 0xA2B7_289D, 0x7054_95C7, 0x2DF1_424B, 0x9EFC_4947, 0x5C6B_FB31)

    public static let minimumBytes = 32
    public static let maximumBytes = 128 * 1024 * 1024

    @usableFromInline var words: [UInt32]

    /// An empty filter of `numBytes` (rounded up to a power of two within 32 B...128 MiB).
    public init(numBytes: Int) {
        let n = Self.roundToPowerOfTwo(numBytes)
        words = [UInt32](repeating: 0, count: n / 4)
    }

    /// A filter read from a file; nil when the size is not a positive multiple of 32.
    public init?(bitset: [UInt8]) {
        guard !bitset.isEmpty, bitset.count % 32 == 0 else { return nil }
        words = [UInt32](repeating: 0, count: bitset.count / 4)
        bitset.withUnsafeBytes { src in
            for i in words.indices {
                words[i] = UInt32(littleEndian: src.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self))
            }
        }
    }

    /// Bytes needed for `ndv` distinct values at false-positive probability `fpp`, using
    /// the spec's `-8 / ln(1 - fpp^(1/8))` bits per value, as a power of two in 32 B...128 MiB.
    public static func optimalNumBytes(ndv: Int, fpp: Double) -> Int {
        precondition(fpp > 0 && fpp < 1, "fpp must be in (0, 1)")
        let bitsPerValue = -8.0 / _log(1.0 - _pow(fpp, 1.0 / 8.0))
        let bits = Double(max(ndv, 0)) * bitsPerValue
        let bytes = bits / 8.0
        if !(bytes < Double(maximumBytes)) { return maximumBytes }
        return roundToPowerOfTwo(Int(bytes.rounded(.up)))
    }

    static func roundToPowerOfTwo(_ n: Int) -> Int {
        if n <= minimumBytes { return minimumBytes }
        if n >= maximumBytes { return maximumBytes }
        return 1 << (Int.bitWidth - (n - 1).leadingZeroBitCount)
    }

    /// Size of the bitset in bytes.
    public var numBytes: Int { words.count * 4 }

    @inlinable
    var numBlocks: UInt64 { UInt64(words.count / 8) }

    @inlinable @inline(__always)
    func blockStart(_ hash: UInt64) -> Int {
        Int(truncatingIfNeeded: ((hash >> 32) &* numBlocks) >> 32) * 8
    }

    @inlinable
    public mutating func insert(hash: UInt64) {
        let start = blockStart(hash)
        let key = UInt32(truncatingIfNeeded: hash)
        words.withUnsafeMutableBufferPointer { w in
            let b = w.baseAddress! + start
            let s = Self.salts
            b[0] |= 1 << ((key &* s.0) >> 27)
            b[1] |= 1 << ((key &* s.1) >> 27)
            b[2] |= 1 << ((key &* s.2) >> 27)
            b[3] |= 1 << ((key &* s.3) >> 27)
            b[4] |= 1 << ((key &* s.4) >> 27)
            b[5] |= 1 << ((key &* s.5) >> 27)
            b[6] |= 1 << ((key &* s.6) >> 27)
            b[7] |= 1 << ((key &* s.7) >> 27)
        }
    }

    /// False means the value was certainly not inserted.
    @inlinable
    public func contains(hash: UInt64) -> Bool {
        let start = blockStart(hash)
        let key = UInt32(truncatingIfNeeded: hash)
        return words.withUnsafeBufferPointer { w in
            let b = w.baseAddress! + start
            let s = Self.salts
            var missing: UInt32 = 0
            missing |= ~b[0] & (1 << ((key &* s.0) >> 27))
            missing |= ~b[1] & (1 << ((key &* s.1) >> 27))
            missing |= ~b[2] & (1 << ((key &* s.2) >> 27))
            missing |= ~b[3] & (1 << ((key &* s.3) >> 27))
            missing |= ~b[4] & (1 << ((key &* s.4) >> 27))
            missing |= ~b[5] & (1 << ((key &* s.5) >> 27))
            missing |= ~b[6] & (1 << ((key &* s.6) >> 27))
            missing |= ~b[7] & (1 << ((key &* s.7) >> 27))
            return missing == 0
        }
    }

    /// The bitset as stored in the file (32-bit words, little-endian).
    public var bitset: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: numBytes) { buf, count in
            let raw = UnsafeMutableRawBufferPointer(buf)
            for (i, w) in words.enumerated() {
                raw.storeBytes(of: w.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
            count = numBytes
        }
    }

    /// The header written before the bitset.
    public func header() -> BloomFilterHeader {
        BloomFilterHeader(numBytes: Int32(numBytes))
    }

    /// Header followed by the bitset: the bytes to write at `bloom_filter_offset`
    /// (`bloom_filter_length` is their count).
    public func serialized() -> [UInt8] {
        var w = ThriftCompactWriter(capacity: numBytes + 32)
        header().encode(into: &w)
        w.bytes.append(contentsOf: bitset)
        return w.bytes
    }
}

// Foundation-free math: the Parquet module only links the codecs.
#if canImport(Glibc)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@inline(__always) func _log(_ x: Double) -> Double { Glibc.log(x) }
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Glibc.pow(x, y) }
#elseif canImport(Darwin)
import Darwin
@inline(__always) func _log(_ x: Double) -> Double { Darwin.log(x) }
@inline(__always) func _pow(_ x: Double, _ y: Double) -> Double { Darwin.pow(x, y) }
#endif
