#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A column chunk's dictionary: distinct values in first-seen order and an
/// open-addressing hash table from value to index.
///
/// Numeric values are keyed by their bit pattern (so -0.0/+0.0 and NaN payloads
/// stay distinct, as in the reference writers); byte arrays by their bytes.
struct DictionaryEncoder {
    /// Bytes per numeric value in the PLAIN dictionary page (4 or 8), 0 for byte arrays.
    let numericWidth: Int
    /// Fixed-length values: their length (PLAIN without length prefix); 0 for BYTE_ARRAY.
    let fixedLength: Int
    private(set) var numericKeys: [UInt64] = []
    private(set) var bytes: [UInt8] = []
    private(set) var offsets: [Int] = [0]
    private var hashes: [UInt64] = []
    private var slots: [Int32]
    private var mask: Int
    /// Size of the PLAIN-encoded dictionary page.
    private(set) var encodedSize = 0

    init(numericWidth: Int, fixedLength: Int = 0) {
        self.numericWidth = numericWidth
        self.fixedLength = fixedLength
        slots = [Int32](repeating: -1, count: 1024)
        mask = 1023
    }

    var count: Int { numericWidth > 0 ? numericKeys.count : offsets.count - 1 }

    @inline(__always)
    private static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    static func hashBytes(_ p: UnsafeRawPointer, _ n: Int) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325 ^ UInt64(n)
        var i = 0
        while i + 8 <= n {
            h = (h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x1000_0000_01B3
            h ^= h >> 29
            i += 8
        }
        let rest = n - i
        if rest > 0 {
            // The last 1-7 bytes, without a loop: overlapping loads inside the value (any
            // function of the bytes and the length will do; equal values hash equal).
            var tail: UInt64
            if rest >= 4 {
                tail = UInt64(p.loadUnaligned(fromByteOffset: i, as: UInt32.self))
                    | UInt64(p.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
            } else {
                tail = UInt64(p.load(fromByteOffset: i, as: UInt8.self))
                    | UInt64(p.load(fromByteOffset: i + rest / 2, as: UInt8.self)) << 8
                    | UInt64(p.load(fromByteOffset: n - 1, as: UInt8.self)) << 16
            }
            h = (h ^ tail) &* 0x1000_0000_01B3
        }
        return mix(h)
    }

    private mutating func grow() {
        let newCap = slots.count * 2
        slots = [Int32](repeating: -1, count: newCap)
        mask = newCap - 1
        let n = count
        for idx in 0..<n {
            let h = numericWidth > 0 ? Self.mix(numericKeys[idx]) : hashes[idx]
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(idx)
        }
    }

    /// Index of a numeric value (bit pattern), inserting it when new.
    @inline(__always)
    mutating func index(ofNumeric key: UInt64) -> UInt32 {
        var s = Int(truncatingIfNeeded: Self.mix(key)) & mask
        while true {
            let e = slots[s]
            if e < 0 { break }
            if numericKeys[Int(e)] == key { return UInt32(e) }
            s = (s + 1) & mask
        }
        let idx = numericKeys.count
        numericKeys.append(key)
        slots[s] = Int32(idx)
        encodedSize += numericWidth
        if idx * 2 >= slots.count { grow() }
        return UInt32(idx)
    }

    /// Index of a byte-array value, inserting it when new.
    @inline(__always)
    mutating func index(ofBytes p: UnsafeRawPointer, count n: Int) -> UInt32 {
        let h = Self.hashBytes(p, n)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let e = slots[s]
            if e < 0 { break }
            let ei = Int(e)
            if hashes[ei] == h {
                let start = offsets[ei], len = offsets[ei + 1] - start
                if len == n {
                    let equal = bytes.withUnsafeBytes { d in n == 0 || equalBytes(d.baseAddress! + start, p, count: n) }
                    if equal { return UInt32(ei) }
                }
            }
            s = (s + 1) & mask
        }
        let idx = offsets.count - 1
        if n > 0 { bytes.appendBytes(from: p, count: n) }
        offsets.append(bytes.count)
        hashes.append(h)
        slots[s] = Int32(idx)
        encodedSize += n + (fixedLength > 0 ? 0 : 4)
        if idx * 2 >= slots.count { grow() }
        return UInt32(idx)
    }

    /// The PLAIN-encoded dictionary page body.
    func encodePlain(into out: inout [UInt8]) {
        out.reserveAdditional(encodedSize)
        if numericWidth == 4 {
            for k in numericKeys { out.appendLE(UInt32(truncatingIfNeeded: k)) }
        } else if numericWidth == 8 {
            for k in numericKeys { out.appendLE(k) }
        } else if fixedLength > 0 {
            out.append(contentsOf: bytes)
        } else {
            bytes.withUnsafeBytes { d in
                for i in 0..<(offsets.count - 1) {
                    let s = offsets[i], e = offsets[i + 1]
                    out.appendLE(UInt32(e - s))
                    out.appendRaw(UnsafeRawBufferPointer(rebasing: d[s..<e]))
                }
            }
        }
    }
}
