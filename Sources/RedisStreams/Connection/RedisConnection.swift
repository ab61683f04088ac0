import CHiredis
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One hiredis connection. Not thread-safe and deliberately not Sendable: each instance is
/// created, used and freed on the one dedicated thread that owns it (a ``StreamConsumer``'s reader
/// thread or a ``RedisStreamClient``'s command thread), since every call blocks on the socket.
final class RedisConnection {
    private let ctx: UnsafeMutablePointer<redisContext>
    private let commandTimeout: Duration
    /// Set once an I/O or protocol error happened: hiredis contexts cannot be reused after that.
    private(set) var isBroken = false

    /// The socket, for interrupting a blocked read with shutdown(2) from another thread.
    var fileDescriptor: Int32 { ctx.pointee.fd }

    private init(ctx: UnsafeMutablePointer<redisContext>, commandTimeout: Duration) {
        self.ctx = ctx
        self.commandTimeout = commandTimeout
    }

    deinit { redisFree(ctx) }

    /// Connects, authenticates and selects the database. `socketTimeout` bounds every later read
    /// and write (the command timeout, plus the BLOCK time for a blocking reader).
    /// `clientName` (CLIENT SETNAME) lets operators tell the connections apart in CLIENT LIST; it is
    /// best effort, as an ACL user may lack the permission.
    static func open(_ config: RedisConfiguration, socketTimeout: Duration,
                     clientName: String? = nil) throws(RedisError) -> RedisConnection {
        let connectTV = makeTimeval(config.connectTimeout)
        let raw: UnsafeMutablePointer<redisContext>?
        switch config.endpoint {
        case .tcp(let host, let port):
            raw = redisConnectWithTimeout(host, Int32(port), connectTV)
        case .unixSocket(let path):
            raw = redisConnectUnixWithTimeout(path, connectTV)
        }
        guard let ctx = raw else {
            throw RedisError(.connectionFailed, operation: "connect", message: "hiredis could not allocate a context")
        }
        if ctx.pointee.err != 0 {
            let message = Self.errorText(ctx)
            redisFree(ctx)
            throw RedisError(.connectionFailed, operation: "connect",
                             message: "\(config.endpointDescription): \(message)")
        }
        let connection = RedisConnection(ctx: ctx, commandTimeout: socketTimeout)
        if redisSetTimeout(ctx, makeTimeval(socketTimeout)) != REDIS_OK {
            throw RedisError(.connectionFailed, operation: "connect", message: "cannot set the socket timeout")
        }
        if let password = config.password {
            var argv = Argv(capacity: 64)
            argv.append("AUTH")
            if let user = config.username { argv.append(user) }
            argv.append(password)
            // The reply never contains the password; the argv is not kept.
            try connection.command(argv, operation: "AUTH", stream: nil) { _ in () }
        }
        if config.database != 0 {
            var argv = Argv(capacity: 16)
            argv.append("SELECT")
            argv.append(config.database)
            try connection.command(argv, operation: "SELECT", stream: nil) { _ in () }
        }
        if let clientName {
            var argv = Argv(capacity: 32 + clientName.utf8.count)
            argv.append("CLIENT")
            argv.append("SETNAME")
            argv.append(String(clientName.map { $0 == " " || $0 == "\n" ? "_" : $0 }))
            do {
                try connection.command(argv, operation: "CLIENT SETNAME", stream: nil) { _ in () }
            } catch where !error.breaksConnection && error.code != .loading {
                // NOPERM and the like: the name is only a convenience.
            }
        }
        return connection
    }

    /// Sends one command and hands its reply to `body` (valid only during the call). An error reply
    /// is thrown as a classified ``RedisError``.
    func command<R>(_ argv: Argv, operation: String, stream: String?,
                    _ body: (Reply) throws(RedisError) -> R) throws(RedisError) -> R {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        let raw = argv.withCArguments { argc, argvp, lens in redisCommandArgv(ctx, argc, argvp, lens) }
        guard let raw else { throw ioError(operation: operation, stream: stream) }
        let reply = raw.assumingMemoryBound(to: redisReply.self)
        defer { freeReplyObject(raw) }
        return try Self.handle(Reply(reply), operation: operation, stream: stream, body)
    }

    /// Queues a command in the output buffer without sending it (pipelining); the reply is read
    /// later, in order, with ``readReply(operation:stream:_:)``.
    func append(_ argv: Argv, operation: String, stream: String?) throws(RedisError) {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        let rc = argv.withCArguments { argc, argvp, lens in redisAppendCommandArgv(ctx, argc, argvp, lens) }
        if rc != REDIS_OK { throw ioError(operation: operation, stream: stream) }
    }

    /// Queues a command and writes it out now, without waiting for the reply (read it later with
    /// ``readReply(operation:stream:_:)``): the server works on it while this thread does other things.
    func send(_ argv: Argv, operation: String, stream: String?) throws(RedisError) {
        try append(argv, operation: operation, stream: stream)
        var done: Int32 = 0
        repeat {
            if redisBufferWrite(ctx, &done) != REDIS_OK { throw ioError(operation: operation, stream: stream) }
        } while done == 0
    }

    /// Reads the next reply of a pipeline (flushing queued commands first).
    func readReply<R>(operation: String, stream: String?,
                      _ body: (Reply) throws(RedisError) -> R) throws(RedisError) -> R {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(ctx, &raw) != REDIS_OK || raw == nil {
            throw ioError(operation: operation, stream: stream)
        }
        defer { freeReplyObject(raw) }
        return try Self.handle(Reply(raw!.assumingMemoryBound(to: redisReply.self)),
                               operation: operation, stream: stream, body)
    }

    /// Reads the next reply of a pipeline into `flat` as tokens (no object per element): for
    /// stream reads. An error reply is thrown as a classified ``RedisError``.
    func readFlatReply<R>(into flat: FlatReply, operation: String, stream: String?,
                          _ body: (FlatReply) throws(RedisError) -> R) throws(RedisError) -> R {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        if lw_flat_get_reply(ctx, flat.storage) != REDIS_OK || flat.count == 0 {
            throw ioError(operation: operation, stream: stream)
        }
        if flat[0].type == REDIS_REPLY_ERROR {
            throw RedisError.fromServer(flat.text(flat[0]), operation: operation, stream: stream)
        }
        return try body(flat)
    }

    private static func handle<R>(_ reply: Reply, operation: String, stream: String?,
                                  _ body: (Reply) throws(RedisError) -> R) throws(RedisError) -> R {
        if reply.type == REDIS_REPLY_ERROR {
            throw RedisError.fromServer(reply.text, operation: operation, stream: stream)
        }
        return try body(reply)
    }

    private func ioError(operation: String, stream: String?) -> RedisError {
        let savedErrno = errno
        isBroken = true
        let text = Self.errorText(ctx)
        switch ctx.pointee.err {
        case REDIS_ERR_EOF:
            return RedisError(.connectionLost, operation: operation, stream: stream, message: "server closed the connection")
        case REDIS_ERR_IO where savedErrno == EAGAIN || savedErrno == EWOULDBLOCK || savedErrno == ETIMEDOUT:
            return RedisError(.timeout, operation: operation, stream: stream,
                              message: "no reply within \(commandTimeout) (\(text))")
        case REDIS_ERR_PROTOCOL:
            return RedisError(.unexpectedReply, operation: operation, stream: stream, message: "protocol error: \(text)")
        default:
            return RedisError(.connectionLost, operation: operation, stream: stream, message: text.isEmpty ? "I/O error" : text)
        }
    }

    private static func errorText(_ ctx: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: ctx.pointee.errstr) { raw in
            let n = raw.firstIndex(of: 0) ?? raw.count
            return String(decoding: raw[..<n], as: UTF8.self)
        }
    }
}

func makeTimeval(_ d: Duration) -> timeval {
    let c = d.components
    return Glibc.timeval(tv_sec: Int(c.seconds), tv_usec: Int(c.attoseconds / 1_000_000_000_000))
}

extension RedisConfiguration {
    /// Host and port or socket path, for error messages (never the credentials).
    var endpointDescription: String {
        switch endpoint {
        case .tcp(let host, let port): "\(host):\(port)"
        case .unixSocket(let path): path
        }
    }
}

/// A view of a hiredis reply node, valid while the reply tree is alive (inside the closure given
/// to ``RedisConnection/command(_:operation:stream:_:)``).
struct Reply {
    let node: UnsafeMutablePointer<redisReply>
    init(_ node: UnsafeMutablePointer<redisReply>) { self.node = node }

    var type: Int32 { node.pointee.type }
    var isNil: Bool { type == REDIS_REPLY_NIL }
    var isArray: Bool { type == REDIS_REPLY_ARRAY }
    var isString: Bool { type == REDIS_REPLY_STRING || type == REDIS_REPLY_STATUS }
    var integer: Int64 { node.pointee.integer }
    var count: Int { node.pointee.elements }
    subscript(i: Int) -> Reply { Reply(node.pointee.element[i]!) }
    /// The string payload (STRING, STATUS, ERROR).
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: node.pointee.str, count: node.pointee.len) }
    var text: String { String(decoding: bytes, as: UTF8.self) }

    /// An integer reply, or a string holding a decimal integer (as some RESP2 maps do).
    var asInt: Int? {
        if type == REDIS_REPLY_INTEGER { return Int(integer) }
        if isString { return Int(text) }
        return nil
    }
}

/// Command arguments in one byte buffer with end offsets: binary safe (lengths go to
/// `redisCommandArgv`), and one allocation however many ids an XACK carries.
struct Argv {
    private(set) var bytes: [UInt8] = []
    private(set) var ends: [Int] = []

    init(capacity: Int, arguments: Int = 8) {
        bytes.reserveCapacity(capacity)
        ends.reserveCapacity(arguments)
    }

    var count: Int { ends.count }

    mutating func append(_ s: String) {
        bytes.append(contentsOf: s.utf8)
        ends.append(bytes.count)
    }

    mutating func append(_ n: Int) {
        if n < 0 { bytes.append(UInt8(ascii: "-")) }
        StreamID.writeDecimal(UInt64(n.magnitude), into: &bytes)
        ends.append(bytes.count)
    }

    mutating func append(_ id: StreamID) {
        id.write(into: &bytes)
        ends.append(bytes.count)
    }

    mutating func append(raw: UnsafeRawBufferPointer) {
        bytes.append(contentsOf: raw)
        ends.append(bytes.count)
    }

    mutating func append(_ b: some Collection<UInt8>) {
        bytes.append(contentsOf: b)
        ends.append(bytes.count)
    }

    func withCArguments<R>(_ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R) -> R {
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!  // never read: only empty args
            let n = ends.count
            let pointers = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: n)
            let lengths = UnsafeMutablePointer<Int>.allocate(capacity: n)
            defer {
                pointers.deallocate()
                lengths.deallocate()
            }
            var start = 0
            for i in 0..<n {
                pointers[i] = (base + start).assumingMemoryBound(to: CChar.self)
                lengths[i] = ends[i] - start
                start = ends[i]
            }
            return body(Int32(n), pointers, lengths)
        }
    }
}
