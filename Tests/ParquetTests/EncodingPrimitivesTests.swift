import Foundation
import Testing
@testable import Parquet

/// The RLE / bit-packed hybrid encoder (levels, dictionary indices) and the short-copy and
/// short-compare helpers of the hot paths, against plain reference implementations.
@Suite struct EncodingPrimitivesTests {
    /// Decodes the hybrid encoding as the Parquet spec defines it (the reference here).
    static func decodeHybrid(_ bytes: [UInt8], width: Int, count: Int) -> [UInt64]? {
        var out: [UInt64] = []
        var p = 0
        func varint() -> UInt64? {
            var v: UInt64 = 0, shift: UInt64 = 0
            while p < bytes.count {
                let b = bytes[p]; p += 1
                v |= UInt64(b & 0x7F) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
            }
            return nil
        }
        while out.count < count {
            guard let header = varint() else { return nil }
            if header & 1 == 0 {
                let run = Int(header >> 1)
                var v: UInt64 = 0
                for k in 0..<((width + 7) / 8) {
                    guard p < bytes.count else { return nil }
                    v |= UInt64(bytes[p]) << UInt64(8 * k); p += 1
                }
                out += Array(repeating: v, count: run)
            } else {
                let values = Int(header >> 1) * 8
                var bit = 0
                for _ in 0..<values {
                    var v: UInt64 = 0
                    for b in 0..<width {
                        let byte = p + (bit + b) / 8
                        guard byte < bytes.count else { return nil }
                        if bytes[byte] >> UInt8((bit + b) % 8) & 1 == 1 { v |= 1 << UInt64(b) }
                    }
                    bit += width
                    out.append(v)
                }
                p += (values * width + 7) / 8
            }
        }
        return p == bytes.count ? Array(out.prefix(count)) : nil
    }

    @Test(arguments: [1, 2, 3, 5, 7, 8, 9, 13, 16, 17, 24, 31, 32])
    func hybridEncodingDecodesToTheValues(width: Int) {
        var rng = SystemRandomNumberGenerator()
        let limit: UInt64 = (1 << UInt64(width)) - 1
        for count in [1, 7, 8, 9, 63, 64, 65, 1000, 4099] {
            // Runs and literals mixed: short runs, long runs, random values.
            var values: [UInt32] = []
            while values.count < count {
                let v = UInt32(UInt64.random(in: 0...limit, using: &rng))
                let run = [1, 1, 2, 3, 8, 9, 20][Int.random(in: 0..<7, using: &rng)]
                values += Array(repeating: v, count: min(run, count - values.count))
            }
            var out: [UInt8] = [0xAA]  // appended after existing bytes
            values.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: width, into: &out) }
            #expect(out[0] == 0xAA)
            let decoded = Self.decodeHybrid(Array(out.dropFirst()), width: width, count: count)
            #expect(decoded == values.map { UInt64($0) }, "width \(width), count \(count)")
        }
    }

    @Test func shortCopyAndCompareMatchTheBytes() {
        let src: [UInt8] = (0..<40).map { UInt8(truncatingIfNeeded: $0 * 7 + 1) }
        for n in 0...40 {
            var a: [UInt8] = [9, 9]
            src.withUnsafeBytes { a.appendBytes(from: $0.baseAddress!, count: n) }
            #expect(a == [9, 9] + src.prefix(n))
            for flip in 0..<n {
                var b = Array(src.prefix(n))
                let same = src.withUnsafeBytes { s in b.withUnsafeBytes { equalBytes(s.baseAddress!, $0.baseAddress!, count: n) } }
                #expect(same)
                b[flip] ^= 0x10
                let differs = src.withUnsafeBytes { s in b.withUnsafeBytes { !equalBytes(s.baseAddress!, $0.baseAddress!, count: n) } }
                #expect(differs, "n \(n), byte \(flip)")
            }
        }
    }

    /// Reserving room mini-batch by mini-batch grows geometrically: a page's indices appended
    /// 1,024 at a time are reallocated a handful of times, not once per mini-batch (which
    /// copies the whole page each time).
    @Test func reservingMoreGrowsGeometrically() {
        var indices: [UInt32] = []
        var capacities: Set<Int> = []
        for batch in 0..<200 {
            indices.reserveAdditional(1024)
            #expect(indices.capacity >= indices.count + 1024)
            for i in 0..<1024 { indices.append(UInt32(batch * 1024 + i)) }
            capacities.insert(indices.capacity)
        }
        #expect(indices.count == 204_800 && indices.last == 204_799)
        #expect(capacities.count <= 10, "\(capacities.sorted())")
    }
}
