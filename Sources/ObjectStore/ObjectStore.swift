import Foundation
import NIOCore

/// Where lakewriter's files land: an S3-compatible bucket or a local directory.
///
/// Keys are relative to the store's prefix (`s3://bucket/prefix`, `file:///root`) and use
/// `/` as separator. Every operation either takes full effect or none: objects appear whole
/// (single PUT, completed multipart upload, or rename of a synced temp file), never partially.
public protocol ObjectStore: Sendable {
    /// A human-readable location such as `s3://bucket/prefix` (never includes secrets).
    var location: String { get }

    /// Stores `body` under `key`, replacing any existing object.
    @discardableResult
    func put(key: String, body: ByteBuffer) async throws -> ObjectInfo

    /// Stores `body` under `key` only if no object exists there (`If-None-Match: *`);
    /// throws `ObjectStoreError` with code `.alreadyExists` otherwise.
    @discardableResult
    func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo

    /// Metadata of the object, or nil when there is none.
    func head(key: String) async throws -> ObjectInfo?

    /// The whole object; throws `.notFound` when it does not exist.
    func get(key: String) async throws -> ByteBuffer

    /// One page of keys under `prefix`, in lexicographic order.
    func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage

    /// Deletes the object; deleting a missing key is not an error.
    func delete(key: String) async throws

    // Multipart upload: parts are numbered from 1; all but the last must be the same size
    // (R2) and at least 5 MiB (S3).
    func createMultipartUpload(key: String) async throws -> MultipartUpload
    func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart
    @discardableResult
    func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo
    func abortMultipartUpload(_ upload: MultipartUpload) async throws

    /// A streaming writer for one object (see `ObjectWriter`).
    func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter

    /// Releases connections and threads; the store is unusable afterwards.
    func shutdown() async throws
}

extension ObjectStore {
    /// A streaming writer with the default options.
    public func makeWriter(key: String) -> any ObjectWriter {
        makeWriter(key: key, options: ObjectWriterOptions())
    }

    /// Every key under `prefix`, following continuation tokens.
    public func listAll(prefix: String = "") async throws -> [ObjectInfo] {
        var result: [ObjectInfo] = []
        var token: String? = nil
        repeat {
            let page = try await list(prefix: prefix, continuationToken: token, maxKeys: 1000)
            result += page.objects
            token = page.nextContinuationToken
        } while token != nil
        return result
    }

    @discardableResult
    public func put(key: String, bytes: some Collection<UInt8>) async throws -> ObjectInfo {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        return try await put(key: key, body: buffer)
    }
}

/// What a store knows about one object.
public struct ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    /// The entity tag as the server returned it (quotes removed); nil when unknown.
    public var etag: String?
    public var lastModified: Date?

    public init(key: String, size: Int64, etag: String? = nil, lastModified: Date? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
    }
}

/// One page of a listing; `nextContinuationToken` is nil on the last page.
public struct ObjectListPage: Sendable {
    public var objects: [ObjectInfo]
    public var nextContinuationToken: String?

    public init(objects: [ObjectInfo], nextContinuationToken: String?) {
        self.objects = objects
        self.nextContinuationToken = nextContinuationToken
    }
}

/// An upload in progress: abort it or complete it, or storage keeps its parts.
public struct MultipartUpload: Sendable, Equatable {
    public var key: String
    public var uploadID: String

    public init(key: String, uploadID: String) {
        self.key = key
        self.uploadID = uploadID
    }
}

/// A part the server accepted, as CompleteMultipartUpload needs it.
public struct CompletedPart: Sendable, Equatable {
    public var partNumber: Int
    public var etag: String
    public var size: Int

    public init(partNumber: Int, etag: String, size: Int) {
        self.partNumber = partNumber
        self.etag = etag
        self.size = size
    }
}
