import Foundation
import Synchronization

/// The Redis Cluster hash slot of a key: CRC16 (XMODEM) of the key, or of its hash tag (the text
/// between the first `{` and the next `}`, when not empty), modulo 16384.
public enum HashSlot {
    public static let count = 16384

    public static func of(_ key: String) -> Int {
        var k = key
        return k.withUTF8 { of(bytes: UnsafeRawBufferPointer($0)) }
    }

    public static func of(bytes key: UnsafeRawBufferPointer) -> Int {
        var part = key
        if let open = key.firstIndex(of: UInt8(ascii: "{")),
           let close = key[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            part = UnsafeRawBufferPointer(rebasing: key[(open + 1)..<close])
        }
        return Int(crc16(part)) & (count - 1)
    }

    /// The hash tag of a key (`{orders}` gives `orders`), nil when it has none.
    public static func tag(of key: String) -> Substring? {
        guard let open = key.firstIndex(of: "{") else { return nil }
        let after = key[key.index(after: open)...]
        guard let close = after.firstIndex(of: "}"), close > after.startIndex else { return nil }
        return after[..<close]
    }

    static func crc16(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        var crc: UInt16 = 0
        for b in bytes { crc = (crc << 8) ^ table[Int(UInt8(truncatingIfNeeded: crc >> 8) ^ b)] }
        return crc
    }

    /// CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), one entry per byte value, applied as
    /// `crc = (crc << 8) ^ table[(crc >> 8) ^ byte]`.
    private static let table: [UInt16] = (0..<256).map { i in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = c & 0x8000 != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }
}

/// Where one connection of a sentinel or cluster configuration goes: the master the sentinels
/// name, or the cluster primary that owns `slot` (or the node an ASK reply named).
struct Route: Sendable, Equatable {
    /// The cluster slot whose owner to connect to; nil for any node.
    var slot: Int?
    /// After `ASK`: this node, with ASKING before every command, until a MOVED or a reconnect.
    var ask: HostPort?
    /// After `MOVED`: this node (the answer of the node that gave up the slot is newer than what
    /// another node's CLUSTER SLOTS may still say).
    var moved: HostPort?

    /// Redirects followed since the last successful reply.
    private(set) var redirects = 0

    init(slot: Int?) { self.slot = slot }

    /// Follows a redirect reply: MOVED and ASK to the node they name, the others (READONLY,
    /// CLUSTERDOWN, TRYAGAIN) by resolving the owner again. Returns true when the next connection
    /// should wait a backoff first: a cluster or a failover still settling (those three, or more
    /// than 3 redirects in a row); a plain MOVED or ASK is followed at once.
    mutating func follow(_ error: RedisError) -> Bool {
        ask = error.code == .ask ? error.redirectTarget : nil
        moved = error.code == .moved ? error.redirectTarget : nil
        redirects += 1
        return error.code == .clusterBusy || error.code == .readOnly || redirects > 3
    }

    /// A reply arrived: the redirect count starts again.
    mutating func succeeded() { redirects = 0 }

    /// After a lost connection: resolve the owner again.
    mutating func reset() {
        ask = nil
        moved = nil
    }
}

/// Finds the server a connection must go to at every (re)connection: so after a failover, a
/// resharding or a MOVED, the next connection goes to the new master or owner.
enum NodeResolver {
    /// Cluster nodes learned from CLUSTER SLOTS, per configuration (its seeds), tried after the
    /// seeds: a killed seed does not stop discovery while other nodes are known.
    private static let learned = Mutex<[[HostPort]: [HostPort]]>([:])

    static func open(_ config: RedisConfiguration, socketTimeout: Duration, clientName: String?,
                     route: Route) throws(RedisError) -> RedisConnection {
        switch config.topology {
        case .standalone:
            return try RedisConnection.open(config, socketTimeout: socketTimeout, clientName: clientName)
        case .sentinel(let master, let sentinels):
            let address = try masterAddress(config, master: master, sentinels: sentinels)
            let connection = try RedisConnection.open(node(config, address), socketTimeout: socketTimeout,
                                                      clientName: clientName)
            // A sentinel may still name the old master for a moment during a failover.
            var argv = Argv(capacity: 8)
            argv.append("ROLE")
            let role = try connection.command(argv, operation: "ROLE", stream: nil) { r in
                r.isArray && r.count > 0 && r[0].isString ? r[0].text : "?"
            }
            guard role == "master" else {
                throw RedisError(.connectionFailed, operation: "connect", message:
                    "\(address), which the sentinels name as master '\(master)', is a \(role): a failover is under way")
            }
            let watch = SentinelWatch.watch(config, master: master, sentinels: sentinels, address: address)
            connection.staleness = (watch, watch.generation)
            return connection
        case .cluster(let seeds):
            if let ask = route.ask {
                let c = try RedisConnection.open(node(config, ask), socketTimeout: socketTimeout, clientName: clientName)
                c.asking = true
                return c
            }
            if let moved = route.moved {
                return try RedisConnection.open(node(config, moved), socketTimeout: socketTimeout, clientName: clientName)
            }
            let owner = try slotOwner(config, slot: route.slot ?? 0, seeds: seeds)
            return try RedisConnection.open(node(config, owner), socketTimeout: socketTimeout, clientName: clientName)
        }
    }

    /// The configuration of one node of a sentinel or cluster setup (same TLS and credentials).
    static func node(_ config: RedisConfiguration, _ address: HostPort) -> RedisConfiguration {
        var c = config
        c.topology = .standalone
        c.endpoint = .tcp(host: address.host, port: address.port)
        return c
    }

    /// `SENTINEL get-master-addr-by-name`, asked of each sentinel in turn.
    static func masterAddress(_ config: RedisConfiguration, master: String,
                              sentinels: [HostPort]) throws(RedisError) -> HostPort {
        var problems: [String] = []
        for s in sentinels {
            do {
                let c = try RedisConnection.open(sentinelConfiguration(config, s), socketTimeout: config.commandTimeout,
                                                 clientName: nil)
                if let address = try askMaster(c, master) { return address }
                problems.append("\(s): does not know master '\(master)'")
            } catch where error.code == .authenticationFailed || error.code == .tlsFailed {
                throw RedisError(error.code, operation: "connect", message: "sentinel \(s): \(error.message)"
                    + (error.code == .authenticationFailed ? " (the sentinels' own password is redis.sentinel_password)" : ""))
            } catch {
                problems.append(error.message.hasPrefix("\(s)") ? error.message : "\(s): \(error.message)")
            }
        }
        throw RedisError(.connectionFailed, operation: "connect", message:
            "no sentinel named the master '\(master)': " + problems.joined(separator: "; "))
    }

    /// A sentinel's connection settings: the configuration's TLS, the sentinels' own password.
    static func sentinelConfiguration(_ config: RedisConfiguration, _ sentinel: HostPort) -> RedisConfiguration {
        var sc = node(config, sentinel)
        sc.username = nil
        sc.password = config.sentinelPassword
        sc.database = 0
        return sc
    }

    /// The master's address as the sentinel on `connection` knows it; nil when it does not.
    static func askMaster(_ connection: RedisConnection, _ master: String) throws(RedisError) -> HostPort? {
        var argv = Argv(capacity: 64)
        argv.append("SENTINEL"); argv.append("get-master-addr-by-name"); argv.append(master)
        return try connection.command(argv, operation: "SENTINEL get-master-addr-by-name", stream: nil) { r in
            guard r.isArray, r.count == 2, r[0].isString, let port = r[1].asInt, (1...65535).contains(port) else {
                return nil
            }
            return HostPort(host: r[0].text, port: port)
        }
    }

    /// The primary that owns `slot`, from CLUSTER SLOTS of the first seed (or learned node) that answers.
    static func slotOwner(_ config: RedisConfiguration, slot: Int, seeds: [HostPort]) throws(RedisError) -> HostPort {
        let known = learned.withLock { $0[seeds] ?? [] }
        var problems: [String] = []
        var tried = Set<HostPort>()
        for n in seeds + known where tried.insert(n).inserted {
            let map: ClusterSlots
            do {
                let c = try RedisConnection.open(node(config, n), socketTimeout: config.commandTimeout, clientName: nil)
                var argv = Argv(capacity: 16)
                argv.append("CLUSTER"); argv.append("SLOTS")
                map = try c.command(argv, operation: "CLUSTER SLOTS", stream: nil) { r throws(RedisError) in
                    try ClusterSlots(r, askedNode: n)
                }
            } catch where error.code == .authenticationFailed || error.code == .tlsFailed || error.code == .permissionDenied {
                throw error
            } catch {
                problems.append(error.message.hasPrefix("\(n)") ? error.message : "\(n): \(error.message)")
                continue
            }
            learned.withLock { $0[seeds] = Array(Set(map.nodes)).sorted { $0.description < $1.description } }
            if let owner = map.owner(of: slot) { return owner }
            problems.append("\(n): no node serves slot \(slot) (the cluster is incomplete or resharding)")
        }
        throw RedisError(.connectionFailed, operation: "connect", message:
            "no cluster node gave the owner of slot \(slot): " + problems.joined(separator: "; "))
    }
}

/// A CLUSTER SLOTS reply: slot ranges and their primaries.
struct ClusterSlots {
    var ranges: [(start: Int, end: Int, primary: HostPort)] = []
    var nodes: [HostPort] = []

    init(_ r: Reply, askedNode: HostPort) throws(RedisError) {
        func bad(_ why: String) -> RedisError {
            RedisError(.unexpectedReply, operation: "CLUSTER SLOTS", message: why)
        }
        guard r.isArray else { throw bad("not an array") }
        guard r.count <= HashSlot.count else { throw bad("more ranges than slots") }
        for i in 0..<r.count {
            let range = r[i]
            guard range.isArray, range.count >= 3, let start = range[0].asInt, let end = range[1].asInt,
                  0 <= start, start <= end, end < HashSlot.count else {
                throw bad("range \(i) is not [start, end, primary, …]")
            }
            for j in 2..<min(range.count, 64) {
                let n = range[j]
                guard n.isArray, n.count >= 2, n[0].isString, let port = n[1].asInt, (1...65535).contains(port) else {
                    throw bad("range \(i) node \(j - 2) is not [host, port, …]")
                }
                // An empty host (or "?") is the node that answered.
                let host = n[0].text.isEmpty || n[0].text == "?" ? askedNode.host : n[0].text
                let address = HostPort(host: host, port: port)
                nodes.append(address)
                if j == 2 { ranges.append((start, end, address)) }
            }
        }
    }

    func owner(of slot: Int) -> HostPort? {
        ranges.first { $0.start <= slot && slot <= $0.end }?.primary
    }
}

/// Notices a sentinel failover while connections to the old master are still open (the old
/// master keeps accepting reads and writes until the sentinels demote it, which can take
/// seconds): one thread per sentinel configuration asks a sentinel for the master's address
/// every `interval` on one kept connection and counts changes in ``generation``. A connection
/// opened at one generation is replaced before its next command once the generation moved.
/// The thread ends once nothing has asked for `idleAfter` (no consumer or client uses it).
final class SentinelWatch: @unchecked Sendable {  // fields under `lock`
    private static let all = Mutex<[String: SentinelWatch]>([:])
    static let interval: Duration = .milliseconds(500)
    static let idleAfter: Duration = .seconds(30)

    private let config: RedisConfiguration
    private let master: String
    private let sentinels: [HostPort]
    private let lock = NSCondition()
    private var address: HostPort?
    private var generationValue = 0
    private var lastUsed = ContinuousClock.now
    private var running = false

    private init(config: RedisConfiguration, master: String, sentinels: [HostPort]) {
        self.config = config
        self.master = master
        self.sentinels = sentinels
    }

    /// The watch of this configuration's master, started if needed, knowing `address` as the
    /// master just resolved.
    static func watch(_ config: RedisConfiguration, master: String, sentinels: [HostPort], address: HostPort) -> SentinelWatch {
        let key = "\(master)@\(sentinels.map(\.description).joined(separator: ","))"
        let w = all.withLock { a in
            if let w = a[key] { return w }
            let w = SentinelWatch(config: config, master: master, sentinels: sentinels)
            a[key] = w
            return w
        }
        w.lock.lock()
        w.lastUsed = .now
        if w.address != address {
            if w.address != nil { w.generationValue += 1 }
            w.address = address
        }
        let start = !w.running
        w.running = true
        w.lock.unlock()
        if start { BlockingThread.start(name: "redis-sentinel-watch") { w.run() } }
        return w
    }

    /// Changes of the master's address seen so far.
    var generation: Int {
        lock.lock()
        defer { lock.unlock() }
        lastUsed = .now
        return generationValue
    }

    private func run() {
        var connection: RedisConnection?
        var at = 0
        while true {
            lock.lock()
            _ = lock.wait(for: Self.interval) { false }
            if ContinuousClock.now - lastUsed > Self.idleAfter {
                running = false
                lock.unlock()
                return
            }
            lock.unlock()
            do {
                if connection == nil {
                    connection = try RedisConnection.open(NodeResolver.sentinelConfiguration(config, sentinels[at]),
                                                          socketTimeout: config.commandTimeout, clientName: nil)
                }
                let now = try NodeResolver.askMaster(connection!, master)
                if let now {
                    lock.lock()
                    if address != now {
                        address = now
                        generationValue += 1
                    }
                    lock.unlock()
                }
            } catch {
                connection = nil
                at = (at + 1) % sentinels.count
            }
        }
    }
}
