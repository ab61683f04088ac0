#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// Little-endian writes into [UInt8] through raw pointers (page bodies, headers).
/// Whether `n` bytes at `a` and `b` are equal: up to 16 compared with one or two pairs of
/// unaligned loads, more with memcmp.
@inline(__always)
func equalBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, count n: Int) -> Bool {
    if n >= 8 {
        if n > 16 { return memcmp(a, b, n) == 0 }
        return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
            && a.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self) == b.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
    }
    if n >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self) == b.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
    }
    var i = 0
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

extension Array {
    /// Room for `n` more elements, growing geometrically. `reserveCapacity(count + n)` called
    /// again and again (once per mini-batch of a page, say) allocates exactly that much each
    /// time, so every call copies the whole array: quadratic in the page size.
    @inline(__always)
    mutating func reserveAdditional(_ n: Int) {
        let needed = count + n
        if needed > capacity { reserveCapacity(Swift.max(needed, 2 * capacity)) }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
    }

    @inline(__always)
    mutating func appendRaw(_ raw: UnsafeRawBufferPointer) {
        if let p = raw.baseAddress, raw.count > 0 { appendBytes(from: p, count: raw.count) }
    }

    /// Appends `count` bytes at `src`: grows geometrically, then copies into the new tail.
    /// About twice as fast as `append(contentsOf:)` for the short values of the hot paths
    /// (uuids, codes, small strings): those are copied with one or two overlapping loads
    /// and stores instead of a call to memcpy.
    @inlinable @inline(__always)
    mutating func appendBytes(from src: UnsafeRawPointer, count n: Int) {
        append(addingCapacity: n) { span in
            span.withUnsafeMutableBufferPointer { buf, initialized in
                if n > 0 { copyShort(to: UnsafeMutableRawPointer(buf.baseAddress!), from: src, count: n) }
                initialized = n
            }
        }
    }
}

/// Copies `n` bytes (non-overlapping): up to 16 with one or two pairs of unaligned loads and
/// stores, more with memcpy.
@inlinable @inline(__always)
package func copyShort(to dst: UnsafeMutableRawPointer, from src: UnsafeRawPointer, count n: Int) {
    if n >= 8 {
        if n <= 16 {
            dst.storeBytes(of: src.loadUnaligned(as: UInt64.self), as: UInt64.self)
            (dst + (n - 8)).storeBytes(of: src.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self), as: UInt64.self)
        } else {
            dst.copyMemory(from: src, byteCount: n)
        }
    } else if n >= 4 {
        dst.storeBytes(of: src.loadUnaligned(as: UInt32.self), as: UInt32.self)
        (dst + (n - 4)).storeBytes(of: src.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self), as: UInt32.self)
    } else {
        var i = 0
        while i < n {
            dst.storeBytes(of: src.load(fromByteOffset: i, as: UInt8.self), toByteOffset: i, as: UInt8.self)
            i += 1
        }
    }
}

extension Array where Element == UInt8 {

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
