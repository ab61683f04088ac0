import Foundation
import Testing
import TestSupport
@testable import Parquet

/// xxHash64 against published vectors, and the split-block bloom filter against the
/// filters pyarrow writes: same values must give byte-identical bitsets.
@Suite struct BloomFilterTests {
    static func h(_ s: String, seed: UInt64 = 0) -> UInt64 { XXHash64.hash(Array(s.utf8), seed: seed) }

    @Test func xxhash64PublishedVectors() {
        // Vectors from the xxHash reference (xxhsum -H64), as quoted by ClickHouse's tests and others.
        #expect(Self.h("") == 0xEF46_DB37_51D8_E999)
        #expect(Self.h("a") == 0xD24E_C4F1_A98C_6E5B)
        #expect(Self.h("ABC") == 0xE66A_E735_4FCF_EE98)
        #expect(Self.h("xxhash") == 0x32DD_3895_2C4B_C720)
        #expect(Self.h("foo") == 3_728_699_739_546_630_719)
        #expect(Self.h("abcdefghij") == 0xD628_7A1D_E549_8BB2)
        #expect(Self.h("abcdefghijkl") == 0x4B09_B7D3_A233_D4B3)
        #expect(Self.h("abcdefghijklmnop") == 0x71CE_8137_CA2D_D53D)
        #expect(Self.h("abcdefghijklmnopqrstuvwx") == 0x0BEC_95E3_4669_983B)
        #expect(Self.h("abcdefghijklmnopqrstuvwxyz12345") == 0x4676_0590_1B01_D6F6)
        #expect(Self.h("abcdefghijklmnopqrstuvwxyz123456") == 0x0022_EE3B_5A18_531B)
        #expect(Self.h("abcdefghijklmnopqrstuvwxyz1234567") == 0x23BB_D16D_2935_3C5F)
        #expect(Self.h("The quick brown fox jumps over the lazy dog") == 0x0B24_2D36_1FDA_71BC)
        #expect(Self.h("", seed: 668_718_853) == 0x04E8_3058_2A31_A119)
        #expect(Self.h("a", seed: 191_961_062) == 0x6E05_BA28_87C9_7977)
        #expect(Self.h("abcdefghijklmnopqrstuvwxyz12345", seed: 877_380_273) == 0x37B5_62EC_5715_E132)
        #expect(XXHash64.hash([0x01]) == 9_962_287_286_179_718_960)
        #expect(XXHash64.hash([0x02, 0x00]) == 6_482_051_057_365_497_128)
        #expect(XXHash64.hash([0x03, 0, 0, 0]) == 13_361_037_350_151_369_407)
    }

    @Test func fixedWidthFastPathsHashPlainBytes() {
        var rng = SeededGenerator(seed: 7)
        for _ in 0..<1000 {
            let x = rng.next()
            let i64 = Int64(bitPattern: x)
            let i32 = Int32(truncatingIfNeeded: x)
            let seed = rng.next() % 3 == 0 ? rng.next() : 0
            #expect(XXHash64.hash(i64, seed: seed) == withUnsafeBytes(of: i64.littleEndian) { XXHash64.hash($0, seed: seed) })
            #expect(XXHash64.hash(i32, seed: seed) == withUnsafeBytes(of: i32.littleEndian) { XXHash64.hash($0, seed: seed) })
            let d = Double(bitPattern: x), f = Float(bitPattern: UInt32(truncatingIfNeeded: x))
            #expect(XXHash64.hash(d) == withUnsafeBytes(of: d.bitPattern.littleEndian) { XXHash64.hash($0) })
            #expect(XXHash64.hash(f) == withUnsafeBytes(of: f.bitPattern.littleEndian) { XXHash64.hash($0) })
            let hi = rng.next()
            var bytes: [UInt8] = []
            withUnsafeBytes(of: x.littleEndian) { bytes += $0 }
            withUnsafeBytes(of: hi.littleEndian) { bytes += $0 }
            #expect(XXHash64.hash16(low: x, high: hi) == XXHash64.hash(bytes))
        }
        // Every tail length around the 32-byte stripe path, against a byte-at-a-time split.
        let data = (0..<100).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        var seen = Set<UInt64>()
        for n in 0...100 { seen.insert(XXHash64.hash(Array(data.prefix(n)))) }
        #expect(seen.count == 101)
    }

    @Test func optimalSizes() {
        #expect(SplitBlockBloomFilter.optimalNumBytes(ndv: 0, fpp: 0.01) == 32)
        #expect(SplitBlockBloomFilter.optimalNumBytes(ndv: 1, fpp: 0.5) == 32)
        // 1M values at 1%: ~1.2 MB per the spec, so the next power of two is 2 MiB.
        #expect(SplitBlockBloomFilter.optimalNumBytes(ndv: 1_000_000, fpp: 0.01) == 2 * 1024 * 1024)
        #expect(SplitBlockBloomFilter.optimalNumBytes(ndv: Int.max / 2, fpp: 0.01) == 128 * 1024 * 1024)
        for ndv in [10, 1000, 123_456] {
            let n = SplitBlockBloomFilter.optimalNumBytes(ndv: ndv, fpp: 0.05)
            #expect(n & (n - 1) == 0)
        }
        #expect(SplitBlockBloomFilter(numBytes: 33).numBytes == 64)
        #expect(SplitBlockBloomFilter(numBytes: 1).numBytes == 32)
    }

    @Test func insertedValuesAreFoundAndOthersMostlyNot() {
        let ndv = 10_000
        var filter = SplitBlockBloomFilter(numBytes: SplitBlockBloomFilter.optimalNumBytes(ndv: ndv, fpp: 0.01))
        for i in 0..<ndv { filter.insert(hash: XXHash64.hash(Int64(i))) }
        for i in 0..<ndv { #expect(filter.contains(hash: XXHash64.hash(Int64(i)))) }
        let falsePositives = (ndv..<(ndv + 100_000)).filter { filter.contains(hash: XXHash64.hash(Int64($0))) }.count
        // Sized for 1% (rounded up to a power of two, so usually better).
        #expect(falsePositives < 1_500, "false positives: \(falsePositives)")
        #expect(falsePositives > 0)

        let empty = SplitBlockBloomFilter(numBytes: 1024)
        #expect(!empty.contains(hash: XXHash64.hash(Int64(1))))
        let round = SplitBlockBloomFilter(bitset: filter.bitset)
        #expect(round == filter)
        #expect(SplitBlockBloomFilter(bitset: [1, 2, 3]) == nil)

        // serialized() = Thrift header + bitset, readable back through the reader's path.
        let bytes = filter.serialized()
        var r = ThriftCompactReader(bytes)
        let header = try? BloomFilterHeader(from: &r)
        #expect(header == BloomFilterHeader(numBytes: Int32(filter.numBytes)))
        #expect(Array(bytes[r.position...]) == filter.bitset)
    }

    @Test(.enabled(if: MetadataReaderTests.pythonAvailable, "needs the venv python (scripts/test)"))
    func bitsetsMatchPyarrow() throws {
        let dir = try TestEnvironment.temporaryDirectory("bloom")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try MetadataReaderTests.writeWithPyarrow(dir)
        let meta = try ParquetMetadataReader.read(path: path)
        let rows = MetadataReaderTests.rows, size = MetadataReaderTests.rowGroupSize
        var checked = 0
        for (g, group) in meta.rowGroups.enumerated() {
            let range = (g * size)..<min((g + 1) * size, rows)
            for chunk in group.columns {
                let name = chunk.metaData!.pathInSchema.joined(separator: ".")
                let hashes: [UInt64]
                switch name {
                case "i32": hashes = range.filter { $0 % 7 != 0 }.map { XXHash64.hash(Int32($0 * 3 - 5000)) }
                case "i64": hashes = range.map { XXHash64.hash(Int64(($0 * 7919) % 100_003 - 50_000)) }
                case "f64": hashes = range.map { XXHash64.hash(Double($0) * 0.25 - 100.0) }
                case "f32": hashes = range.map { XXHash64.hash(Float($0) / 8) }
                case "s": hashes = range.map { XXHash64.hash(Array("name-\($0 % 50)".utf8)) }
                case "uuid": hashes = range.map { XXHash64.hash16(low: UInt64($0), high: 0) }
                default:
                    #expect(try ParquetMetadataReader.readBloomFilter(path: path, chunk: chunk) == nil, "\(name)")
                    continue
                }
                let theirs = try #require(try ParquetMetadataReader.readBloomFilter(path: path, chunk: chunk), "\(name)")
                // Arrow shrinks filters to the distinct values it saw, so only the shape is fixed.
                #expect(theirs.numBytes & (theirs.numBytes - 1) == 0, "\(name)")
                #expect(theirs.numBytes <= SplitBlockBloomFilter.optimalNumBytes(ndv: 3000, fpp: 0.01), "\(name)")
                for h in hashes { #expect(theirs.contains(hash: h), "\(name)") }
                var ours = SplitBlockBloomFilter(numBytes: theirs.numBytes)
                for h in hashes { ours.insert(hash: h) }
                #expect(ours.bitset == theirs.bitset, "bitset of \(name) in row group \(g)")
                checked += 1
            }
        }
        #expect(checked == 6 * 3)
    }
}
