@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import Synchronization
import Parquet
import Testing

@Suite struct HealthServerTests {
    final class Flag: Sendable {
        let ready = Mutex<String?>("redis: connecting")
        let port = Mutex<Int>(0)
    }

    func get(_ port: Int, _ path: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
    }

    @Test func servesHealthReadinessAndMetrics() async throws {
        let metrics = WorkerMetrics()
        let flag = Flag()
        let server = try HealthServer(listen: "127.0.0.1:0", metrics: metrics, logger: Logger(label: "test"),
                                      readiness: { flag.ready.withLock { $0 } },
                                      onBound: { p in flag.port.withLock { $0 = p } })
        let task = Task { try await server.run() }
        defer { task.cancel() }
        var port = 0
        for _ in 0..<200 where port == 0 {
            try await Task.sleep(for: .milliseconds(10))
            port = flag.port.withLock { $0 }
        }
        #expect(port > 0)

        metrics.fileWritten(entity: "orders", rows: 120, bytes: 4096, duration: .milliseconds(30), reason: .idle)
        metrics.deadLetter(stream: "events:orders", entity: "orders", reason: "decode")
        metrics.consumerLag(stream: "events:orders", 7)

        let (hs, hb) = try await get(port, "/healthz")
        #expect(hs == 200 && hb == "ok\n")
        let (rs, rb) = try await get(port, "/readyz")
        #expect(rs == 503 && rb.contains("redis: connecting"))
        flag.ready.withLock { $0 = nil }
        let (rs2, _) = try await get(port, "/readyz")
        #expect(rs2 == 200)
        let (ms, mb) = try await get(port, "/metrics")
        #expect(ms == 200)
        #expect(mb.contains(#"lakewriter_rows_written_total{entity="orders"} 120"#))
        #expect(mb.contains(#"lakewriter_dead_letters_total{stream="events:orders",entity="orders",reason="decode"} 1"#))
        #expect(mb.contains(#"lakewriter_consumer_lag{stream="events:orders"} 7"#))
        #expect(mb.contains(#"lakewriter_build_info{version="\#(LakewriterVersion.version)"} 1"#))
        #expect(mb.contains("lakewriter_flush_duration_seconds_bucket"))
        let (ns, _) = try await get(port, "/nope")
        #expect(ns == 404)
    }

    @Test func rejectsABadListenAddress() {
        #expect(throws: (any Error).self) {
            try HealthServer(listen: "8083", metrics: WorkerMetrics(), logger: Logger(label: "t"), readiness: { nil })
        }
    }
}
