import NIOCore

/// Streams one object into a store as its bytes are produced.
///
/// Bytes are buffered up to one part. If `finish()` is reached before a part filled up,
/// the object is sent as a single PUT; otherwise it becomes a multipart upload whose parts
/// (all of `partSize` bytes but the last) are uploaded concurrently, at most
/// `maxConcurrentParts` at a time, so memory stays under `(maxConcurrentParts + 1) * partSize`.
/// Nothing is visible under the key until `finish()` returns; after any failure, on task
/// cancellation, or on `abort()` the upload is aborted.
///
/// A writer has one producer: calls must not overlap.
public protocol ObjectWriter: AnyObject, Sendable {
    var key: String { get }
    func write(_ buffer: ByteBuffer) async throws
    func write(_ bytes: [UInt8]) async throws
    /// Makes the object visible and returns what was stored.
    func finish() async throws -> ObjectInfo
    /// Discards everything written; never throws (a failed abort leaves at most an
    /// invisible incomplete upload, which bucket lifecycle rules clean up).
    func abort() async
}

extension ObjectWriter {
    public func write(contentsOf bytes: some Sequence<UInt8>) async throws {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        try await write(buffer)
    }
}

/// How a streaming writer cuts and uploads parts.
public struct ObjectWriterOptions: Sendable {
    /// The S3 minimum for every part but the last.
    public static let minimumPartSize = 5 << 20
    /// Bytes per part; default 16 MiB, at least 5 MiB. At most 10,000 parts per object.
    public var partSize: Int
    /// Parts uploaded at the same time by one writer; default 4.
    public var maxConcurrentParts: Int

    public init(partSize: Int = 16 << 20, maxConcurrentParts: Int = 4) {
        self.partSize = max(partSize, Self.minimumPartSize)
        self.maxConcurrentParts = max(1, maxConcurrentParts)
    }
}
