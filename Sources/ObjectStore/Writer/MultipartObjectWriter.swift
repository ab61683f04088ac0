import NIOCore

/// The `ObjectWriter` of stores with multipart uploads (S3): one PUT when small,
/// otherwise equal-sized parts uploaded concurrently with a bound.
public actor MultipartObjectWriter: ObjectWriter {
    public nonisolated let key: String
    private let store: any ObjectStore
    private let options: ObjectWriterOptions

    private var current: ByteBuffer
    private var upload: MultipartUpload?
    private var inFlight: [(partNumber: Int, task: Task<CompletedPart, any Error>)] = []
    private var completed: [CompletedPart] = []
    private var nextPartNumber = 1
    private var closed = false
    private var busy = false
    private var finished = false

    /// A writer uploading through `store`'s put and multipart operations.
    public init(store: any ObjectStore, key: String, options: ObjectWriterOptions = ObjectWriterOptions()) {
        self.store = store
        self.key = key
        self.options = options
        self.current = ByteBuffer()
    }

    deinit {
        // Dropped without finish() or abort(): do not leave parts billed and invisible.
        if !finished, let upload {
            let store = self.store
            for part in inFlight { part.task.cancel() }
            Task { try? await store.abortMultipartUpload(upload) }
        }
    }

    /// Bytes accepted so far.
    public private(set) var bytesWritten: Int64 = 0

    /// Parts started so far (0 while the object still fits a single PUT).
    public var partsStarted: Int { nextPartNumber - 1 }

    public func write(_ bytes: [UInt8]) async throws {
        try await guarded {
            var offset = 0
            while offset < bytes.count {
                try await shipIfFull()
                let take = min(options.partSize - current.readableBytes, bytes.count - offset)
                reserveIfNeeded()
                bytes.withUnsafeBytes { current.writeBytes(UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + take)])) }
                offset += take
            }
            bytesWritten += Int64(bytes.count)
        }
    }

    public func write(_ buffer: ByteBuffer) async throws {
        try await guarded {
            var input = buffer
            let count = input.readableBytes
            while input.readableBytes > 0 {
                try await shipIfFull()
                if current.readableBytes == 0 && input.readableBytes > options.partSize {
                    // A whole part is available in the caller's buffer: ship a slice, no copy.
                    // (Only when more follows, so an object of exactly one part stays a PUT.)
                    try await ship(input.readSlice(length: options.partSize)!)
                    continue
                }
                let take = min(options.partSize - current.readableBytes, input.readableBytes)
                reserveIfNeeded()
                current.writeImmutableBuffer(input.readSlice(length: take)!)
            }
            bytesWritten += Int64(count)
        }
    }

    public func finish() async throws -> ObjectInfo {
        try await guarded {
            closed = true
            guard let upload else {
                let info = try await store.put(key: key, body: current)
                current = ByteBuffer()
                finished = true
                return info
            }
            if current.readableBytes > 0 {
                let last = current
                current = ByteBuffer()
                try await startPart(last, upload: upload)
            }
            while !inFlight.isEmpty { try await awaitOldestPart() }
            let info = try await store.completeMultipartUpload(upload, parts: completed)
            finished = true
            return info
        }
    }

    public func abort() async {
        guard !finished else { return }
        closed = true
        await abortUpload()
    }

    // MARK: Internals

    /// Runs `body` as the single active operation; on any error aborts the upload and rethrows.
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
            closed = true
            await abortUpload()
            throw error
        }
    }

    private func reserveIfNeeded() {
        if current.capacity < options.partSize {
            current.reserveCapacity(options.partSize)
        }
    }

    private func shipIfFull() async throws {
        guard current.readableBytes >= options.partSize else { return }
        let part = current
        current = ByteBuffer()
        try await ship(part)
    }

    private func ship(_ part: ByteBuffer) async throws {
        let upload: MultipartUpload
        if let existing = self.upload {
            upload = existing
        } else {
            upload = try await store.createMultipartUpload(key: key)
            self.upload = upload
        }
        try await startPart(part, upload: upload)
    }

    private func startPart(_ part: ByteBuffer, upload: MultipartUpload) async throws {
        while inFlight.count >= options.maxConcurrentParts { try await awaitOldestPart() }
        let number = nextPartNumber
        guard number <= 10_000 else {
            throw ObjectStoreError(code: .badRequest, operation: "UploadPart", key: key,
                                   message: "more than 10,000 parts: raise the part size")
        }
        nextPartNumber += 1
        let store = self.store
        inFlight.append((number, Task { try await store.uploadPart(upload, partNumber: number, body: part) }))
    }

    private func awaitOldestPart() async throws {
        let task = inFlight[0].task
        // Task.value ignores cancellation of the awaiting task: forward it so a cancelled
        // writer stops uploading promptly.
        let part = try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
        inFlight.removeFirst()
        completed.append(part)
    }

    private func abortUpload() async {
        let tasks = inFlight
        inFlight = []
        for part in tasks { part.task.cancel() }
        for part in tasks { _ = try? await part.task.value }
        current = ByteBuffer()
        guard let upload, !finished else { return }
        finished = true  // nothing left for deinit to clean up
        let store = self.store
        // A fresh task: the abort must run even when the caller's task is cancelled.
        await Task { try? await store.abortMultipartUpload(upload) }.value
    }
}
