/// Everything this module throws: what went wrong (`code`), during which Redis operation, on which
/// stream, with the server's or the socket's own words in `message`.
///
/// Messages never contain the password: URL errors name the part that is wrong, not the URL, and
/// authentication errors repeat only the server's reply (Redis never echoes credentials).
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An extensible error category; compare with the static members.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The connection URL cannot be used (syntax, port, database number).
        public static let invalidURL = Code("invalidURL")
        /// The TLS handshake failed for a reason retrying cannot fix: an untrusted certificate, a
        /// host name mismatch, a plain-text server on a `rediss://` URL, unreadable key files.
        public static let tlsFailed = Code("tlsFailed")
        /// The TCP or unix-socket connection could not be opened.
        public static let connectionFailed = Code("connectionFailed")
        /// An established connection broke (server restart, network, EOF).
        public static let connectionLost = Code("connectionLost")
        /// The socket timed out waiting for a reply.
        public static let timeout = Code("timeout")
        /// AUTH was refused (wrong password, unknown or disabled ACL user) or is required.
        public static let authenticationFailed = Code("authenticationFailed")
        /// The ACL user lacks a permission (`NOPERM`).
        public static let permissionDenied = Code("permissionDenied")
        /// The stream or the consumer group does not exist (`NOGROUP`).
        public static let noGroup = Code("noGroup")
        /// The group already exists (`BUSYGROUP`).
        public static let busyGroup = Code("busyGroup")
        /// A blocked read was ended by the server (`UNBLOCKED`: the stream key was deleted, or
        /// CLIENT UNBLOCK ... ERROR); reading again is right.
        public static let unblocked = Code("unblocked")
        /// The server is loading its dataset (`LOADING`); retry later.
        public static let loading = Code("loading")
        /// The key's slot is served by another cluster node (`MOVED slot host:port`): the
        /// topology is read again and the command sent to the new owner.
        public static let moved = Code("moved")
        /// The key's slot is being migrated and the key already left (`ASK slot host:port`): the
        /// command goes to the importing node, after ASKING.
        public static let ask = Code("ask")
        /// A cluster is resharding a multi-key command's slot (`TRYAGAIN`) or is down
        /// (`CLUSTERDOWN`); retry after a pause.
        public static let clusterBusy = Code("clusterBusy")
        /// The node is a replica (`READONLY`): after a failover the master is found again.
        public static let readOnly = Code("readOnly")
        /// Any other error reply from the server (`WRONGTYPE`, `ERR ...`).
        public static let serverError = Code("serverError")
        /// A reply did not have the shape the command documents.
        public static let unexpectedReply = Code("unexpectedReply")
        /// The client or consumer was stopped.
        public static let stopped = Code("stopped")
    }

    public var code: Code
    /// The Redis command or step, e.g. `XREADGROUP`, `connect`, `AUTH`.
    public var operation: String
    /// The stream key concerned, when there is one.
    public var stream: String?
    public var message: String

    public init(_ code: Code, operation: String, stream: String? = nil, message: String) {
        self.code = code
        self.operation = operation
        self.stream = stream
        self.message = message
    }

    public var description: String {
        var s = "Redis \(operation)"
        if let stream { s += " on stream '\(stream)'" }
        return s + " failed (\(code)): \(message)"
    }

    /// Whether trying again later (after reconnecting) can succeed. Configuration problems
    /// (URL, TLS, credentials, permissions, wrong key type) are not retryable.
    public var isRetryable: Bool {
        switch code {
        case .connectionFailed, .connectionLost, .timeout, .loading, .noGroup, .unblocked, .moved, .ask, .clusterBusy,
             .readOnly: true
        default: false
        }
    }

    /// Whether the connection that produced this error is unusable and must be replaced.
    var breaksConnection: Bool {
        code == .connectionLost || code == .timeout || code == .connectionFailed || code == .unexpectedReply
    }

    /// A reply saying the command was not run on this node and where to go instead (MOVED, ASK,
    /// READONLY, TRYAGAIN, CLUSTERDOWN): sending it again elsewhere or later is always safe, even
    /// for commands that are not idempotent.
    var isRedirect: Bool {
        code == .moved || code == .ask || code == .readOnly || code == .clusterBusy
    }

    /// The `host:port` of a MOVED or ASK reply.
    var redirectTarget: HostPort? {
        guard code == .moved || code == .ask else { return nil }
        let parts = message.split(separator: " ")
        guard parts.count >= 3 else { return nil }
        return HostPort(parsing: parts[2])
    }

    func with(stream: String?) -> RedisError {
        var e = self
        if e.stream == nil { e.stream = stream }
        return e
    }

    /// Classifies an error reply by its leading word (the Redis convention).
    static func fromServer(_ reply: String, operation: String, stream: String?) -> RedisError {
        let word = reply.prefix { $0 != " " }
        let code: Code
        switch word {
        case "NOGROUP": code = .noGroup
        case "BUSYGROUP": code = .busyGroup
        case "LOADING": code = .loading
        case "UNBLOCKED": code = .unblocked
        case "WRONGPASS", "NOAUTH": code = .authenticationFailed
        case "NOPERM": code = .permissionDenied
        case "MOVED": code = .moved
        case "ASK": code = .ask
        case "TRYAGAIN", "CLUSTERDOWN": code = .clusterBusy
        case "READONLY": code = .readOnly
        default:
            // Redis 5 and older (and `AUTH` without a configured password) say "ERR invalid password".
            code = reply.contains("invalid password") || reply.contains("AUTH <password> called without")
                ? .authenticationFailed : .serverError
        }
        return RedisError(code, operation: operation, stream: stream, message: reply)
    }
}
