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
        var valueHistograms: [String: ValueHistogram] = [:]
        var cpuSeconds = 0.0
    }
    private let cache = Mutex(Cache())

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // `lakewriter_build_info{version="…"} 1`: the version files carry in `created_by`.
        gauge("lakewriter_build_info", "lakewriter's version (the one in every file's created_by)",
              [("version", LakewriterVersion.version)]).set(Int64(1))
        gauge("process_start_time_seconds", "Start time of the process since the Unix epoch", [])
            .set(ProcessStats.startTime)
    }

    /// Creates every counter whose label values the configuration determines, at 0, so that
    /// `rate()` and `increase()` see the first event (a counter that appears with its first
    /// increment is invisible to them). Also starts `lakewriter_last_file_timestamp_seconds`
    /// at the start time: "no file since" then counts from the start.
    public func prepare(for config: LakewriterConfig) {
        let now = Date().timeIntervalSince1970
        var streams: [String] = []
        for e in config.entities where !streams.contains(e.stream) { streams.append(e.stream) }
        for s in streams {
            _ = counter("lakewriter_events_consumed_total", Help.consumed, [("stream", s)])
            _ = counter("lakewriter_dead_letters_total", Help.deadLetters, [("stream", s), ("entity", ""), ("reason", "unroutable")])
            for e in config.entities where e.stream == s {
                for reason in Self.deadLetterReasons {
                    _ = counter("lakewriter_dead_letters_total", Help.deadLetters, [("stream", s), ("entity", e.name), ("reason", reason)])
                }
            }
        }
        for e in config.entities {
            _ = counter("lakewriter_rows_written_total", Help.rows, [("entity", e.name)])
            _ = counter("lakewriter_bytes_written_total", Help.bytes, [("entity", e.name)])
            _ = counter("lakewriter_flush_failures_total", Help.flushFailures, [("entity", e.name)])
            _ = counter("lakewriter_upload_retries_total", Help.uploadRetries, [("entity", e.name)])
            for reason in FlushPolicy.Reason.allCases {
                _ = counter("lakewriter_files_written_total", Help.files, [("entity", e.name), ("reason", reason.rawValue)])
            }
            entityPaused(entity: e.name, false)
            gauge("lakewriter_last_file_timestamp_seconds", Help.lastFile, [("entity", e.name)]).set(now)
            gauge("lakewriter_oldest_buffered_seconds", Help.oldestBuffered, [("entity", e.name)]).set(0.0)
        }
        _ = counter("lakewriter_redis_reconnects_total", Help.reconnects, [])
    }

    /// Dead-letter reasons an entity's entries can have (`unroutable` entries have no entity).
    static let deadLetterReasons = ["decode", "schema", "encode", "redelivered", "partition"]

    enum Help {
        static let consumed = "Stream entries read from Redis"
        static let deadLetters = "Entries sent to the dead-letter stream"
        static let rows = "Rows written to durable Parquet files"
        static let bytes = "Parquet bytes written"
        static let files = "Parquet files written"
        static let flushFailures = "Flush attempts that failed and will be retried"
        static let uploadRetries = "Object store requests retried"
        static let lastFile = "Unix time of the entity's last durable file (the start time until the first)"
        static let oldestBuffered = "Age in seconds of the entity's oldest row not yet in a durable file (0: none)"
        static let reconnects = "Reconnections of the Redis stream reader"
    }

    static let fileByteBuckets: [Double] = [
        65_536, 262_144, 1_048_576, 4_194_304, 16_777_216, 67_108_864, 134_217_728, 268_435_456, 536_870_912, 1_073_741_824,
    ]
    static let fileRowBuckets: [Double] = [10, 100, 1_000, 10_000, 100_000, 1_000_000, 10_000_000]

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

    private func valueHistogram(_ name: String, _ help: String, _ labels: [(String, String)],
                                buckets: [Double]) -> ValueHistogram {
        let key = name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        return cache.withLock { c in
            if let m = c.valueHistograms[key] { return m }
            let m = registry.makeValueHistogram(descriptor: .init(metricName: name, unitName: "", helpText: help),
                                                labels: labels, buckets: buckets)
            c.valueHistograms[key] = m
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

    /// Re-read entries found in a Delta commit: acknowledged without being written again.
    public func alreadyCommitted(stream: String, _ n: Int) {
        counter("lakewriter_delta_already_committed_total", "Re-read entries already in a Delta commit, acknowledged without writing",
                [("stream", stream)]).increment(by: Int64(n))
    }

    /// One Delta commit of `entity`'s table: its duration (retries at later versions included)
    /// and how many versions other writers had taken first.
    public func deltaCommitted(entity: String, duration: Duration, conflicts: Int) {
        counter("lakewriter_delta_commits_total", "Delta commits made", [("entity", entity)]).increment()
        histogram("lakewriter_delta_commit_seconds", "Time to commit one file to its Delta table", [("entity", entity)])
            .recordNanoseconds(duration.nanoseconds)
        if conflicts > 0 {
            counter("lakewriter_delta_commit_retries_total", "Delta versions another writer took first", [("entity", entity)])
                .increment(by: Int64(conflicts))
        }
    }

    public func eventsConsumed(stream: String, _ n: Int) {
        counter("lakewriter_events_consumed_total", Help.consumed, [("stream", stream)])
            .increment(by: Int64(n))
    }

    public func fileWritten(entity: String, rows: Int, bytes: Int, duration: Duration, reason: FlushPolicy.Reason,
                            encode: Duration = .zero, upload: Duration = .zero) {
        counter("lakewriter_rows_written_total", Help.rows, [("entity", entity)])
            .increment(by: Int64(rows))
        counter("lakewriter_files_written_total", Help.files, [("entity", entity), ("reason", reason.rawValue)])
            .increment()
        counter("lakewriter_bytes_written_total", Help.bytes, [("entity", entity)])
            .increment(by: Int64(bytes))
        histogram("lakewriter_flush_duration_seconds", "Time to encode and upload one file, retries included", [("entity", entity)])
            .recordNanoseconds(duration.nanoseconds)
        histogram("lakewriter_encode_duration_seconds", "Time spent encoding and compressing one file (last attempt)",
                  [("entity", entity)]).recordNanoseconds(encode.nanoseconds)
        histogram("lakewriter_upload_duration_seconds", "Time spent waiting for the store while writing one file (last attempt)",
                  [("entity", entity)]).recordNanoseconds(upload.nanoseconds)
        valueHistogram("lakewriter_file_bytes", "Size of the Parquet files written", [("entity", entity)],
                       buckets: Self.fileByteBuckets).record(Double(bytes))
        valueHistogram("lakewriter_file_rows", "Rows per Parquet file written", [("entity", entity)],
                       buckets: Self.fileRowBuckets).record(Double(rows))
        gauge("lakewriter_last_file_timestamp_seconds", Help.lastFile, [("entity", entity)])
            .set(Date().timeIntervalSince1970)
    }

    public func flushFailed(entity: String) {
        counter("lakewriter_flush_failures_total", Help.flushFailures, [("entity", entity)])
            .increment()
    }

    public func uploadRetry(entity: String) {
        counter("lakewriter_upload_retries_total", Help.uploadRetries, [("entity", entity)]).increment()
    }

    /// One object store request attempt: its operation (PutObject, UploadPart, …) and HTTP
    /// status, or `error` when no answer came (connection refused, reset, timeout).
    public func storeRequest(operation: String, status: Int?) {
        counter("lakewriter_store_requests_total", "Object store request attempts by operation and HTTP status",
                [("operation", operation), ("status", status.map(String.init) ?? "error")]).increment()
    }

    public func deadLetter(stream: String, entity: String, reason: String) {
        counter("lakewriter_dead_letters_total", Help.deadLetters,
                [("stream", stream), ("entity", entity), ("reason", reason)]).increment()
    }

    /// Age of the oldest row of `entity` not yet in a durable file (buffered or being written).
    public func oldestBuffered(entity: String, seconds: Double) {
        gauge("lakewriter_oldest_buffered_seconds", Help.oldestBuffered, [("entity", entity)]).set(seconds)
    }

    /// Seconds between now and the oldest entry of the stream the group has not acknowledged
    /// (pending, or not yet delivered), from entry ids; 0 when everything is acknowledged.
    public func consumerLagSeconds(stream: String, _ seconds: Double) {
        gauge("lakewriter_consumer_lag_seconds",
              "Age of the stream's oldest entry not yet acknowledged by the group (now minus its id's time)",
              [("stream", stream)]).set(seconds)
    }

    /// 1 while the last Redis round trip of the housekeeping loop succeeded. While it is 0 the
    /// lag gauges keep their last value (they never drop to 0 because Redis is unreachable).
    public func redisUp(_ up: Bool) {
        gauge("lakewriter_redis_up", "1 when Redis answered the last housekeeping round, 0 when it did not", [])
            .set(Int64(up ? 1 : 0))
    }

    /// 1 while `/readyz` would answer 200.
    public func ready(_ ready: Bool) {
        gauge("lakewriter_ready", "1 while the worker is ready (/readyz answers 200), else 0", []).set(Int64(ready ? 1 : 0))
    }

    public func redisReconnects(_ n: Int) {
        counter("lakewriter_redis_reconnects_total", Help.reconnects, []).increment(by: Int64(n))
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

    public func entityPaused(entity: String, _ paused: Bool) {
        gauge("lakewriter_entity_paused", "1 while the dead-letter breaker pauses the entity (its entries stay pending)",
              [("entity", entity)]).set(Int64(paused ? 1 : 0))
    }

    public func deadLetterLength(stream: String, _ n: Int) {
        gauge("lakewriter_dead_letter_length", "Entries in the dead-letter stream {stream}:dlq (XLEN)", [("stream", stream)])
            .set(Int64(n))
    }

    public func backpressure(_ on: Bool) {
        gauge("lakewriter_backpressure", "1 while reading is paused because buffered data is at the memory limit", [])
            .set(Int64(on ? 1 : 0))
    }

    /// Prometheus text exposition format; the process gauges are read at each scrape.
    public func render() -> [UInt8] {
        updateProcess()
        return registry.emitToBuffer()
    }

    /// `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds` and
    /// `process_max_fds`, as Prometheus client libraries name them (Linux `/proc/self`).
    func updateProcess() {
        guard let p = ProcessStats.read() else { return }
        gauge("process_resident_memory_bytes", "Resident memory size in bytes", []).set(Int64(p.residentBytes))
        gauge("process_open_fds", "Open file descriptors", []).set(Int64(p.openFDs))
        gauge("process_max_fds", "Limit of open file descriptors", []).set(Int64(p.maxFDs))
        let cpu = counter("process_cpu_seconds_total", "User and system CPU time in seconds", [])
        let delta = cache.withLock { c -> Double in
            let d = max(0, p.cpuSeconds - c.cpuSeconds)
            c.cpuSeconds = max(c.cpuSeconds, p.cpuSeconds)
            return d
        }
        if delta > 0 { cpu.increment(by: delta) }
    }
}

/// The process's resources from `/proc/self` (nil where it is not Linux).
struct ProcessStats {
    var residentBytes: Int
    var cpuSeconds: Double
    var openFDs: Int
    var maxFDs: Int

    static let startTime = Date().timeIntervalSince1970

    static func read() -> ProcessStats? {
        #if os(Linux)
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
        // Fields after the command name (which is in parentheses and may contain spaces):
        // state is field 3, utime 14, stime 15 (1-based).
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count).map { max(0, $0 - 1) } ?? 0
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return ProcessStats(residentBytes: pages * Int(sysconf(Int32(_SC_PAGESIZE))),
                            cpuSeconds: (utime + stime) / max(ticks, 1), openFDs: fds, maxFDs: Int(limit.rlim_cur))
        #else
        return nil
        #endif
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let c = components
        return c.seconds * 1_000_000_000 + c.attoseconds / 1_000_000_000
    }
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
