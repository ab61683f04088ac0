import Foundation
import NIOCore
import Synchronization
import Testing
import TestSupport
@testable import ObjectStore

@Suite("Retries through a fault-injecting proxy", .enabled(if: S3Test.available))
struct FaultProxyTests {
    /// A store whose requests go through `proxy` to the bucket `bucket` (created directly).
    func proxiedStore(_ proxy: FaultProxy, like direct: S3ObjectStore?, retry: RetryPolicy,
                      events: EventLog<RetryEvent>? = nil) throws -> S3ObjectStore {
        var config = try S3Test.configuration(bucket: direct?.configuration.bucket ?? "any",
                                              endpoint: proxy.endpoint, retry: retry)
        config.prefix = direct?.configuration.prefix ?? ""
        // Short enough that a stalled response counts as a timeout.
        config.readTimeout = .milliseconds(700)
        config.onRetry = { event in events?.append(event) }
        return try S3ObjectStore(configuration: config)
    }

    @Test func transientFaultsAreRetried() async throws {
        try await S3Test.withBucket("retry") { direct in
            let upstream = try #require(TestEnvironment.s3Endpoint)
            let proxy = try FaultProxy(upstream: upstream, script: [.serviceUnavailable, .drop, .stall(milliseconds: 2000)])
            defer { proxy.stop() }
            let events = EventLog<RetryEvent>()
            let store = try proxiedStore(proxy, like: direct,
                                         retry: RetryPolicy(maxAttempts: 6, baseDelay: .milliseconds(10), maxDelay: .milliseconds(100)),
                                         events: events)
            let data = randomBytes(200_000, seed: 9)
            try await store.put(key: "dt=2026-01-01/retried.bin", bytes: data)
            try await store.shutdown()

            // One retry per injected fault; on a loaded machine a healthy request can also pass the
            // 700 ms read timeout and be retried once more, so the bound is "at least the three".
            #expect((3...5).contains(store.retryCount))
            let recorded = events.all
            #expect(recorded.count == store.retryCount)
            #expect(recorded.first?.status == 503)
            #expect(recorded.first?.reason == "SlowDown")
            #expect(recorded.allSatisfy { $0.operation == "PutObject" })
            #expect(try await direct.get(key: "dt=2026-01-01/retried.bin").bytes == data)
        }
    }

    @Test func multipartWriterSurvivesFaults() async throws {
        try await S3Test.withBucket("retrympu") { direct in
            let upstream = try #require(TestEnvironment.s3Endpoint)
            let proxy = try FaultProxy(upstream: upstream,
                                       script: [.pass, .serviceUnavailable, .drop, .pass, .serviceUnavailable, .drop])
            defer { proxy.stop() }
            let store = try proxiedStore(proxy, like: direct,
                                         retry: RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(10), maxDelay: .milliseconds(100)))
            let data = randomBytes((10 << 20) + 77, seed: 11)
            let writer = store.makeWriter(key: "faulty/multi.bin", options: ObjectWriterOptions(partSize: 5 << 20, maxConcurrentParts: 3))
            try await writer.write(data)
            _ = try await writer.finish()
            try await store.shutdown()
            #expect(store.retryCount >= 1)
            #expect(try await direct.get(key: "faulty/multi.bin").bytes == data)
            #expect(try await direct.listMultipartUploads().isEmpty)
        }
    }

    /// A PUT whose body never arrives (the worker SIGKILLed after the request head) leaves no
    /// object: SeaweedFS creates an empty one unless the body's checksum is in the request
    /// (`x-amz-checksum-sha256`), and an empty `.parquet` breaks every reader of the lake.
    @Test func aPutCutAfterItsHeadLeavesNoObject() async throws {
        try await S3Test.withBucket("cuthead") { direct in
            let upstream = try #require(TestEnvironment.s3Endpoint)
            let proxy = try FaultProxy(upstream: upstream, script: [.cutAfterHead, .cutAfterHead])
            defer { proxy.stop() }
            let store = try proxiedStore(proxy, like: direct,
                                         retry: RetryPolicy(maxAttempts: 1, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50)))
            await #expect(throws: ObjectStoreError.self) {
                try await store.put(key: "cut/plain.bin", bytes: randomBytes(5000, seed: 3))
            }
            await #expect(throws: ObjectStoreError.self) {
                try await store.putIfAbsent(key: "cut/once.bin", body: ByteBuffer(bytes: randomBytes(5000, seed: 4)))
            }
            try await store.shutdown()
            #expect(proxy.connectionCount == 2)
            // SeaweedFS may finish the aborted request after the client is gone.
            try await Task.sleep(for: .milliseconds(500))
            #expect(try await direct.head(key: "cut/plain.bin") == nil)
            #expect(try await direct.head(key: "cut/once.bin") == nil)
            #expect(try await direct.listAll(prefix: "cut/").isEmpty)
        }
    }

    @Test func exhaustedRetriesFailCleanly() async throws {
        try await S3Test.withBucket("exhaust") { direct in
            let upstream = try #require(TestEnvironment.s3Endpoint)
            let proxy = try FaultProxy(upstream: upstream, script: [], fallback: .serviceUnavailable)
            defer { proxy.stop() }
            let store = try proxiedStore(proxy, like: direct,
                                         retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50)))
            await #expect { try await store.put(key: "never.bin", bytes: [1, 2, 3]) } throws: { error in
                guard let e = error as? ObjectStoreError else { return false }
                return e.code == .retriesExhausted && e.attempts == 3 && e.status == 503 && e.s3Code == "SlowDown"
                    && e.operation == "PutObject" && e.key == direct.configuration.prefix + "never.bin"
                    && e.description.contains("gave up after 3 attempts")
            }
            #expect(store.retryCount == 2)
            try await store.shutdown()
            #expect(try await direct.head(key: "never.bin") == nil)
        }
    }

    @Test func unreachableEndpointFailsWithTheEndpointInTheMessage() async throws {
        let proxy = try FaultProxy(upstream: "http://127.0.0.1:9", script: [], fallback: .drop)
        defer { proxy.stop() }
        let store = try proxiedStore(proxy, like: nil, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5)))
        await #expect { try await store.head(key: "k") } throws: { error in
            guard let e = error as? ObjectStoreError else { return false }
            return e.code == .retriesExhausted && e.attempts == 2 && e.message.contains(proxy.endpoint)
        }
        try await store.shutdown()
    }

    @Test func retryBudgetStopsRetryStorms() async throws {
        let proxy = try FaultProxy(upstream: "http://127.0.0.1:9", script: [], fallback: .serviceUnavailable)
        defer { proxy.stop() }
        let store = try proxiedStore(proxy, like: nil,
                                     retry: RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(1), budgetCapacity: 10, retryCost: 5))
        await #expect { try await store.head(key: "k") } throws: { error in
            guard let e = error as? ObjectStoreError else { return false }
            return e.code == .retriesExhausted && e.attempts == 3 && e.message.contains("retry budget exhausted")
        }
        try await store.shutdown()
    }

    @Test func completeWithErrorBodyIsRetriedOrReported() async throws {
        try await S3Test.withBucket("complete200") { direct in
            let upstream = try #require(TestEnvironment.s3Endpoint)
            let data = randomBytes(6 << 20, seed: 13)
            for (code, expectSuccess) in [("InternalError", true), ("InvalidPart", false)] {
                let key = "complete-\(code).bin"
                let upload = try await direct.createMultipartUpload(key: key)
                let part = try await direct.uploadPart(upload, partNumber: 1, body: ByteBuffer(bytes: data))
                let proxy = try FaultProxy(upstream: upstream, script: [.okWithError(code: code)])
                defer { proxy.stop() }
                let store = try proxiedStore(proxy, like: direct,
                                             retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(5)))
                if expectSuccess {
                    // InternalError in a 200 is transient: the retry completes the upload.
                    try await store.completeMultipartUpload(upload, parts: [part])
                    #expect(store.retryCount == 1)
                    #expect(try await direct.get(key: key).bytes == data)
                } else {
                    await #expect { try await store.completeMultipartUpload(upload, parts: [part]) } throws: { error in
                        guard let e = error as? ObjectStoreError else { return false }
                        return e.operation == "CompleteMultipartUpload" && e.status == 200 && e.s3Code == "InvalidPart"
                            && e.code == .invalidResponse
                    }
                    #expect(try await direct.head(key: key) == nil)
                    try await direct.abortMultipartUpload(upload)
                }
                try await store.shutdown()
            }
        }
    }
}
