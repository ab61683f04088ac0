import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory used as an object store (`file:///var/lib/lakewriter/lake`), the embedded default.
///
/// Objects are written to a temp file in the destination directory, fsynced, renamed into
/// place, and the directory is fsynced, so after a crash a key holds either the old or the
/// new content, never a torn file. `putIfAbsent` publishes with `link(2)`, which fails when
/// the name exists, the file system equivalent of `If-None-Match: *`. Temp files and
/// multipart staging live under names starting with `.lakewriter-`, which listings skip.
/// All blocking file calls run on an `NIOThreadPool`, never on Swift's cooperative pool.
public final class LocalFileStore: ObjectStore {
    public let root: String
    let threadPool: NIOThreadPool
    static let reservedPrefix = ".lakewriter-"

    public init(root: String, threadPool: NIOThreadPool = .singleton) throws {
        var r = root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
        self.threadPool = threadPool
        try Self.makeDirectories(r, operation: "Configure", key: nil)
    }

    public var location: String { "file://\(root)/" }

    public func shutdown() async throws {}

    // MARK: ObjectStore

    @discardableResult
    public func put(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        try await put(key: key, body: body, exclusive: false)
    }

    @discardableResult
    public func putIfAbsent(key: String, body: ByteBuffer) async throws -> ObjectInfo {
        try await put(key: key, body: body, exclusive: true)
    }

    /// Temp file, fsync, then rename (`exclusive`: link, failing when the key exists).
    private func put(key: String, body: ByteBuffer, exclusive: Bool) async throws -> ObjectInfo {
        let path = try path(for: key, operation: "PutObject")
        return try await run {
            let tmp = try Self.writeTempFile(nextTo: path, body: body, operation: "PutObject", key: key)
            try Self.publish(tmp: tmp, to: path, exclusive: exclusive, operation: "PutObject", key: key)
            return ObjectInfo(key: key, size: Int64(body.readableBytes), lastModified: Date())
        }
    }

    public func head(key: String) async throws -> ObjectInfo? {
        let path = try path(for: key, operation: "HeadObject")
        return try await run {
            var st = stat()
            guard stat(path, &st) == 0 else {
                if errno == ENOENT || errno == ENOTDIR { return nil }
                throw Self.ioError("HeadObject", key: key, call: "stat")
            }
            guard (st.st_mode & S_IFMT) == S_IFREG else { return nil }
            return ObjectInfo(key: key, size: Int64(st.st_size),
                              lastModified: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec)))
        }
    }

    public func get(key: String) async throws -> ByteBuffer {
        let path = try path(for: key, operation: "GetObject")
        return try await run { try Self.readFile(path, operation: "GetObject", key: key) }
    }

    public func list(prefix: String, continuationToken: String?, maxKeys: Int) async throws -> ObjectListPage {
        let root = self.root
        return try await run {
            // Only the directory holding the prefix's last `/` can contain matches.
            let dirPart = prefix.lastIndex(of: "/").map { String(prefix[..<$0]) } ?? ""
            let start = dirPart.isEmpty ? root : root + "/" + dirPart
            var keys: [ObjectInfo] = []
            try Self.walk(directory: start, keyPrefix: dirPart.isEmpty ? "" : dirPart + "/") { key, st in
                guard key.hasPrefix(prefix) else { return }
                if let token = continuationToken, key <= token { return }
                keys.append(ObjectInfo(key: key, size: Int64(st.st_size),
                                       lastModified: Date(timeIntervalSince1970: Double(st.st_mtim.tv_sec))))
            }
            // S3 lists in UTF-8 byte order.
            keys.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
            if keys.count > maxKeys {
                let page = Array(keys.prefix(maxKeys))
                return ObjectListPage(objects: page, nextContinuationToken: page.last?.key)
            }
            return ObjectListPage(objects: keys, nextContinuationToken: nil)
        }
    }

    public func delete(key: String) async throws {
        let path = try path(for: key, operation: "DeleteObject")
        try await run {
            if unlink(path) != 0 && errno != ENOENT { throw Self.ioError("DeleteObject", key: key, call: "unlink") }
        }
    }

    // Multipart: parts are staged as files under `.lakewriter-uploads/<id>/` and
    // concatenated into a temp file on completion, then published like a put.

    public func createMultipartUpload(key: String) async throws -> MultipartUpload {
        _ = try path(for: key, operation: "CreateMultipartUpload")
        let id = UUID().uuidString
        let dir = stagingDirectory(id)
        try await run { try Self.makeDirectories(dir, operation: "CreateMultipartUpload", key: key) }
        return MultipartUpload(key: key, uploadID: id)
    }

    public func uploadPart(_ upload: MultipartUpload, partNumber: Int, body: ByteBuffer) async throws -> CompletedPart {
        let dir = try stagingDirectory(upload, operation: "UploadPart")
        return try await run {
            let partPath = dir + "/\(partNumber)"
            let tmp = try Self.writeTempFile(nextTo: partPath, body: body, operation: "UploadPart", key: upload.key, sync: false)
            guard rename(tmp, partPath) == 0 else { throw Self.ioError("UploadPart", key: upload.key, call: "rename") }
            return CompletedPart(partNumber: partNumber, etag: "local-\(partNumber)-\(body.readableBytes)", size: body.readableBytes)
        }
    }

    @discardableResult
    public func completeMultipartUpload(_ upload: MultipartUpload, parts: [CompletedPart]) async throws -> ObjectInfo {
        let dir = try stagingDirectory(upload, operation: "CompleteMultipartUpload")
        let path = try path(for: upload.key, operation: "CompleteMultipartUpload")
        return try await run {
            let writer = try TempFile(nextTo: path, operation: "CompleteMultipartUpload", key: upload.key)
            do {
                for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
                    try writer.write(Self.readFile(dir + "/\(part.partNumber)", operation: "CompleteMultipartUpload", key: upload.key))
                }
                try writer.syncAndClose()
            } catch {
                writer.discard()
                throw error
            }
            try Self.publish(tmp: writer.path, to: path, exclusive: false, operation: "CompleteMultipartUpload", key: upload.key)
            Self.removeTree(dir)
            return ObjectInfo(key: upload.key, size: writer.size, lastModified: Date())
        }
    }

    public func abortMultipartUpload(_ upload: MultipartUpload) async throws {
        let dir = try stagingDirectory(upload, operation: "AbortMultipartUpload")
        try await run { Self.removeTree(dir) }
    }

    /// Upload ids that were created and neither completed nor aborted.
    public func pendingMultipartUploads() async throws -> [String] {
        let base = root + "/" + Self.reservedPrefix + "uploads"
        return try await run { (try? FileManager.default.contentsOfDirectory(atPath: base)) ?? [] }
    }

    public func makeWriter(key: String, options: ObjectWriterOptions) -> any ObjectWriter {
        LocalFileWriter(store: self, key: key)
    }

    // MARK: Paths

    func path(for key: String, operation: String) throws -> String {
        let components = key.split(separator: "/", omittingEmptySubsequences: false)
        guard !key.isEmpty, !key.hasPrefix("/"), !key.hasSuffix("/"),
              !components.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." || $0.hasPrefix(Self.reservedPrefix) }),
              !key.utf8.contains(0) else {
            throw ObjectStoreError(code: .badRequest, operation: operation, key: key,
                                   message: "key not usable as a relative file path (empty, '.', '..', '//' or reserved name)")
        }
        return root + "/" + key
    }

    private func stagingDirectory(_ id: String) -> String {
        root + "/" + Self.reservedPrefix + "uploads/" + id
    }

    private func stagingDirectory(_ upload: MultipartUpload, operation: String) throws -> String {
        guard !upload.uploadID.isEmpty, !upload.uploadID.contains("/"), !upload.uploadID.contains("..") else {
            throw ObjectStoreError(code: .badRequest, operation: operation, key: upload.key, message: "invalid upload id")
        }
        return stagingDirectory(upload.uploadID)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threadPool.runIfActive(body)
    }
}

// MARK: - Blocking helpers (called on the thread pool only)

extension LocalFileStore {
    static func ioError(_ operation: String, key: String?, call: String, path: String? = nil) -> ObjectStoreError {
        let reason = String(cString: strerror(errno))
        return ObjectStoreError(code: .io, operation: operation, key: key,
                                message: "\(call)\(path.map { " \($0)" } ?? "") failed: \(reason)")
    }

    static func makeDirectories(_ path: String, operation: String, key: String?) throws {
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw ObjectStoreError(code: .io, operation: operation, key: key, message: "cannot create directory \(path): \(error)")
        }
    }

    static func writeTempFile(nextTo path: String, body: ByteBuffer, operation: String, key: String, sync: Bool = true) throws -> String {
        let file = try TempFile(nextTo: path, operation: operation, key: key)
        do {
            try file.write(body)
            if sync { try file.syncAndClose() } else { try file.close() }
        } catch {
            file.discard()
            throw error
        }
        return file.path
    }

    /// Moves a synced temp file to its final name and syncs the directory entry.
    static func publish(tmp: String, to path: String, exclusive: Bool, operation: String, key: String) throws {
        if exclusive {
            // link(2) fails with EEXIST instead of replacing: only one creator can win.
            let rc = link(tmp, path)
            let err = errno
            unlink(tmp)
            if rc != 0 {
                if err == EEXIST {
                    throw ObjectStoreError(code: .alreadyExists, operation: operation, key: key,
                                           message: "an object already exists at this key")
                }
                errno = err
                throw ioError(operation, key: key, call: "link")
            }
        } else if rename(tmp, path) != 0 {
            let e = ioError(operation, key: key, call: "rename")
            unlink(tmp)
            throw e
        }
        try syncDirectory(of: path, operation: operation, key: key)
    }

    static func syncDirectory(of path: String, operation: String, key: String) throws {
        let dir = String(path[..<(path.lastIndex(of: "/") ?? path.startIndex)])
        let fd = open(dir.isEmpty ? "/" : dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw ioError(operation, key: key, call: "open", path: dir) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw ioError(operation, key: key, call: "fsync", path: dir) }
    }

    static func readFile(_ path: String, operation: String, key: String) throws -> ByteBuffer {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            if errno == ENOENT || errno == ENOTDIR || errno == EISDIR {
                throw ObjectStoreError(code: .notFound, operation: operation, key: key, message: "no such object")
            }
            throw ioError(operation, key: key, call: "open")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw ioError(operation, key: key, call: "fstat") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw ObjectStoreError(code: .notFound, operation: operation, key: key, message: "no such object")
        }
        let size = Int(st.st_size)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        var total = 0
        while total < size {
            let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 0) { ptr in
                let want = min(ptr.count, size - total)
                let r = read(fd, ptr.baseAddress, want)
                return r > 0 ? r : 0
            }
            if n == 0 { break }
            total += n
        }
        return buffer
    }

    static func walk(directory: String, keyPrefix: String, _ visit: (String, stat) throws -> Void) throws {
        guard let dir = opendir(directory) else {
            if errno == ENOENT || errno == ENOTDIR { return }
            throw ioError("ListObjects", key: keyPrefix, call: "opendir", path: directory)
        }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name == "." || name == ".." || name.hasPrefix(reservedPrefix) { continue }
            let full = directory + "/" + name
            var st = stat()
            guard lstat(full, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                try walk(directory: full, keyPrefix: keyPrefix + name + "/", visit)
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                try visit(keyPrefix + name, st)
            }
        }
    }

    static func removeTree(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
private let systemClose = Glibc.close
#elseif canImport(Musl)
private let systemWrite = Musl.write
private let systemClose = Musl.close
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
private let systemClose = Darwin.close
#endif

/// A `.lakewriter-tmp-*` file beside its destination, written with plain POSIX calls.
/// Used from one thread-pool job at a time (the owning writer serializes its calls).
final class TempFile: @unchecked Sendable {
    // @unchecked: `fd` and `size` are only touched by the single job that currently owns
    // the file (LocalFileWriter is an actor and awaits each job before starting the next).
    let path: String
    private var fd: Int32
    private(set) var size: Int64 = 0
    private let operation: String
    private let key: String

    init(nextTo destination: String, operation: String, key: String) throws {
        let slash = destination.lastIndex(of: "/")!
        let dir = String(destination[..<slash])
        try LocalFileStore.makeDirectories(dir, operation: operation, key: key)
        self.path = dir + "/" + LocalFileStore.reservedPrefix + "tmp-" + UUID().uuidString
        self.operation = operation
        self.key = key
        self.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw LocalFileStore.ioError(operation, key: key, call: "open", path: path) }
    }

    func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = systemWrite(fd, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw LocalFileStore.ioError(operation, key: key, call: "write", path: path)
                }
                offset += n
            }
        }
        size += Int64(buffer.readableBytes)
    }

    func syncAndClose() throws {
        guard fsync(fd) == 0 else { throw LocalFileStore.ioError(operation, key: key, call: "fsync", path: path) }
        try close()
    }

    func close() throws {
        let rc = systemClose(fd)
        fd = -1
        guard rc == 0 else { throw LocalFileStore.ioError(operation, key: key, call: "close", path: path) }
    }

    /// Closes (if open) and removes the file.
    func discard() {
        if fd >= 0 { _ = systemClose(fd); fd = -1 }
        unlink(path)
    }

    deinit {
        if fd >= 0 { _ = systemClose(fd) }
    }
}
