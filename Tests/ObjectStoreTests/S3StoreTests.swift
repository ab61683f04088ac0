import Foundation
import NIOCore
import Synchronization
import Testing
import TestSupport
@testable import ObjectStore

@Suite("S3 store against SeaweedFS", .enabled(if: S3Test.available))
struct S3StoreTests {
    static let awkwardKeys = [
        "year=2026/month=01/day=02/part 0+1.parquet",
        "unicodé/ключ/日本語 ファイル.txt",
        "plus+and$dollar&amp;~tilde's (1).bin",
        "a/b/c=d=e/f",
    ]

    @Test func putGetListDeleteWithAwkwardKeys() async throws {
        try await S3Test.withBucket("keys", prefix: "lake/root") { store in
            for (i, key) in Self.awkwardKeys.enumerated() {
                let body = randomBytes(1000 + i, seed: UInt64(i))
                let info = try await store.put(key: key, bytes: body)
                #expect(info.size == Int64(body.count))
                #expect(try await store.get(key: key).bytes == body, "\(key)")
                let head = try #require(try await store.head(key: key))
                #expect(head.size == Int64(body.count))
            }
            let listed = try await store.listAll().map(\.key)
            #expect(listed == Self.awkwardKeys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
            // The prefix is applied on the server side and stripped from results.
            #expect(try await store.listAll(prefix: "year=2026/").map(\.key) == [Self.awkwardKeys[0]])
            for key in Self.awkwardKeys { try await store.delete(key: key) }
            #expect(try await store.listAll().isEmpty)
            #expect(try await store.head(key: Self.awkwardKeys[0]) == nil)
            await #expect { try await store.get(key: Self.awkwardKeys[0]) } throws: {
                ($0 as? ObjectStoreError)?.code == .notFound
            }
            // Deleting what is not there is fine.
            try await store.delete(key: Self.awkwardKeys[0])
        }
    }

    @Test func listingIsPaginated() async throws {
        try await S3Test.withBucket("pages") { store in
            for i in 0..<7 { try await store.put(key: "p/k\(i)", bytes: [UInt8(i)]) }
            var token: String? = nil
            var pages = 0
            var keys: [String] = []
            repeat {
                let page = try await store.list(prefix: "p/", continuationToken: token, maxKeys: 3)
                #expect(page.objects.count <= 3)
                keys += page.objects.map(\.key)
                token = page.nextContinuationToken
                pages += 1
            } while token != nil
            #expect(pages == 3)
            #expect(keys == (0..<7).map { "p/k\($0)" })
        }
    }

    @Test func threePartMultipartUpload() async throws {
        try await S3Test.withBucket("mpu") { store in
            let key = "year=2026/multi part.bin"
            let data = randomBytes(11 << 20, seed: 7)
            let upload = try await store.createMultipartUpload(key: key)
            var parts: [CompletedPart] = []
            for (n, range) in [(1, 0..<(5 << 20)), (2, (5 << 20)..<(10 << 20)), (3, (10 << 20)..<data.count)] {
                parts.append(try await store.uploadPart(upload, partNumber: n, body: ByteBuffer(bytes: data[range])))
            }
            let info = try await store.completeMultipartUpload(upload, parts: parts.reversed())
            #expect(info.size == Int64(data.count))
            #expect(try await store.get(key: key).bytes == data)
            #expect(try await store.listMultipartUploads().isEmpty)
        }
    }

    @Test func abortLeavesNoUpload() async throws {
        try await S3Test.withBucket("abort") { store in
            let key = "dt=2026-01-01/aborted.bin"
            let upload = try await store.createMultipartUpload(key: key)
            _ = try await store.uploadPart(upload, partNumber: 1, body: ByteBuffer(bytes: randomBytes(5 << 20)))
            #expect(try await store.listMultipartUploads().map(\.uploadID) == [upload.uploadID])
            try await store.abortMultipartUpload(upload)
            #expect(try await store.listMultipartUploads().isEmpty)
            #expect(try await store.head(key: key) == nil)
            // A second abort of the same upload is harmless.
            try await store.abortMultipartUpload(upload)
        }
    }

    @Test func conditionalCreateTwiceFails() async throws {
        try await S3Test.withBucket("cond") { store in
            let key = "_commits/00000001.json"
            try await store.putIfAbsent(key: key, body: ByteBuffer(string: "first"))
            await #expect { try await store.putIfAbsent(key: key, body: ByteBuffer(string: "second")) } throws: { error in
                guard let e = error as? ObjectStoreError else { return false }
                return e.code == .alreadyExists && e.status == 412 && e.key?.hasSuffix("/" + key) == true
            }
            #expect(try await store.get(key: key).bytes == Array("first".utf8))
        }
    }

    @Test func wrongSecretIsRejected() async throws {
        try await S3Test.ensureSharedBucket()
        let bucket = S3Test.sharedBucket
        let prefix = "auth-\(UUID().uuidString.prefix(8))"
        let good = try S3ObjectStore(configuration: S3Test.configuration(bucket: bucket, prefix: prefix))
        let bad = try S3ObjectStore(configuration: S3Test.configuration(bucket: bucket, prefix: prefix, secret: "not-the-secret"))
        await #expect { try await bad.put(key: "x", bytes: [1, 2, 3]) } throws: { error in
            guard let e = error as? ObjectStoreError else { return false }
            return e.code == .accessDenied && e.status == 403 && e.attempts == 1
                && e.description.contains("check the access key/secret and the region")
        }
        #expect(try await good.head(key: "x") == nil)
        try await good.shutdown()
        try await bad.shutdown()
    }

    @Test func missingBucketSaysSo() async throws {
        let store = try S3ObjectStore(configuration: S3Test.configuration(bucket: S3Test.uniqueBucket("missing")))
        await #expect { try await store.list(prefix: "", continuationToken: nil, maxKeys: 10) } throws: { error in
            guard let e = error as? ObjectStoreError else { return false }
            return e.code == .noSuchBucket && e.description.contains("bucket does not exist: create it")
        }
        try await store.shutdown()
    }

    @Test func presignedURLIsAccepted() async throws {
        try await S3Test.withBucket("presign") { store in
            try await store.put(key: "a b/c=d.txt", bytes: Array("presigned".utf8))
            let url = try #require(URL(string: try await store.presignedGetURL(key: "a b/c=d.txt", expires: 300)))
            let python = try #require(TestEnvironment.python)
            let out = try await ProcessRunner.run(python, ["-c", "import sys,urllib.request;sys.stdout.write(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                     url.absoluteString])
            #expect(out.stdoutString == "presigned")
        }
    }

    // MARK: Streaming writer

    @Test func smallWriterIsOnePut() async throws {
        try await S3Test.withBucket("wsmall") { store in
            let data = randomBytes(300_000, seed: 3)
            let writer = MultipartObjectWriter(store: store, key: "small.parquet", options: ObjectWriterOptions(partSize: 5 << 20))
            for chunk in stride(from: 0, to: data.count, by: 65_537) {
                try await writer.write(Array(data[chunk..<min(chunk + 65_537, data.count)]))
            }
            let info = try await writer.finish()
            #expect(await writer.partsStarted == 0)
            #expect(info.size == Int64(data.count))
            #expect(try await store.get(key: "small.parquet").bytes == data)
        }
    }

    @Test func largeWriterIsMultipart() async throws {
        try await S3Test.withBucket("wlarge") { store in
            let data = randomBytes((17 << 20) + 123, seed: 4)
            let writer = MultipartObjectWriter(store: store, key: "large.parquet",
                                               options: ObjectWriterOptions(partSize: 5 << 20, maxConcurrentParts: 2))
            var offset = 0
            var size = 1
            while offset < data.count {
                // Irregular chunks, some larger than a part (the zero-copy slice path).
                let n = min(size, data.count - offset)
                if size % 2 == 0 {
                    try await writer.write(ByteBuffer(bytes: data[offset..<(offset + n)]))
                } else {
                    try await writer.write(Array(data[offset..<(offset + n)]))
                }
                offset += n
                size = size * 7 % 13_000_001 + 1
            }
            let info = try await writer.finish()
            #expect(await writer.partsStarted == 4)
            #expect(info.size == Int64(data.count))
            #expect(try await store.get(key: "large.parquet").bytes == data)
            #expect(try await store.listMultipartUploads().isEmpty)
        }
    }

    @Test func exactlyOnePartStaysAPut() async throws {
        try await S3Test.withBucket("wexact") { store in
            let data = randomBytes(5 << 20, seed: 5)
            let writer = MultipartObjectWriter(store: store, key: "exact", options: ObjectWriterOptions(partSize: 5 << 20))
            try await writer.write(data)
            _ = try await writer.finish()
            #expect(await writer.partsStarted == 0)
            #expect(try await store.get(key: "exact").bytes == data)
        }
    }

    @Test func cancelledWriterAborts() async throws {
        try await S3Test.withBucket("wcancel") { store in
            let writer = MultipartObjectWriter(store: store, key: "cancelled.parquet", options: ObjectWriterOptions(partSize: 5 << 20))
            let firstWriteDone = Counter()
            let task = Task {
                try await writer.write(randomBytes(11 << 20))  // two parts started, an upload exists
                firstWriteDone.value.store(1, ordering: .releasing)
                while !Task.isCancelled { await Task.yield() }
                try await writer.write([1, 2, 3])
                return try await writer.finish()
            }
            let deadline = ContinuousClock.now + .seconds(60)
            while firstWriteDone.value.load(ordering: .acquiring) == 0 {
                try #require(ContinuousClock.now < deadline, "first write never completed")
                try await Task.sleep(for: .milliseconds(5))
            }
            #expect(await writer.partsStarted == 2)
            task.cancel()
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            #expect(try await store.listMultipartUploads().isEmpty)
            #expect(try await store.head(key: "cancelled.parquet") == nil)
            await #expect { try await writer.write([1]) } throws: { ($0 as? ObjectStoreError)?.code == .writerClosed }
        }
    }

    @Test func failedPartAbortsTheUpload() async throws {
        try await S3Test.withBucket("wfail") { (store: S3ObjectStore) async throws in
            let failing = FailingPartStore(base: store, failingPart: 2)
            let writer = failing.makeWriter(key: "failed.parquet", options: ObjectWriterOptions(partSize: 5 << 20))
            await #expect { 
                try await writer.write(randomBytes(16 << 20))
                _ = try await writer.finish()
            } throws: { ($0 as? ObjectStoreError)?.operation == "UploadPart" }
            #expect(try await store.listMultipartUploads().isEmpty)
            #expect(try await store.head(key: "failed.parquet") == nil)
        }
    }

    @Test func factoryOpensS3AndFileURLs() async throws {
        let endpoint = try #require(TestEnvironment.s3Endpoint)
        let store = try makeObjectStore(url: "s3://some-bucket/a/prefix/",
                                        options: ObjectStoreOptions(endpoint: endpoint, credentials: S3Test.credentials()))
        #expect(store.location == "s3://some-bucket/a/prefix/")
        try await store.shutdown()
        // No source of credentials at all (instance metadata, the chain's last resort, disabled).
        let dir = try TestEnvironment.temporaryDirectory("factory")
        #expect(throws: ObjectStoreError.self) {
            try makeObjectStore(url: "s3://bucket", options: ObjectStoreOptions(),
                                environment: ["HOME": dir.path, "AWS_EC2_METADATA_DISABLED": "true"])
        }
        let local = try makeObjectStore(url: "file://" + dir.path)
        #expect(local is LocalFileStore)
    }
}

/// Delegates to a real store but fails one part, to show the writer aborts.
final class FailingPartStore: ObjectStore {
    let base: S3ObjectStore
    let failingPart: Int
    init(base: S3ObjectStore, failingPart: Int) {
        self.base = base
        self.failingPart = failingPart
    }
    var location: String { base.location }
    func put(key: String, body: ByteBuffer) async throws -> ObjectInfo { try await base.put(key: key, body: body) }
    func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo { try await base.putIfAbsent(key: key, body: body) }
    func head(key: String) async throws -> ObjectInfo? { try await base.head(key: key) }
    func get(key: String) async throws -> ByteBuffer { try await base.get(key: key) }
    func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage {
        try await base.list(prefix: prefix, continuationToken: continuationToken, maxKeys: maxKeys)
    }
    func delete(key: String) async throws { try await base.delete(key: key) }
    func createMultipartUpload(key: String) async throws -> MultipartUpload { try await base.createMultipartUpload(key: key) }
    func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart {
        if partNumber == failingPart {
            throw ObjectStoreError(code: .retriesExhausted, operation: "UploadPart", key: upload.key, message: "injected")
        }
        return try await base.uploadPart(upload, partNumber: partNumber, body: body)
    }
    func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo {
        try await base.completeMultipartUpload(upload, parts: parts)
    }
    func abortMultipartUpload(_ upload: MultipartUpload) async throws { try await base.abortMultipartUpload(upload) }
    func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter {
        MultipartObjectWriter(store: self, key: key, options: options)
    }
    func shutdown() async throws {}
}
