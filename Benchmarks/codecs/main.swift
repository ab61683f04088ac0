// Page compression throughput of Parquet.Compressor against pyarrow's Codec on the same
// pages: 1 MiB pages shaped like Parquet PLAIN data (int64 ids with small deltas,
// low-cardinality strings with length prefixes, JSON text, random bytes). Writes the pages
// to --dir/pages.bin for peer.py, which compresses the same pages with pyarrow.
// scripts/bench codecs runs both and prints the ratio.
//
//   bench-codecs [--mib N] [--rounds R] [--dir DIR]
import Foundation
import Parquet
import TestSupport

let options = BenchOptions(["mib": "64", "rounds": "3",
                             "dir": FileManager.default.temporaryDirectory.appendingPathComponent("lakewriter-bench-codecs").path])
let mib = options.int("mib"), rounds = options.int("rounds"), dir = options.string("dir")
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

let pageSize = 1 << 20
var rng = SeededGenerator(seed: 2026)
var pages: [[UInt8]] = []
pages.reserveCapacity(mib)
let words = ["active", "pending", "closed", "refunded", "DE", "FR", "US", "JP", "BR"]
var id: Int64 = 1_000_000
for p in 0..<mib {
    var page: [UInt8] = []
    page.reserveCapacity(pageSize + 64)
    switch p % 4 {
    case 0:  // PLAIN int64: increasing ids with small random gaps
        while page.count < pageSize {
            id += Int64(rng.next() % 7)
            withUnsafeBytes(of: id.littleEndian) { page.append(contentsOf: $0) }
        }
    case 1:  // PLAIN byte arrays of low-cardinality strings
        while page.count < pageSize {
            let w = words[Int(rng.next() % UInt64(words.count))].utf8
            withUnsafeBytes(of: UInt32(w.count).littleEndian) { page.append(contentsOf: $0) }
            page.append(contentsOf: w)
        }
    case 2:  // JSON text
        while page.count < pageSize {
            let s = "{\"order\":\(rng.next() % 100_000),\"sku\":\"A-\(rng.next() % 5000)\",\"qty\":\(rng.next() % 9 + 1)}"
            page.append(contentsOf: s.utf8)
        }
    default:  // incompressible
        while page.count < pageSize {
            withUnsafeBytes(of: rng.next()) { page.append(contentsOf: $0) }
        }
    }
    pages.append(Array(page.prefix(pageSize)))
}
let all = pages.flatMap { $0 }
try Data(all).write(to: URL(fileURLWithPath: dir + "/pages.bin"))

let codecs: [(String, Compression)] = [("snappy", .snappy), ("gzip", .gzip(level: 6)), ("zstd", .zstd(level: 3)), ("lz4_raw", .lz4Raw)]
for (name, compression) in codecs {
    let compressor = try Compressor(compression)
    var out: [UInt8] = []
    out.reserveCapacity(compressor.maxCompressedLength(pageSize))
    var best = Double.infinity
    var bytes = 0
    for _ in 0..<rounds {
        bytes = 0
        let start = DispatchTime.now().uptimeNanoseconds
        for page in pages {
            out.removeAll(keepingCapacity: true)
            bytes += try page.withUnsafeBytes { try compressor.compress($0, appendingTo: &out) }
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        best = min(best, seconds)
    }
    print("RESULT impl=lakewriter codec=\(name) mib=\(mib) mib_per_s=\(Double(mib) / best) bytes=\(bytes)")
}

// xxHash64 + split-block bloom insert over int64 values (no peer: pyarrow does not expose it).
let count = 20_000_000
var filter = SplitBlockBloomFilter(numBytes: SplitBlockBloomFilter.optimalNumBytes(ndv: 1_000_000, fpp: 0.01))
var best = Double.infinity
for _ in 0..<rounds {
    let start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<count { filter.insert(hash: XXHash64.hash(Int64(i) &* 0x9E37_79B9)) }
    best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
}
print("bloom: \(Int(Double(count) / best)) int64 values/s hashed and inserted (\(filter.contains(hash: 1) ? 1 : 0))")
