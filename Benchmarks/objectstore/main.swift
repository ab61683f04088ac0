// Uploads one large object through lakewriter's streaming writer (multipart, concurrent
// parts) to the S3 endpoint of scripts/bench and prints MiB/s. peer.py does the same with
// boto3 in the same run; scripts/bench prints both and the ratio.
//
// Environment: LAKEWRITER_TEST_S3_ENDPOINT, LAKEWRITER_TEST_S3_ACCESS_KEY, LAKEWRITER_TEST_S3_SECRET_KEY,
// LAKEWRITER_TEST_S3_REGION; BENCH_OBJECT_MIB (default 256), BENCH_RUNS (default 3),
// BENCH_PART_MIB (default 16), BENCH_CONCURRENCY (default 4), BENCH_CHUNK_KIB (default 1024: the
// size of each write, as a Parquet writer would hand over pages).
import Foundation
import NIOCore
import ObjectStore

func env(_ name: String) -> String? { ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 } }
func envInt(_ name: String, _ fallback: Int) -> Int { env(name).flatMap(Int.init) ?? fallback }

guard let endpoint = env("LAKEWRITER_TEST_S3_ENDPOINT"), let key = env("LAKEWRITER_TEST_S3_ACCESS_KEY"),
      let secret = env("LAKEWRITER_TEST_S3_SECRET_KEY") else {
    FileHandle.standardError.write(Data("bench-objectstore: set LAKEWRITER_TEST_S3_* (run scripts/bench)\n".utf8))
    exit(2)
}
let objectMiB = envInt("BENCH_OBJECT_MIB", 256)
let runs = envInt("BENCH_RUNS", 3)
let partMiB = envInt("BENCH_PART_MIB", 16)
let concurrency = envInt("BENCH_CONCURRENCY", 4)
let chunkKiB = envInt("BENCH_CHUNK_KIB", 1024)
let bucket = env("BENCH_BUCKET") ?? "lw-bench-swift-\(UUID().uuidString.prefix(6).lowercased())"

// Incompressible, deterministic content.
var data = [UInt8](repeating: 0, count: objectMiB << 20)
data.withUnsafeMutableBytes { raw in
    var s: UInt64 = 0x1234_5678_9ABC_DEF1
    let words = raw.bindMemory(to: UInt64.self)
    for i in 0..<words.count {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17
        words[i] = s
    }
}
let chunks: [[UInt8]] = stride(from: 0, to: data.count, by: chunkKiB << 10).map {
    Array(data[$0..<min($0 + (chunkKiB << 10), data.count)])
}
let totalBytes = data.count
data = []  // the chunks hold the content; keep one copy in memory

let store = try S3ObjectStore(configuration: S3Configuration(
    bucket: bucket, endpoint: endpoint, region: env("LAKEWRITER_TEST_S3_REGION") ?? "us-east-1",
    credentials: S3Credentials(accessKeyID: key, secretAccessKey: secret)))
try await store.createBucket()

let options = ObjectWriterOptions(partSize: partMiB << 20, maxConcurrentParts: concurrency)
var rates: [Double] = []
for run in 0...runs {  // run 0 warms up connections and the server
    let objectKey = "bench/run=\(run)/object.bin"
    let clock = ContinuousClock()
    let start = clock.now
    let writer = store.makeWriter(key: objectKey, options: options)
    for chunk in chunks { try await writer.write(chunk) }
    let info = try await writer.finish()
    let elapsed = clock.now - start
    precondition(info.size == Int64(totalBytes))
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    if run > 0 { rates.append(Double(objectMiB) / seconds) }
    try await store.delete(key: objectKey)
}
for upload in try await store.listMultipartUploads() { try await store.abortMultipartUpload(upload) }
try await store.deleteBucket()
try await store.shutdown()

let sorted = rates.sorted()
let median = sorted[sorted.count / 2]
print("lakewriter objectstore: \(objectMiB) MiB, part \(partMiB) MiB x\(concurrency), runs \(runs): "
      + "median \(String(format: "%.1f", median)) MiB/s, best \(String(format: "%.1f", sorted.last!)) MiB/s")
print("RESULT impl=lakewriter label=\(env("BENCH_LABEL") ?? "default") part_mib=\(partMiB) concurrency=\(concurrency) mib=\(objectMiB) runs=\(runs) median_mib_s=\(String(format: "%.2f", median)) "
      + "best_mib_s=\(String(format: "%.2f", sorted.last!))")
