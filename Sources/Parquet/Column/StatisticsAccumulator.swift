#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How min/max compare for a column (the type-defined order of the spec).
enum StatisticsOrder {
    /// Signed integers (INT32/INT64, signed decimals in INT32/INT64, dates, times) and booleans.
    case signed
    /// UINT_8..UINT_64: compare the bit patterns unsigned.
    case unsigned
    /// FLOAT/DOUBLE: NaN left out; a zero min is written -0.0, a zero max +0.0.
    case floating
    /// BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY: lexicographic unsigned bytes.
    case bytes
    /// FIXED_LEN_BYTE_ARRAY decimals: big-endian two's complement, signed.
    case signedBytes

    init(_ d: ColumnDescriptor) {
        switch d.type {
        case .uint8, .uint16, .uint32, .uint64: self = .unsigned
        case .float, .double: self = .floating
        case .decimal: self = d.storage == .int32 || d.storage == .int64 ? .signed : .signedBytes
        default:
            switch d.storage {
            case .byteArray, .fixedLenByteArray: self = .bytes
            default: self = .signed
            }
        }
    }
}

/// Running min/max/null count of a page or a chunk.
struct StatisticsAccumulator {
    var nullCount: Int64 = 0
    var hasMinMax = false
    var minI: Int64 = 0, maxI: Int64 = 0
    var minU: UInt64 = 0, maxU: UInt64 = 0
    var minD: Double = 0, maxD: Double = 0
    var minB: [UInt8] = [], maxB: [UInt8] = []

    mutating func reset() {
        nullCount = 0
        hasMinMax = false
        minB.removeAll(keepingCapacity: true)
        maxB.removeAll(keepingCapacity: true)
    }

    @inline(__always)
    mutating func update(signed v: Int64) {
        if !hasMinMax { minI = v; maxI = v; hasMinMax = true; return }
        if v < minI { minI = v }
        if v > maxI { maxI = v }
    }

    @inline(__always)
    mutating func update(unsigned v: UInt64) {
        if !hasMinMax { minU = v; maxU = v; hasMinMax = true; return }
        if v < minU { minU = v }
        if v > maxU { maxU = v }
    }

    @inline(__always)
    mutating func update(floating v: Double) {
        if v.isNaN { return }
        if !hasMinMax { minD = v; maxD = v; hasMinMax = true; return }
        if v < minD { minD = v }
        if v > maxD { maxD = v }
    }

    /// -1, 0, 1 comparing `a` and `b` as unsigned bytes, or as signed big-endian integers
    /// of equal length when `signed` (first byte signed, rest unsigned).
    @inline(__always)
    static func compare(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer, signed: Bool) -> Int {
        if signed && a.count > 0 && b.count > 0 {
            let sa = Int8(bitPattern: a[0]), sb = Int8(bitPattern: b[0])
            if sa != sb { return sa < sb ? -1 : 1 }
            let n = a.count - 1
            if n == 0 { return 0 }
            let c = memcmp(a.baseAddress! + 1, b.baseAddress! + 1, n)
            return c < 0 ? -1 : (c > 0 ? 1 : 0)
        }
        let n = Swift.min(a.count, b.count)
        if n > 0 {
            // Short values (uuids, codes) compare faster as big-endian words than through memcmp.
            let pa = a.baseAddress!, pb = b.baseAddress!
            var i = 0
            while i + 8 <= n {
                let x = UInt64(bigEndian: pa.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let y = UInt64(bigEndian: pb.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                if x != y { return x < y ? -1 : 1 }
                i += 8
            }
            while i < n {
                let x = pa.load(fromByteOffset: i, as: UInt8.self), y = pb.load(fromByteOffset: i, as: UInt8.self)
                if x != y { return x < y ? -1 : 1 }
                i += 1
            }
        }
        return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
    }

    @inline(__always)
    mutating func update(bytes v: UnsafeRawBufferPointer, signed: Bool) {
        if !hasMinMax {
            minB.removeAll(keepingCapacity: true); minB.appendRaw(v)
            maxB.removeAll(keepingCapacity: true); maxB.appendRaw(v)
            hasMinMax = true
            return
        }
        if minB.withUnsafeBytes({ Self.compare(v, $0, signed: signed) }) < 0 {
            minB.removeAll(keepingCapacity: true); minB.appendRaw(v)
        } else if maxB.withUnsafeBytes({ Self.compare(v, $0, signed: signed) }) > 0 {
            maxB.removeAll(keepingCapacity: true); maxB.appendRaw(v)
        }
    }

    /// Folds a page's statistics into the chunk's.
    mutating func merge(_ o: StatisticsAccumulator, order: StatisticsOrder) {
        nullCount += o.nullCount
        guard o.hasMinMax else { return }
        switch order {
        case .signed: update(signed: o.minI); update(signed: o.maxI)
        case .unsigned: update(unsigned: o.minU); update(unsigned: o.maxU)
        case .floating: update(floating: o.minD); update(floating: o.maxD)
        case .bytes, .signedBytes:
            let s = order == .signedBytes
            o.minB.withUnsafeBytes { update(bytes: $0, signed: s) }
            o.maxB.withUnsafeBytes { update(bytes: $0, signed: s) }
        }
    }

    /// min/max as PLAIN bytes of the physical type (nil when there is none), with
    /// byte arrays truncated to `truncate` bytes (the max rounded up).
    func encoded(storage: ColumnStorage, order: StatisticsOrder, truncate: Int, isUTF8: Bool)
        -> (min: [UInt8], max: [UInt8], exact: Bool)?
    {
        guard hasMinMax else { return nil }
        var lo: [UInt8] = [], hi: [UInt8] = []
        switch storage {
        case .boolean:
            lo = [minI != 0 ? 1 : 0]; hi = [maxI != 0 ? 1 : 0]
        case .int32:
            if order == .unsigned {
                lo.appendLE(UInt32(truncatingIfNeeded: minU)); hi.appendLE(UInt32(truncatingIfNeeded: maxU))
            } else {
                lo.appendLE(Int32(truncatingIfNeeded: minI)); hi.appendLE(Int32(truncatingIfNeeded: maxI))
            }
        case .int64:
            if order == .unsigned { lo.appendLE(minU); hi.appendLE(maxU) } else { lo.appendLE(minI); hi.appendLE(maxI) }
        case .float:
            let a: Float = minD == 0 ? -0.0 : Float(minD), b: Float = maxD == 0 ? 0.0 : Float(maxD)
            lo.appendLE(a.bitPattern); hi.appendLE(b.bitPattern)
        case .double:
            let a: Double = minD == 0 ? -0.0 : minD, b: Double = maxD == 0 ? 0.0 : maxD
            lo.appendLE(a.bitPattern); hi.appendLE(b.bitPattern)
        case .fixedLenByteArray:
            lo = minB; hi = maxB
        case .byteArray:
            var exact = true
            lo = minB; hi = maxB
            if lo.count > truncate {
                lo = Self.truncatedMin(lo, truncate, isUTF8: isUTF8); exact = false
            }
            if hi.count > truncate, let up = Self.truncatedMax(hi, truncate, isUTF8: isUTF8) {
                hi = up; exact = false
            }
            return (lo, hi, exact)
        }
        return (lo, hi, true)
    }

    /// A prefix is always <= the value; cut UTF-8 at a character boundary.
    static func truncatedMin(_ v: [UInt8], _ n: Int, isUTF8: Bool) -> [UInt8] {
        var cut = n
        if isUTF8 { while cut > 0 && v[cut] & 0xC0 == 0x80 { cut -= 1 } }
        return Array(v[..<cut])
    }

    /// A prefix with its last incrementable unit incremented is > the value: readers
    /// that skip pages by max stay correct. For UTF-8 only ASCII characters below DEL
    /// are incremented so the result stays valid text. nil when no such prefix exists.
    static func truncatedMax(_ v: [UInt8], _ n: Int, isUTF8: Bool) -> [UInt8]? {
        var cut = n
        if isUTF8 { while cut > 0 && v[cut] & 0xC0 == 0x80 { cut -= 1 } }
        var p = Array(v[..<cut])
        while let last = p.last {
            if isUTF8 {
                if last < 0x7F { p[p.count - 1] = last + 1; return p }
                // Drop the whole last character.
                let removed = p.removeLast()
                if removed & 0xC0 == 0x80 {
                    while let b = p.last, b & 0xC0 == 0x80 { p.removeLast() }
                    if !p.isEmpty { p.removeLast() }
                }
            } else {
                if last < 0xFF { p[p.count - 1] = last + 1; return p }
                p.removeLast()
            }
        }
        return nil
    }
}
