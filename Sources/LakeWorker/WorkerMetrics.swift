import LakeModel
import LakeOutput
import LakeDecoding
import Foundation
import Parquet
import Prometheus
import Synchronization

/// The worker's Prometheus metrics, created once per label value and cached.
///
/// Label values are bounded: entity and stream names come from the config,
/// dead-letter reasons from a fixed enum, flush reasons from `FlushPolicy.Reason`.
public final class WorkerMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    private struct Cache {
        var counters: [String: Prometheus.Counter] = [:]
        var gauges: [String: Prometheus.Gauge] = [:]
        var histograms: [String: DurationHistogram] = [:]
    }
    private let cache = Mutex(Cache())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // `lakewriter_build_info{version="…"} 1`: the version files carry in `created_by`.
        gauge("lakewriter_build_info", "lakewriter's version (the one in every file's created_by)",
              [("version", LakewriterVersion.version)]).set(Int64(1))
    }

    static let flushBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]

    private func counter(_ name: String, _ help: String, _ labels: [(String, String)]) -> Prometheus.Counter {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { c in
            if let m = c.counters[key] { return m }
            let m = registry.makeCounter(descriptor: .init(metricName: name, unitName: "", helpText: help), labels: labels)
            c.counters[key] = m
            return m
        }
    }

    private func gauge(_ name: String, _ help: String, _ labels: [(String, String)]) -> Prometheus.Gauge {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { c in
            if let m = c.gauges[key] { return m }
            let m = registry.makeGauge(descriptor: .init(metricName: name, unitName: "", helpText: help), labels: labels)
            c.gauges[key] = m
            return m
        }
    }

    private func histogram(_ name: String, _ help: String, _ labels: [(String, String)]) -> DurationHistogram {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { c in
            if let m = c.histograms[key] { return m }
            let m = registry.makeDurationHistogram(descriptor: .init(metricName: name, unitName: "", helpText: help), labels: labels, buckets: Self.flushBuckets)
            c.histograms[key] = m
            return m
        }
    }

    public func eventsConsumed(stream: String, _ n: Int) {
        counter("lakewriter_events_consumed_total", "Stream entries read from Redis", [("stream", stream)])
            .increment(by: Int64(n))
    }

    public func fileWritten(entity: String, rows: Int, bytes: Int, duration: Duration, reason: FlushPolicy.Reason) {
        counter("lakewriter_rows_written_total", "Rows written to durable Parquet files", [("entity", entity)])
            .increment(by: Int64(rows))
        counter("lakewriter_files_written_total", "Parquet files written", [("entity", entity), ("reason", reason.rawValue)])
            .increment()
        counter("lakewriter_bytes_written_total", "Parquet bytes written", [("entity", entity)])
            .increment(by: Int64(bytes))
        histogram("lakewriter_flush_duration_seconds", "Time to encode and upload one file", [("entity", entity)])
            .recordNanoseconds(duration.nanoseconds)
    }

    public func flushFailed(entity: String) {
        counter("lakewriter_flush_failures_total", "Flush attempts that failed and will be retried", [("entity", entity)])
            .increment()
    }

    public func uploadRetry(entity: String) {
        counter("lakewriter_upload_retries_total", "Object store requests retried", [("entity", entity)]).increment()
    }

    public func deadLetter(stream: String, entity: String, reason: String) {
        counter("lakewriter_dead_letters_total", "Entries sent to the dead-letter stream",
                [("stream", stream), ("entity", entity), ("reason", reason)]).increment()
    }

    public func bufferedBytes(entity: String, _ bytes: Int) {
        gauge("lakewriter_buffered_bytes", "Bytes buffered in memory, not yet written", [("entity", entity)])
            .set(Int64(bytes))
    }

    public func bufferedRows(entity: String, _ rows: Int) {
        gauge("lakewriter_buffered_rows", "Rows buffered in memory, not yet written", [("entity", entity)])
            .set(Int64(rows))
    }

    /// Buffered plus in-flight (sealed, not yet written) bytes: what `flush.memory_limit` bounds.
    public func memoryBytes(_ bytes: Int, peak: Int) {
        gauge("lakewriter_memory_bytes", "Bytes buffered or being written, bounded by flush.memory_limit", [])
            .set(Int64(bytes))
        gauge("lakewriter_memory_peak_bytes", "Highest lakewriter_memory_bytes since the start", []).set(Int64(peak))
    }

    public func consumerLag(stream: String, _ lag: Int) {
        gauge("lakewriter_consumer_lag", "Entries in the stream not yet delivered to the group (XINFO GROUPS lag)",
              [("stream", stream)]).set(Int64(lag))
    }

    public func pending(stream: String, _ n: Int) {
        gauge("lakewriter_pending_entries", "Entries delivered but not yet acknowledged (XPENDING)", [("stream", stream)])
            .set(Int64(n))
    }

    public func deadLetterLength(stream: String, _ n: Int) {
        gauge("lakewriter_dead_letter_length", "Entries in the dead-letter stream {stream}:dlq (XLEN)", [("stream", stream)])
            .set(Int64(n))
    }

    public func backpressure(_ on: Bool) {
        gauge("lakewriter_backpressure", "1 while reading is paused because buffered data is at the memory limit", [])
            .set(Int64(on ? 1 : 0))
    }

    /// Prometheus text exposition format.
    public func render() -> [UInt8] { registry.emitToBuffer() }
}

extension Duration {
    var nanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
