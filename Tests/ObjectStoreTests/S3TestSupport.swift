import Foundation
import NIOCore
import Testing
import TestSupport
@testable import ObjectStore

/// SeaweedFS from scripts/test; under CI a missing endpoint fails instead of skipping.
enum S3Test {
    static var available: Bool { TestEnvironment.s3Endpoint != nil || TestEnvironment.isCI }

    static func credentials(secret: String? = nil) throws -> S3Credentials {
        let key = try #require(TestEnvironment.s3AccessKey, "LAKEWRITER_TEST_S3_ACCESS_KEY not set: run scripts/test")
        let realSecret = try #require(TestEnvironment.s3SecretKey, "LAKEWRITER_TEST_S3_SECRET_KEY not set")
        return S3Credentials(accessKeyID: key, secretAccessKey: secret ?? realSecret)
    }

    static func configuration(bucket: String, prefix: String = "", endpoint: String? = nil, secret: String? = nil,
                              retry: RetryPolicy = RetryPolicy(baseDelay: .milliseconds(10), maxDelay: .milliseconds(200)))
        throws -> S3Configuration {
        let url = try #require(TestEnvironment.s3Endpoint, "LAKEWRITER_TEST_S3_ENDPOINT not set: run scripts/test")
        return S3Configuration(bucket: bucket, prefix: prefix, endpoint: endpoint ?? url, region: TestEnvironment.s3Region,
                               credentials: try credentials(secret: secret), retry: retry)
    }

    static func uniqueBucket(_ label: String) -> String {
        "lw-\(label)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// One bucket per test process: SeaweedFS gives every bucket its own volumes and
    /// scripts/test allows only a few, so tests share a bucket and isolate by prefix.
    /// A fixed name, so repeated runs against one SeaweedFS reuse it instead of using up volumes.
    static let sharedBucket = "lakewriter-objectstore-tests"
    private static let bucketReady = BucketOnce()

    static func ensureSharedBucket() async throws {
        try await bucketReady.run {
            let store = try S3ObjectStore(configuration: configuration(bucket: sharedBucket))
            do {
                try await store.createBucket()
            } catch let error as ObjectStoreError where error.status == 409 {
                // Created by an earlier run against the same server: fine if it answers.
                _ = try? await store.list(prefix: "", continuationToken: nil, maxKeys: 1)
            } catch {
                try? await store.shutdown()
                throw error
            }
            try await store.shutdown()
        }
    }

    /// Runs `body` with a store rooted at a fresh prefix of the shared bucket, then deletes
    /// everything under that prefix (objects and pending uploads).
    static func withBucket<T>(_ label: String, prefix: String = "",
                              _ body: (S3ObjectStore) async throws -> T) async throws -> T {
        try await ensureSharedBucket()
        let root = "\(label)-\(UUID().uuidString.prefix(8).lowercased())/" + prefix
        let store = try S3ObjectStore(configuration: configuration(bucket: sharedBucket, prefix: root))
        do {
            let result = try await body(store)
            try await cleanUp(store)
            try await store.shutdown()
            return result
        } catch {
            try? await cleanUp(store)
            try? await store.shutdown()
            throw error
        }
    }

    static func cleanUp(_ store: S3ObjectStore) async throws {
        for upload in try await store.listMultipartUploads() { try await store.abortMultipartUpload(upload) }
        for object in try await store.listAll() { try await store.delete(key: object.key) }
    }
}

/// Runs a setup step once per process; concurrent callers wait for the first.
actor BucketOnce {
    private var task: Task<Void, any Error>?
    func run(_ body: @escaping @Sendable () async throws -> Void) async throws {
        if task == nil { task = Task { try await body() } }
        try await task!.value
    }
}

func randomBytes(_ count: Int, seed: UInt64 = 42) -> [UInt8] {
    var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    var out = [UInt8](repeating: 0, count: count)
    out.withUnsafeMutableBytes { raw in
        let words = raw.count / 8
        let p = raw.baseAddress!
        for i in 0..<words {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            p.storeBytes(of: state, toByteOffset: i * 8, as: UInt64.self)
        }
        for i in (words * 8)..<raw.count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            raw[i] = UInt8(truncatingIfNeeded: state)
        }
    }
    return out
}

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}
