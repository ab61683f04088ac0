#if canImport(Glibc)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a ``ParquetWriter`` sends the bytes of a file, in order.
///
/// The writer calls `write` with whole row groups (and finally the page
/// indexes and footer) and `close` once at the end. Implementations: ``FileSink``,
/// ``MemorySink``; the object-store module adds a multipart-upload sink.
public protocol ParquetSink: AnyObject {
    /// Appends bytes to the destination. The buffer is only valid during the call.
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Finishes the destination (flush, close the file, complete the upload).
    func close() throws
    /// About `count` more bytes are coming (a row group): a buffering sink makes room once
    /// instead of growing step by step. A hint; the default does nothing.
    func reserve(_ count: Int)
}

extension ParquetSink {
    public func reserve(_ count: Int) {}
}

/// Writes to a local file (created or truncated), with plain POSIX writes.
public final class FileSink: ParquetSink {
    public let path: String
    private var fd: Int32

    public init(path: String) throws(ParquetError) {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            throw ParquetError(.io, message: "open \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if fd >= 0 { _ = Glibc.close(fd) }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard fd >= 0 else { throw ParquetError(.io, message: "\(path) is closed") }
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw ParquetError(.io, message: "write \(path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
    }

    public func close() throws {
        guard fd >= 0 else { return }
        let r = Glibc.close(fd)
        fd = -1
        if r != 0 { throw ParquetError(.io, message: "close \(path): \(String(cString: strerror(errno)))") }
    }
}

/// Collects the file in memory (tests, small files, uploads in one request).
public final class MemorySink: ParquetSink {
    public private(set) var bytes: [UInt8] = []
    public private(set) var isClosed = false

    public init() {}

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        self.bytes.append(contentsOf: bytes.assumingMemoryBound(to: UInt8.self))
    }

    public func close() throws { isClosed = true }
}
