@_exported import Retrying
/// Where and how to connect to Redis: endpoint, credentials, database and timeouts.
///
/// Built from a URL with ``init(url:)``:
/// - `redis://[[user]:password@]host[:port][/db]` (port 6379 and database 0 by default;
///   user and password may be percent-encoded),
/// - `unix://[[user]:password@]/path/to/redis.sock[?db=N]` or a plain `/path/to/redis.sock`.
///
/// Sentinel and Cluster (either combines with TLS: `rediss+sentinel://`, `rediss+cluster://`):
/// - `redis+sentinel://[[user]:password@]host1:26379,host2:26379/mymaster[/db]`: the master named
///   `mymaster`, asked of the sentinels in order at every (re)connection and checked with ROLE; a
///   failover (a lost connection, `READONLY`) makes the next connection ask again. The sentinels'
///   own password, when they have one, is ``sentinelPassword``.
/// - `redis+cluster://[[user]:password@]host1:7000,host2:7001`: a Redis Cluster found from these
///   seed nodes (``Topology/cluster(seeds:)``).
///
/// `rediss://host[:port][/db]` connects with TLS (OpenSSL on the socket; hiredis 0.14 has none):
/// certificate and host name verified by default, SNI sent; see ``TLS``. The password is kept out
/// of ``description`` and of every error.
public struct RedisConfiguration: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable {
    /// The address of the server.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    /// ACL user name (`AUTH user password`); nil means the `default` user (`AUTH password`).
    public var username: String?
    /// Sent with AUTH when set; never logged.
    public var password: String?
    /// The logical database selected with SELECT when not 0.
    public var database: Int
    /// How long opening the connection may take. Default 5 s.
    public var connectTimeout: Duration = .seconds(5)
    /// How long any one command may wait for its reply. A blocking XREADGROUP gets this plus its
    /// BLOCK time. Default 10 s.
    public var commandTimeout: Duration = .seconds(10)
    /// TLS settings; nil is plain TCP. Set by a `rediss://` URL.
    public var tls: TLS?
    /// One server (``endpoint``), a master found through sentinels, or a cluster.
    public var topology: Topology = .standalone
    /// AUTH for the sentinels themselves (their `requirepass`); the URL's credentials are the
    /// master's. Nil: the sentinels take no password.
    public var sentinelPassword: String?

    /// How the server that holds a key is found.
    public enum Topology: Sendable, Equatable {
        /// ``RedisConfiguration/endpoint`` itself.
        case standalone
        /// The master named `master`, as the first answering sentinel of `sentinels` names it.
        case sentinel(master: String, sentinels: [HostPort])
        /// A Redis Cluster: slots read with CLUSTER SLOTS from `seeds` (or nodes learned since);
        /// each key's commands go to the primary that owns its slot.
        case cluster(seeds: [HostPort])
    }

    /// A Redis Cluster (``Topology/cluster(seeds:)``).
    public var isCluster: Bool {
        if case .cluster = topology { return true }
        return false
    }

    /// The nodes a sentinel or cluster URL names, or the endpoint.
    var nodesDescription: String {
        switch topology {
        case .standalone: endpointDescription
        case .sentinel(_, let nodes), .cluster(let nodes): nodes.map(\.description).joined(separator: ",")
        }
    }

    /// TLS for a connection: the server's certificate is verified against `caFile` (or the
    /// system's trust store) and must name `serverName` (or the URL's host); `certFile` and
    /// `keyFile` give a client certificate for mutual TLS. `insecureSkipVerify` turns all
    /// verification off (logged loudly by the worker).
    public struct TLS: Sendable, Equatable {
        public var caFile: String?
        public var certFile: String?
        public var keyFile: String?
        public var serverName: String?
        public var insecureSkipVerify = false
        public init(caFile: String? = nil, certFile: String? = nil, keyFile: String? = nil, serverName: String? = nil,
                    insecureSkipVerify: Bool = false) {
            self.caFile = caFile
            self.certFile = certFile
            self.keyFile = keyFile
            self.serverName = serverName
            self.insecureSkipVerify = insecureSkipVerify
        }
    }

    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
    }

    /// The URL without its password (`redis://user:***@host:port/db`), safe for logs.
    public var description: String {
        var auth = ""
        if username != nil || password != nil {
            auth = (username ?? "") + (password != nil ? ":***" : "") + "@"
        }
        let scheme = tls == nil ? "redis" : "rediss"
        switch topology {
        case .sentinel(let master, let nodes):
            return "\(scheme)+sentinel://\(auth)\(nodes.map(\.description).joined(separator: ","))/\(master)/\(database)"
        case .cluster(let nodes):
            return "\(scheme)+cluster://\(auth)\(nodes.map(\.description).joined(separator: ","))"
        case .standalone: break
        }
        switch endpoint {
        case .tcp(let host, let port):
            return "\(scheme)://\(auth)\(HostPort(host: host, port: port))/\(database)"
        case .unixSocket(let path):
            return "unix://\(auth)\(path)" + (database != 0 ? "?db=\(database)" : "")
        }
    }

    public var debugDescription: String { description }

    /// `dump()` and debuggers show the redacted URL, not the stored password.
    public var customMirror: Mirror { Mirror(self, children: ["url": description], displayStyle: .struct) }

    /// Parses `url` and, for a `rediss://` URL, applies `tls` (ignored for plain URLs).
    public init(url: String, tls: TLS) throws(RedisError) {
        try self.init(url: url)
        if self.tls != nil { self.tls = tls }
    }

    /// Parses a connection URL (see the type's documentation for the accepted forms).
    public init(url: String) throws(RedisError) {
        func invalid(_ why: String) -> RedisError {
            RedisError(.invalidURL, operation: "parse URL", message: why)
        }
        if url.hasPrefix("/") {
            self.init(endpoint: .unixSocket(path: url))
            return
        }
        guard let schemeEnd = url.range(of: "://") else {
            throw invalid("expected redis://host:port/db, unix:///path or an absolute socket path")
        }
        var scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(url[schemeEnd.upperBound...])
        var kind = ""
        if let plus = scheme.firstIndex(of: "+") {
            kind = String(scheme[scheme.index(after: plus)...])
            scheme = String(scheme[..<plus])
            guard (scheme == "redis" || scheme == "rediss") && (kind == "sentinel" || kind == "cluster") else {
                throw invalid("unsupported scheme '\(url[..<schemeEnd.lowerBound])' (use redis+sentinel://, rediss+sentinel://, redis+cluster:// or rediss+cluster://)")
            }
        }
        guard scheme == "redis" || scheme == "rediss" || scheme == "unix" else {
            throw invalid("unsupported scheme '\(scheme)' (use redis://, rediss://, unix://, redis+sentinel:// or redis+cluster://)")
        }

        // Query (only db= is understood, for unix:// URLs that have no path segment for it).
        var queryDB: Int?
        if let q = rest.firstIndex(of: "?") {
            for item in rest[rest.index(after: q)...].split(separator: "&") {
                let kv = item.split(separator: "=", maxSplits: 1)
                guard kv.count == 2, kv[0] == "db" else {
                    throw invalid("unsupported query parameter '\(kv.first ?? "")' (only db= is understood)")
                }
                guard let n = Int(kv[1]), n >= 0 else { throw invalid("db must be a non-negative integer") }
                queryDB = n
            }
            rest = rest[..<q]
        }

        // User info ends at the last '@' before the path (a password may contain '@' only encoded,
        // but be lenient with a raw one).
        var username: String?
        var password: String?
        let authorityEnd = scheme == "unix" ? (rest.lastIndex(of: "@").map { rest.index(after: $0) } ?? rest.startIndex)
            : (rest.firstIndex(of: "/") ?? rest.endIndex)
        if let at = rest[..<authorityEnd].lastIndex(of: "@") {
            let info = rest[..<at]
            if let colon = info.firstIndex(of: ":") {
                let u = try Self.percentDecode(info[..<colon], invalid: invalid("user name is badly percent-encoded"))
                username = u.isEmpty ? nil : u
                password = try Self.percentDecode(info[info.index(after: colon)...],
                                                  invalid: invalid("password is badly percent-encoded"))
            } else {
                // `redis://secret@host`: a lone user-info part is the password, as in redis-cli -u.
                password = try Self.percentDecode(info, invalid: invalid("password is badly percent-encoded"))
            }
            rest = rest[rest.index(after: at)...]
        }

        if scheme == "unix" {
            guard rest.hasPrefix("/"), rest.count > 1 else { throw invalid("unix:// needs an absolute socket path") }
            self.init(endpoint: .unixSocket(path: String(rest)), username: username, password: password,
                      database: queryDB ?? 0)
            return
        }

        if !kind.isEmpty {
            try self.init(multiNode: kind, rest: rest, username: username, password: password, queryDB: queryDB,
                          invalid: invalid)
            if scheme == "rediss" { tls = TLS() }
            return
        }
        let hostPort: Substring
        var database = queryDB ?? 0
        if let slash = rest.firstIndex(of: "/") {
            hostPort = rest[..<slash]
            let dbPart = rest[rest.index(after: slash)...]
            if !dbPart.isEmpty {
                guard let n = Int(dbPart), n >= 0 else { throw invalid("database must be a non-negative integer") }
                database = n
            }
        } else {
            hostPort = rest
        }
        let node = try Self.hostPort(hostPort, defaultPort: 6379, invalid: invalid)
        self.init(endpoint: .tcp(host: node.host, port: node.port), username: username, password: password,
                  database: database)
        if scheme == "rediss" { tls = TLS() }
    }

    /// `host1:port,host2:port/master[/db]` (sentinel) or `host1:port,host2:port[/]` (cluster).
    private init(multiNode kind: String, rest: Substring, username: String?, password: String?, queryDB: Int?,
                 invalid: (String) -> RedisError) throws(RedisError) {
        let slash = rest.firstIndex(of: "/")
        let hostList = rest[..<(slash ?? rest.endIndex)]
        let path = slash.map { rest[rest.index(after: $0)...] } ?? ""
        var nodes: [HostPort] = []
        for part in hostList.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw invalid("empty host in the \(kind) node list") }
            nodes.append(try Self.hostPort(part, defaultPort: kind == "sentinel" ? 26379 : 6379, invalid: invalid))
        }
        guard !nodes.isEmpty else { throw invalid("\(kind) URL names no host") }
        guard nodes.count <= 64 else { throw invalid("at most 64 \(kind) nodes") }
        var database = queryDB ?? 0
        let topology: Topology
        if kind == "sentinel" {
            let segments = path.split(separator: "/", omittingEmptySubsequences: false)
            guard let name = segments.first, !name.isEmpty else {
                throw invalid("a sentinel URL needs the master name: redis+sentinel://host:26379/mymaster/0")
            }
            guard name.utf8.count <= 256, name.utf8.allSatisfy(Self.isNameByte) else {
                throw invalid("the master name may hold letters, digits, '.', '-' and '_' only")
            }
            guard segments.count <= 2 else { throw invalid("unexpected path after the master name and database") }
            if segments.count == 2, !segments[1].isEmpty {
                guard let n = Int(segments[1]), n >= 0 else { throw invalid("database must be a non-negative integer") }
                database = n
            }
            topology = .sentinel(master: String(name), sentinels: nodes)
        } else {
            guard path.isEmpty || path == "0" else {
                throw invalid("a cluster has only database 0: redis+cluster://host1:7000,host2:7001")
            }
            guard database == 0 else { throw invalid("a cluster has only database 0") }
            topology = .cluster(seeds: nodes)
        }
        self.init(endpoint: .tcp(host: nodes[0].host, port: nodes[0].port), username: username, password: password,
                  database: database)
        self.topology = topology
    }

    private static func hostPort(_ hostPort: Substring, defaultPort: Int,
                                 invalid: (String) -> RedisError) throws(RedisError) -> HostPort {
        var host: Substring
        var portText: Substring?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw invalid("unterminated IPv6 address") }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty {
                throw invalid("unexpected text after the IPv6 address")
            }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = hostPort[..<colon]
            portText = hostPort[hostPort.index(after: colon)...]
        } else {
            host = hostPort
        }
        if host.isEmpty { host = "127.0.0.1" }
        // A host name, an IPv4 address or (in brackets) an IPv6 one: nothing else a resolver takes.
        let bracketed = hostPort.hasPrefix("[")
        guard host.utf8.count <= 253, host.utf8.allSatisfy({ b in
            Self.isNameByte(b) || (bracketed && (b == UInt8(ascii: ":") || b == UInt8(ascii: "%")))
        }) else {
            throw invalid("the host '\(host.prefix(64))' is not a host name or an IP address")
        }
        var port = defaultPort
        if let portText {
            guard let p = Int(portText), (1...65535).contains(p) else { throw invalid("port must be 1-65535") }
            port = p
        }
        return HostPort(host: String(host), port: port)
    }

    /// Letters, digits, `.`, `-` and `_`: the bytes of host names and sentinel master names.
    static func isNameByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"): true
        default: false
        }
    }

    private static func percentDecode(_ s: Substring, invalid: @autoclosure () -> RedisError) throws(RedisError) -> String {
        guard s.contains("%") else { return String(s) }
        var out: [UInt8] = []
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { throw invalid() }
                out.append(h << 4 | l)
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

/// A TCP address, written `host:port` (`[v6]:port`).
public struct HostPort: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `host:port` or `[v6]:port`, as MOVED replies and CLUSTER SLOTS give them; nil when malformed.
    init?(parsing s: Substring) {
        guard let colon = s.lastIndex(of: ":"), let p = Int(s[s.index(after: colon)...]), (1...65535).contains(p) else {
            return nil
        }
        var h = s[..<colon]
        if h.hasPrefix("[") && h.hasSuffix("]") { h = h.dropFirst().dropLast() }
        host = String(h)
        port = p
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
