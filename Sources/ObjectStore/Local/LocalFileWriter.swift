import NIOCore

/// The `ObjectWriter` of `LocalFileStore`: streams into a temp file beside the destination
/// and renames it into place on `finish()` (after fsync of the file and the directory).
public actor LocalFileWriter: ObjectWriter {
    public nonisolated let key: String
    private let store: LocalFileStore
    private var file: TempFile?
    private var closed = false
    private var busy = false

    init(store: LocalFileStore, key: String) {
        self.store = store
        self.key = key
    }

    deinit {
        if !closed, let file { file.discard() }
    }

    public func write(_ bytes: [UInt8]) async throws {
        var buffer = ByteBuffer()
        buffer.writeBytes(bytes)
        try await write(buffer)
    }

    public func write(_ buffer: ByteBuffer) async throws {
        try await guarded {
            let file = try await openFile()
            try await store.run { try file.write(buffer) }
        }
    }

    public func finish() async throws -> ObjectInfo {
        try await guarded {
            let file = try await openFile()
            let path = try store.path(for: key, operation: "PutObject")
            let key = self.key
            try await store.run {
                try file.syncAndClose()
                try LocalFileStore.publish(tmp: file.path, to: path, exclusive: false, operation: "PutObject", key: key)
            }
            closed = true
            return ObjectInfo(key: key, size: file.size)
        }
    }

    public func abort() async {
        guard !closed else { return }
        closed = true
        if let file { try? await store.run { file.discard() } }
        file = nil
    }

    private func openFile() async throws -> TempFile {
        if let file { return file }
        let path = try store.path(for: key, operation: "PutObject")
        let key = self.key
        let created = try await store.run { try TempFile(nextTo: path, operation: "PutObject", key: key) }
        file = created
        return created
    }

    private func guarded<T>(_ body: () async throws -> T) async throws -> T {
        guard !closed, !busy else {
            throw ObjectStoreError(code: .writerClosed, operation: "ObjectWriter", key: key,
                                   message: closed ? "writer already finished or aborted" : "overlapping writer calls")
        }
        busy = true
        defer { busy = false }
        do {
            try Task.checkCancellation()
            return try await body()
        } catch {
            await abort()
            throw error
        }
    }
}
