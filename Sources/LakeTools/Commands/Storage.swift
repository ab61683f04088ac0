import Foundation
import LakeModel
import LakeDecoding
import LakeOutput
import NIOCore
import ObjectStore

/// Object-store access for the commands (s3:// outputs and inputs), with the config's storage settings.
enum Storage {
    static func open(bucket: String, storage: StorageConfig) throws -> any ObjectStore {
        try storage.openStore(url: "s3://\(bucket)")
    }

    /// Streams a local file to `key` (one PUT when small, a multipart upload when large).
    static func upload(file: String, bucket: String, key: String, storage: StorageConfig) async throws {
        let store = try open(bucket: bucket, storage: storage)
        do {
            let writer = store.makeWriter(key: key, options: storage.writerOptions)
            do {
                guard let handle = FileHandle(forReadingAtPath: file) else { throw CocoaError(.fileReadNoSuchFile) }
                defer { try? handle.close() }
                while let chunk = try handle.read(upToCount: 8 << 20), !chunk.isEmpty {
                    var buffer = ByteBuffer()
                    buffer.writeBytes(chunk)
                    try await writer.write(buffer)
                }
                _ = try await writer.finish()
            } catch {
                await writer.abort()
                throw error
            }
        } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }

    static func download(bucket: String, key: String, to file: String, storage: StorageConfig) async throws {
        let store = try open(bucket: bucket, storage: storage)
        do {
            let buffer = try await store.get(key: key)
            let data = Data(buffer.readableBytesView)
            try data.write(to: URL(fileURLWithPath: file))
        } catch {
            try? await store.shutdown()
            throw error
        }
        try await store.shutdown()
    }
}
