// Encodes a business-shaped table (uuid, int64, decimal(12,2), two low-cardinality
// strings, timestamptz, int32, nullable text, bool, JSON text) from in-memory columns
// to Parquet with snappy and zstd, and writes the same data once (untimed) for
// peer.py, which times pyarrow's pq.write_table on it. scripts/bench runs both.
//
//   bench-parquet [--rows N] [--rounds R] [--dir DIR]
import Foundation
import Parquet
import TestSupport

let options = BenchOptions(["rows": "2000000", "rounds": "3",
                             "dir": FileManager.default.temporaryDirectory.appendingPathComponent("lakewriter-bench-parquet").path])
let rows = options.int("rows"), rounds = options.int("rounds"), dir = options.string("dir")
try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)

let schema = try ParquetSchema([
    .required("id", .uuid),
    .required("seq", .int64),
    .required("amount", .decimal(precision: 12, scale: 2)),
    .required("status", .string),
    .required("country", .string),
    .required("created_at", .timestamp(.micros, adjustedToUTC: true)),
    .required("quantity", .int32),
    .optional("note", .string),
    .required("active", .boolean),
    .required("payload", .json),
])

let statuses = ["pending", "paid", "shipped", "delivered", "cancelled", "refunded"]
let countries = ["US", "DE", "FR", "GB", "NL", "SE", "ES", "IT", "PL", "BR", "IN", "JP", "CN", "CA", "AU",
                 "MX", "AR", "ZA", "NG", "KE", "EG", "TR", "RU", "UA", "CH", "AT", "BE", "DK", "NO", "FI"]
let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
             "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
             "uniform", "victor", "whiskey", "xray", "yankee", "zulu", "order", "customer", "late", "gift"]
let events = ["click", "view", "purchase", "signup", "logout"]

var rng = SeededGenerator(seed: 42)
var batch = RowBatch(schema)
batch.reserveCapacity(rows: rows, bytesPerValue: 8)
batch.columns[9].reserveCapacity(values: rows, bytes: rows * 90)
var text: [UInt8] = []
text.reserveCapacity(256)
let t0: Int64 = 1_735_689_600_000_000  // 2025-01-01T00:00:00Z
for i in 0..<rows {
    var u = (rng.next(), rng.next())
    withUnsafeMutableBytes(of: &u) { raw in
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        batch.columns[0].appendFixed(UnsafeRawBufferPointer(raw))
    }
    batch.columns[1].appendInt64(Int64(i))
    batch.columns[2].appendInt64(Int64(rng.next() % 10_000_000))
    let st = statuses[Int(rng.next() % UInt64(statuses.count))]
    var s = st
    s.withUTF8 { batch.columns[3].appendBytes(UnsafeRawBufferPointer($0)) }
    var c = countries[Int(rng.next() % UInt64(countries.count))]
    c.withUTF8 { batch.columns[4].appendBytes(UnsafeRawBufferPointer($0)) }
    batch.columns[5].appendInt64(t0 + Int64(i) * 15_000_000 + Int64(rng.next() % 1_000_000))
    batch.columns[6].appendInt32(Int32(rng.next() % 100) + 1)
    if rng.next() % 10 < 3 {
        batch.columns[7].appendNull()
    } else {
        text.removeAll(keepingCapacity: true)
        for k in 0..<Int(3 + rng.next() % 6) {
            if k > 0 { text.append(0x20) }
            text.append(contentsOf: words[Int(rng.next() % UInt64(words.count))].utf8)
        }
        text.withUnsafeBytes { batch.columns[7].appendBytes($0) }
    }
    batch.columns[8].appendBool(rng.next() & 1 == 0)
    let json = "{\"user\":\(rng.next() % 1_000_000),\"event\":\"\(events[Int(rng.next() % 5)])\",\"score\":\(rng.next() % 1000),\"tags\":[\"\(words[Int(rng.next() % 30)])\",\"\(words[Int(rng.next() % 30)])\"]}"
    var j = json
    j.withUTF8 { batch.columns[9].appendBytes(UnsafeRawBufferPointer($0)) }
}

// The data for the peer, untimed.
do {
    var p = WriterProperties()
    p.compression = .uncompressed
    let w = try ParquetWriter(schema: schema, sink: try FileSink(path: "\(dir)/data.parquet"), properties: p)
    try w.write(batch)
    try w.close()
}

/// CPU seconds of this process: steadier than wall time on a shared machine.
func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func fileSize(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}

for (label, compression) in [("snappy", Compression.snappy), ("zstd", Compression.zstd(level: 3))] {
    var best = Double.infinity
    var bestCPU = Double.infinity
    let path = "\(dir)/swift-\(label).parquet"
    for _ in 0..<rounds {
        var p = WriterProperties()
        p.compression = compression
        let clock = ContinuousClock()
        let start = clock.now
        let cpuStart = cpuSeconds()
        let w = try ParquetWriter(schema: schema, sink: try FileSink(path: path), properties: p)
        try w.write(batch)
        try w.close()
        let d = clock.now - start
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        best = min(best, seconds)
        bestCPU = min(bestCPU, cpuSeconds() - cpuStart)
    }
    let size = fileSize(path)
    print(String(format: "RESULT impl=lakewriter codec=%@ rows=%d best_s=%.4f rows_per_s=%.0f cpu_s=%.4f bytes=%d",
                 label, rows, best, Double(rows) / best, bestCPU, size))
}
print("DATA \(dir)/data.parquet")
