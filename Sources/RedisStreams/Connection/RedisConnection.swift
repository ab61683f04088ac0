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
    /// The TLS session on the context's socket (`rediss://`); nil for plain connections.
    private var ssl: OpaquePointer?
    /// Set once an I/O or protocol error happened: hiredis contexts cannot be reused after that.
    private(set) var isBroken = false
    /// A connection to a cluster node importing a slot (after `ASK`): every command is preceded
    /// by ASKING, whose reply is read and dropped before the command's.
    var asking = false
    /// A connection to a sentinel-managed master: the watch and its generation at connect time.
    var staleness: (watch: SentinelWatch, generation: Int)?
    /// The sentinels named another master since this connection was opened: replace it.
    var isStale: Bool {
        guard let staleness else { return false }
        return staleness.watch.generation != staleness.generation
    }

    /// The socket, for interrupting a blocked read with shutdown(2) from another thread.
    var fileDescriptor: Int32 { ctx.pointee.fd }

    private init(ctx: UnsafeMutablePointer<redisContext>, commandTimeout: Duration) {
        self.ctx = ctx
        self.commandTimeout = commandTimeout
    }

    deinit {
        if let ssl { SSL_free(ssl) }
        redisFree(ctx)
    }

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
        // The handshake is bounded by the connect timeout, later reads by the socket timeout.
        if redisSetTimeout(ctx, makeTimeval(config.tls != nil ? config.connectTimeout : socketTimeout)) != REDIS_OK {
            throw RedisError(.connectionFailed, operation: "connect", message: "cannot set the socket timeout")
        }
        if let tls = config.tls {
            connection.ssl = try handshake(ctx, tls, config)
            if redisSetTimeout(ctx, makeTimeval(socketTimeout)) != REDIS_OK {
                throw RedisError(.connectionFailed, operation: "connect", message: "cannot set the socket timeout")
            }
        }
        if let password = config.password {
            var argv = Argv(capacity: 64)
            argv.append("AUTH")
            if let user = config.username { argv.append(user) }
            argv.append(password)
            // The reply never contains the password; the argv is not kept.
            try connection.firstCommand(argv, operation: "AUTH", config)
        }
        if config.database != 0 {
            var argv = Argv(capacity: 16)
            argv.append("SELECT")
            argv.append(config.database)
            try connection.firstCommand(argv, operation: "SELECT", config)
        }
        if let clientName {
            var argv = Argv(capacity: 32 + clientName.utf8.count)
            argv.append("CLIENT")
            argv.append("SETNAME")
            argv.append(String(clientName.map { $0 == " " || $0 == "\n" ? "_" : $0 }))
            do {
                try connection.firstCommand(argv, operation: "CLIENT SETNAME", config)
            } catch where !error.breaksConnection && error.code != .loading {
                // NOPERM and the like: the name is only a convenience.
            }
        }
        return connection
    }

    /// A command of `open`: a connection closed at once is explained (a TLS port, most likely).
    private func firstCommand(_ argv: Argv, operation: String, _ config: RedisConfiguration) throws(RedisError) {
        do {
            try command(argv, operation: operation, stream: nil) { _ in () }
        } catch where error.code == .connectionLost {
            let hint = config.tls == nil ? "if the server requires TLS, use a rediss:// URL"
                : "if the server requires a client certificate, set redis.tls.cert_file and redis.tls.key_file"
            throw RedisError(.connectionLost, operation: operation, stream: nil,
                             message: "\(config.endpointDescription) closed the connection right after connecting: \(hint) (\(error.message))")
        }
    }

    /// The TLS handshake on the context's socket, with verification unless `insecureSkipVerify`.
    private static func handshake(_ ctx: UnsafeMutablePointer<redisContext>, _ tls: RedisConfiguration.TLS,
                                  _ config: RedisConfiguration) throws(RedisError) -> OpaquePointer {
        guard case .tcp(let host, _) = config.endpoint else {
            throw RedisError(.tlsFailed, operation: "connect", message: "TLS needs a TCP endpoint, not a unix socket")
        }
        let name = tls.serverName ?? host
        var err = [CChar](repeating: 0, count: 512)
        var verifyResult = 0
        let ssl: OpaquePointer? = name.withCString { n in
            withOptionalCString(tls.caFile) { ca in
                withOptionalCString(tls.certFile) { cert in
                    withOptionalCString(tls.keyFile) { key in
                        var o = lw_tls_options(server_name: n, ca_file: ca, cert_file: cert, key_file: key,
                                               verify: tls.insecureSkipVerify ? 0 : 1)
                        return lw_tls_connect(ctx.pointee.fd, &o, &err, err.count, &verifyResult)
                    }
                }
            }
        }
        if let ssl { return ssl }
        let text = String(decoding: err.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let at = "TLS with \(config.endpointDescription) (name \(name))"
        if verifyResult == Int(X509_V_ERR_HOSTNAME_MISMATCH) || verifyResult == Int(X509_V_ERR_IP_ADDRESS_MISMATCH) {
            throw RedisError(.tlsFailed, operation: "connect", message:
                "\(at): \(text): the server's certificate is not for \(name); set redis.tls.server_name to the name it has")
        }
        if verifyResult != Int(X509_V_OK) {
            throw RedisError(.tlsFailed, operation: "connect", message:
                "\(at): \(text); set redis.tls.ca_file to the CA that signed the server's certificate")
        }
        if text.contains("wrong version number") || text.contains("packet length too long") || text.contains("record layer failure") {
            throw RedisError(.tlsFailed, operation: "connect", message:
                "\(at): the server does not speak TLS (\(text)): for a plain-text port use redis://")
        }
        if text.contains("redis.tls.") {
            throw RedisError(.tlsFailed, operation: "connect", message: "\(at): \(text)")
        }
        if text.contains("timed out") {
            throw RedisError(.connectionFailed, operation: "connect", message:
                "\(at): no TLS answer within \(config.connectTimeout) (a plain-text Redis port never answers a TLS handshake: use redis:// for it)")
        }
        throw RedisError(.connectionFailed, operation: "connect", message: "\(at): \(text)")
    }

    /// Sends one command and hands its reply to `body` (valid only during the call). An error reply
    /// is thrown as a classified ``RedisError``.
    func command<R>(_ argv: Argv, operation: String, stream: String?,
                    _ body: (Reply) throws(RedisError) -> R) throws(RedisError) -> R {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        // Over TLS, and after ASK, the command is queued and its reply read as in a pipeline.
        if asking || ssl != nil {
            try append(argv, operation: operation, stream: stream)
            return try readReply(operation: operation, stream: stream, body)
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
        if asking {
            var a = Argv(capacity: 8)
            a.append("ASKING")
            let rc = a.withCArguments { argc, argvp, lens in redisAppendCommandArgv(ctx, argc, argvp, lens) }
            if rc != REDIS_OK { throw ioError(operation: operation, stream: stream) }
        }
        let rc = argv.withCArguments { argc, argvp, lens in redisAppendCommandArgv(ctx, argc, argvp, lens) }
        if rc != REDIS_OK { throw ioError(operation: operation, stream: stream) }
    }

    /// Reads the reply of the ASKING sent before a command (see ``asking``).
    private func skipAskingReply(operation: String, stream: String?) throws(RedisError) {
        let raw = try nextReply(operation: operation, stream: stream)
        defer { freeReplyObject(raw) }
        let reply = Reply(raw.assumingMemoryBound(to: redisReply.self))
        if reply.type == REDIS_REPLY_ERROR {
            throw RedisError.fromServer(reply.text, operation: "ASKING", stream: stream)
        }
    }

    /// Queues a command and writes it out now, without waiting for the reply (read it later with
    /// ``readReply(operation:stream:_:)``): the server works on it while this thread does other things.
    func send(_ argv: Argv, operation: String, stream: String?) throws(RedisError) {
        try append(argv, operation: operation, stream: stream)
        if let ssl {
            if lw_tls_flush(ctx, ssl) != REDIS_OK { throw ioError(operation: operation, stream: stream) }
            return
        }
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
        if asking { try skipAskingReply(operation: operation, stream: stream) }
        let raw = try nextReply(operation: operation, stream: stream)
        defer { freeReplyObject(raw) }
        return try Self.handle(Reply(raw.assumingMemoryBound(to: redisReply.self)),
                               operation: operation, stream: stream, body)
    }

    /// The next reply object (flushing queued commands first), over TLS when there is a session;
    /// free it with `freeReplyObject`.
    private func nextReply(operation: String, stream: String?) throws(RedisError) -> UnsafeMutableRawPointer {
        var raw: UnsafeMutableRawPointer?
        let rc = ssl.map { lw_tls_get_reply(ctx, $0, &raw) } ?? redisGetReply(ctx, &raw)
        guard rc == REDIS_OK, let raw else { throw ioError(operation: operation, stream: stream) }
        return raw
    }

    /// Reads the next reply of a pipeline into `flat` as tokens (no object per element): for
    /// stream reads. An error reply is thrown as a classified ``RedisError``.
    func readFlatReply<R>(into flat: FlatReply, operation: String, stream: String?,
                          _ body: (FlatReply) throws(RedisError) -> R) throws(RedisError) -> R {
        guard !isBroken else {
            throw RedisError(.connectionLost, operation: operation, stream: stream, message: "connection already broken")
        }
        if asking { try skipAskingReply(operation: operation, stream: stream) }
        let rc = lw_flat_get_reply(ctx, ssl, flat.storage)
        if rc != REDIS_OK || flat.count == 0 {
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

/// `body` with a C string for `s`, or NULL.
func withOptionalCString<R>(_ s: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let s else { return body(nil) }
    return s.withCString { body($0) }
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
