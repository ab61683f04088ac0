import Foundation
import NIOCore
import Testing
import TestSupport
@testable import ObjectStore

@Suite("Local file store")
struct LocalFileStoreTests {
    func makeStore() throws -> (LocalFileStore, URL) {
        let dir = try TestEnvironment.temporaryDirectory("localstore")
        return (try LocalFileStore(root: dir.path + "/lake/"), dir.appendingPathComponent("lake"))
    }

    func filesOnDisk(_ root: URL) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: root.path)
        var out: [String] = []
        while let next = enumerator?.nextObject() as? String {
            var isDir: ObjCBool = false
            FileManager.default.fileExists(atPath: root.appendingPathComponent(next).path, isDirectory: &isDir)
            if !isDir.boolValue { out.append(next) }
        }
        return out.sorted()
    }

    @Test func putGetListDelete() async throws {
        let (store, root) = try makeStore()
        let keys = ["year=2026/month=01/a b+c.parquet", "unicodé/日本.txt", "z"]
        for (i, key) in keys.enumerated() { try await store.put(key: key, bytes: randomBytes(100 * (i + 1), seed: UInt64(i))) }
        for (i, key) in keys.enumerated() {
            #expect(try await store.get(key: key).bytes == randomBytes(100 * (i + 1), seed: UInt64(i)))
            #expect(try await store.head(key: key)?.size == Int64(100 * (i + 1)))
        }
        #expect(try await store.listAll().map(\.key) == keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) })
        #expect(try await store.listAll(prefix: "year=2026/mo").map(\.key) == [keys[0]])
        let page = try await store.list(prefix: "", continuationToken: nil, maxKeys: 2)
        #expect(page.objects.count == 2)
        let rest = try await store.list(prefix: "", continuationToken: page.nextContinuationToken, maxKeys: 2)
        #expect(rest.objects.count == 1 && rest.nextContinuationToken == nil)
        #expect(filesOnDisk(root) == keys.sorted())
        for key in keys { try await store.delete(key: key) }
        #expect(try await store.listAll().isEmpty)
        #expect(try await store.head(key: keys[0]) == nil)
        await #expect { try await store.get(key: keys[0]) } throws: { ($0 as? ObjectStoreError)?.code == .notFound }
        try await store.delete(key: keys[0])
    }

    @Test func keysCannotEscapeTheRoot() async throws {
        let (store, _) = try makeStore()
        for key in ["../x", "a/../../x", "/etc/passwd", "a//b", "", "a/.lakewriter-tmp-x"] {
            await #expect(throws: ObjectStoreError.self, "\(key)") { try await store.put(key: key, bytes: [1]) }
        }
    }

    @Test func conditionalCreate() async throws {
        let (store, root) = try makeStore()
        try await store.putIfAbsent(key: "_commits/1.json", body: ByteBuffer(string: "one"))
        await #expect { try await store.putIfAbsent(key: "_commits/1.json", body: ByteBuffer(string: "two")) } throws: {
            ($0 as? ObjectStoreError)?.code == .alreadyExists
        }
        #expect(try await store.get(key: "_commits/1.json").bytes == Array("one".utf8))
        // Many racing creators: exactly one wins.
        let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<8 {
                group.addTask {
                    do {
                        try await store.putIfAbsent(key: "_commits/2.json", body: ByteBuffer(string: "w\(i)"))
                        return true
                    } catch let e as ObjectStoreError where e.code == .alreadyExists {
                        return false
                    }
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(winners == 1)
        #expect(filesOnDisk(root) == ["_commits/1.json", "_commits/2.json"])  // no temp files left
    }

    @Test func writerIsAtomic() async throws {
        let (store, root) = try makeStore()
        let data = randomBytes(3 << 20, seed: 21)
        let writer = store.makeWriter(key: "dt=2026/file.parquet")
        try await writer.write(Array(data[0..<(1 << 20)]))
        try await writer.write(ByteBuffer(bytes: data[(1 << 20)...]))
        // Written but not finished: nothing visible under the key, not even in listings.
        #expect(try await store.head(key: "dt=2026/file.parquet") == nil)
        #expect(try await store.listAll().isEmpty)
        let info = try await writer.finish()
        #expect(info.size == Int64(data.count))
        #expect(try await store.get(key: "dt=2026/file.parquet").bytes == data)
        #expect(filesOnDisk(root) == ["dt=2026/file.parquet"])

        let aborted = store.makeWriter(key: "dt=2026/aborted.parquet")
        try await aborted.write(data)
        await aborted.abort()
        #expect(try await store.head(key: "dt=2026/aborted.parquet") == nil)
        #expect(filesOnDisk(root) == ["dt=2026/file.parquet"])
    }

    @Test func replacingKeepsOldOrNewContent() async throws {
        let (store, _) = try makeStore()
        try await store.put(key: "k", bytes: [1, 1, 1])
        let writer = store.makeWriter(key: "k")
        try await writer.write([2, 2, 2, 2])
        #expect(try await store.get(key: "k").bytes == [1, 1, 1])
        _ = try await writer.finish()
        #expect(try await store.get(key: "k").bytes == [2, 2, 2, 2])
    }

    @Test func multipartUploadAndAbort() async throws {
        let (store, root) = try makeStore()
        let a = randomBytes(1000, seed: 1), b = randomBytes(500, seed: 2)
        let upload = try await store.createMultipartUpload(key: "m/obj")
        let p2 = try await store.uploadPart(upload, partNumber: 2, body: ByteBuffer(bytes: b))
        let p1 = try await store.uploadPart(upload, partNumber: 1, body: ByteBuffer(bytes: a))
        #expect(try await store.head(key: "m/obj") == nil)
        try await store.completeMultipartUpload(upload, parts: [p2, p1])
        #expect(try await store.get(key: "m/obj").bytes == a + b)

        let other = try await store.createMultipartUpload(key: "m/other")
        _ = try await store.uploadPart(other, partNumber: 1, body: ByteBuffer(bytes: a))
        #expect(try await store.pendingMultipartUploads() == [other.uploadID])
        try await store.abortMultipartUpload(other)
        #expect(try await store.pendingMultipartUploads().isEmpty)
        #expect(filesOnDisk(root).filter { !$0.hasPrefix(".lakewriter-uploads") } == ["m/obj"])

        // The generic multipart writer works on the local store too.
        let writer = MultipartObjectWriter(store: store, key: "m/big", options: ObjectWriterOptions(partSize: 5 << 20))
        let big = randomBytes((11 << 20) + 5, seed: 3)
        try await writer.write(big)
        _ = try await writer.finish()
        #expect(await writer.partsStarted == 3)
        #expect(try await store.get(key: "m/big").bytes == big)
    }
}
