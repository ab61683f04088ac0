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

    /// Runs `body` with a store on a fresh bucket, then empties and deletes the bucket.
    static func withBucket<T>(_ label: String, prefix: String = "",
                              _ body: (S3ObjectStore) async throws -> T) async throws -> T {
        let store = try S3ObjectStore(configuration: configuration(bucket: uniqueBucket(label), prefix: prefix))
        do {
            try await store.createBucket()
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
        let root = try S3ObjectStore(configuration: configuration(bucket: store.configuration.bucket))
        do {
            for upload in try await root.listMultipartUploads() { try await root.abortMultipartUpload(upload) }
            for object in try await root.listAll() { try await root.delete(key: object.key) }
            try await root.deleteBucket()
        } catch {
            try? await root.shutdown()
            throw error
        }
        try await root.shutdown()
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
