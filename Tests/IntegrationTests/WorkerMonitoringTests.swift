import LakeModel
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Testing
import TestSupport

/// The metrics a team alerts on, read from the worker's own exposition while the store is
/// paused and then back, and while Redis is gone: counters exist at 0 from the start,
/// freshness gauges grow while nothing can be written and fall back once it can, the lag
/// gauges never read 0 because Redis is unreachable.
@Suite(.serialized) struct WorkerMonitoringTests {
    /// The value of the series `series` (name plus labels, exactly as exposed), nil when absent.
    static func value(_ text: String, _ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    static func metrics(_ worker: LakewriterWorker) -> String { String(decoding: worker.metrics.render(), as: UTF8.self) }

    @Test func freshnessCountersAndRedisUpUnderAPausedStoreAndAStoppedRedis() async throws {
        let env = try WorkerTests.env()
        let redis = try RedisServerProcess(["--appendonly", "yes", "--appendfsync", "always"])
        var wenv = env
        wenv.redisURL = redis.url
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        _ = try await WorkerTests.makeStore(env, bucket: bucket)
        let proxy = try TCPProxy(targetPort: Int(env.s3Endpoint.split(separator: ":").last!)!)
        defer { proxy.stop() }
        let config = try WorkerTests.config(wenv, id: id, bucket: bucket, endpoint: "http://127.0.0.1:\(proxy.port)")
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: redis.url), maxAttempts: 1,
                                       logger: Logger(label: "test"))
        defer { client.close() }
        let started = Date().timeIntervalSince1970
        let stream = "clicks-\(id)"

        try await WorkerTests.withWorker(config) { worker in
            // Every counter the config determines exists at 0 before the first event.
            let first = Self.metrics(worker)
            for series in [
                #"lakewriter_dead_letters_total{stream="\#(stream)",entity="clicks",reason="decode"}"#,
                #"lakewriter_dead_letters_total{stream="shop-\#(id)",entity="orders",reason="schema"}"#,
                #"lakewriter_dead_letters_total{stream="shop-\#(id)",entity="",reason="unroutable"}"#,
                #"lakewriter_flush_failures_total{entity="payments"}"#,
                #"lakewriter_files_written_total{entity="clicks",reason="idle"}"#,
                #"lakewriter_rows_written_total{entity="orders"}"#,
                #"lakewriter_events_consumed_total{stream="\#(stream)"}"#,
                "lakewriter_redis_reconnects_total",
            ] {
                #expect(Self.value(first, series) == 0, "\(series) at 0 from the start")
            }
            // The process's own resources.
            #expect((Self.value(first, "process_resident_memory_bytes") ?? 0) > 1_000_000)
            #expect((Self.value(first, "process_open_fds") ?? 0) >= 3)
            #expect((Self.value(first, "process_max_fds") ?? 0) >= (Self.value(first, "process_open_fds") ?? 0))
            #expect((Self.value(first, "process_cpu_seconds_total") ?? 0) > 0)
            let lastFileAtStart = try #require(Self.value(first, #"lakewriter_last_file_timestamp_seconds{entity="clicks"}"#))
            #expect(lastFileAtStart >= started - 1 && lastFileAtStart <= Date().timeIntervalSince1970)

            // The store goes away: rows wait in memory, unacknowledged, and their age shows.
            proxy.setDown(true)
            let addedAt = Date().timeIntervalSince1970
            for i in 0..<50 {
                try await client.add(stream: stream, fields: [StreamField("ts", "\(1_795_280_400_000 + i)"),
                                                            StreamField("user_id", "\(i)")])
            }
            try await WorkerTests.waitUntil(timeout: .seconds(40), "freshness gauges above 3 s while the store is down") {
                let m = Self.metrics(worker)
                return (Self.value(m, #"lakewriter_oldest_buffered_seconds{entity="clicks"}"#) ?? 0) >= 3
                    && (Self.value(m, #"lakewriter_consumer_lag_seconds{stream="\#(stream)"}"#) ?? 0) >= 3
            }
            var m = Self.metrics(worker)
            #expect(Self.value(m, "lakewriter_redis_up") == 1)
            #expect(Self.value(m, #"lakewriter_oldest_buffered_seconds{entity="orders"}"#) == 0)
            #expect(Self.value(m, #"lakewriter_last_file_timestamp_seconds{entity="clicks"}"#) == lastFileAtStart)
            #expect((Self.value(m, #"lakewriter_store_requests_total{operation="PutObject",status="error"}"#) ?? 0) >= 1)
            #expect((Self.value(m, #"lakewriter_flush_failures_total{entity="clicks"}"#) ?? 0) >= 1)
            let lagWhileDown = try #require(Self.value(m, #"lakewriter_consumer_lag_seconds{stream="\#(stream)"}"#))
            // At most the age of the oldest entry (its id carries the server's time of XADD).
            #expect(lagWhileDown <= Date().timeIntervalSince1970 - addedAt + 1)

            // The store comes back: the file is written and acknowledged, freshness recovers.
            let backAt = Date().timeIntervalSince1970
            proxy.setDown(false)
            try await WorkerTests.waitUntil(timeout: .seconds(60), "the file written and freshness back to 0") {
                let m = Self.metrics(worker)
                return Self.value(m, #"lakewriter_oldest_buffered_seconds{entity="clicks"}"#) == 0
                    && Self.value(m, #"lakewriter_consumer_lag_seconds{stream="\#(stream)"}"#) == 0
            }
            m = Self.metrics(worker)
            #expect((Self.value(m, #"lakewriter_last_file_timestamp_seconds{entity="clicks"}"#) ?? 0) >= backAt - 1)
            // One file, or a few when a loaded machine added the entries slower than `idle`: each
            // histogram counts every file once, and the rows add up.
            let files = try #require(Self.value(m, #"lakewriter_files_written_total{entity="clicks",reason="idle"}"#))
            #expect(files >= 1)
            #expect(Self.value(m, #"lakewriter_file_rows_count{entity="clicks"}"#) == files)
            #expect(Self.value(m, #"lakewriter_file_rows_sum{entity="clicks"}"#) == 50)
            #expect(Self.value(m, #"lakewriter_file_bytes_count{entity="clicks"}"#) == files)
            #expect((Self.value(m, #"lakewriter_file_bytes_sum{entity="clicks"}"#) ?? 0) > 500 * files)
            #expect(Self.value(m, #"lakewriter_upload_duration_seconds_count{entity="clicks"}"#) == files)
            #expect(Self.value(m, #"lakewriter_encode_duration_seconds_count{entity="clicks"}"#) == files)
            #expect((Self.value(m, #"lakewriter_store_requests_total{operation="PutObject",status="200"}"#) ?? 0) >= 1)
            #expect(Self.value(m, #"lakewriter_rows_written_total{entity="clicks"}"#) == 50)

            // Redis stops with entries pending (the store is down again): `lakewriter_redis_up`
            // says so and the lag gauges keep their last reading instead of dropping to 0.
            proxy.setDown(true)
            for i in 0..<5 {
                try await client.add(stream: stream, fields: [StreamField("ts", "\(1_795_280_500_000 + i)"),
                                                            StreamField("user_id", "\(i)")])
            }
            try await WorkerTests.waitUntil(timeout: .seconds(40), "lag seconds above 1 with the store down") {
                (Self.value(Self.metrics(worker), #"lakewriter_consumer_lag_seconds{stream="\#(stream)"}"#) ?? 0) >= 1
            }
            redis.kill()
            try await WorkerTests.waitUntil(timeout: .seconds(40), "lakewriter_redis_up 0") {
                Self.value(Self.metrics(worker), "lakewriter_redis_up") == 0
            }
            m = Self.metrics(worker)
            #expect((Self.value(m, #"lakewriter_consumer_lag_seconds{stream="\#(stream)"}"#) ?? 0) >= 1)
            #expect((Self.value(m, #"lakewriter_pending_entries{stream="\#(stream)"}"#) ?? 0) >= 1)
            // Redis back, the store back: the reader's reconnects are counted, everything lands.
            try redis.start()
            proxy.setDown(false)
            try await WorkerTests.waitUntil(timeout: .seconds(60), "reconnects counted and the last rows written") {
                let m = Self.metrics(worker)
                return (Self.value(m, "lakewriter_redis_reconnects_total") ?? 0) >= 1
                    && Self.value(m, "lakewriter_redis_up") == 1
                    && Self.value(m, #"lakewriter_rows_written_total{entity="clicks"}"#) == 55
            }
        }
    }
}

/// `/healthz` fails when the worker is hung: a store that accepts connections and never answers
/// keeps a flush attempt from ending past `http.liveness_timeout`; once it answers, the worker is
/// alive again (and the file lands). An idle worker with nothing to do stays alive.
@Suite(.serialized) struct WorkerLivenessTests {
    @Test func aFlushStuckPastTheLivenessTimeoutFailsHealthzUntilItMoves() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique(), bucket = "lakewriter-worker-tests/\(id)"
        _ = try await WorkerTests.makeStore(env, bucket: bucket)
        let proxy = try TCPProxy(targetPort: Int(env.s3Endpoint.split(separator: ":").last!)!)
        defer { proxy.stop() }
        var config = try WorkerTests.config(env, id: id, bucket: bucket, endpoint: "http://127.0.0.1:\(proxy.port)")
        config.http.livenessTimeout = .seconds(10)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        try await WorkerTests.withWorker(config) { worker in
            // Idle with nothing to do, past the timeout: alive.
            try await Task.sleep(for: .seconds(12))
            #expect(worker.liveness() == nil)
            proxy.setStalled(true)
            for i in 0..<20 {
                try await client.add(stream: "clicks-\(id)", fields: [StreamField("ts", "\(1_795_280_400_000 + i)"),
                                                                    StreamField("user_id", "\(i)")])
            }
            try await WorkerTests.waitUntil(timeout: .seconds(40), "liveness failing on the stuck flush") {
                worker.liveness() != nil
            }
            let why = try #require(worker.liveness())
            #expect(why.contains("no flush attempt ended"), "\(why)")
            proxy.setStalled(false)
            try await WorkerTests.waitUntil(timeout: .seconds(90), "alive again and everything acknowledged") {
                let acknowledged = try await WorkerTests.allAcknowledged(client, streams: ["clicks-\(id)"], group: "g-\(id)")
                return acknowledged && worker.liveness() == nil
            }
        }
    }
}
