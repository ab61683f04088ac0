import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `redis-cli` against one loopback port; the reply as text (`--no-raw` off: one value per line).
/// `tls` (`--tls --cacert …`) for a TLS port.
@discardableResult
public func redisCLI(_ port: Int, _ arguments: [String], check: Bool = true, tls: [String] = []) throws -> String {
    let r = try ProcessRunner.run(TestEnvironment.redisCLIBinary, ["-h", "127.0.0.1", "-p", "\(port)"] + tls + arguments,
                                  check: check)
    return r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines)
}

extension TestEnvironment {
    public static var redisCLIBinary: String {
        value("LAKEWRITER_REDIS_CLI") ?? URL(fileURLWithPath: redisServerBinary).deletingLastPathComponent()
            .appendingPathComponent("redis-cli").path
    }
}

/// A local Redis Cluster: `primaries` primaries with one replica each, made with
/// `redis-cli --cluster create` on loopback ports (each port + 10000 free for the cluster bus),
/// a short node timeout so a killed primary's replica takes over within seconds, and every write
/// fsynced (`appendfsync always`).
public final class RedisClusterProcess: @unchecked Sendable {  // used from one test task at a time
    public let nodes: [RedisServerProcess]

    public init(primaries: Int = 3) throws {
        var nodes: [RedisServerProcess] = []
        for _ in 0..<(primaries * 2) {
            let port = try Self.clusterPort(avoiding: nodes.map(\.port))
            nodes.append(try RedisServerProcess(["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                                                 "--cluster-node-timeout", "1500", "--appendonly", "yes",
                                                 "--appendfsync", "always", "--cluster-replica-validity-factor", "0"],
                                                port: port))
        }
        self.nodes = nodes
        try ProcessRunner.run(TestEnvironment.redisCLIBinary,
                              ["--cluster", "create"] + nodes.map { "127.0.0.1:\($0.port)" }
                                + ["--cluster-replicas", "1", "--cluster-yes"])
        try waitUntilHealthy()
    }

    /// `redis+cluster://` with the first two nodes as seeds.
    public var url: String { "redis+cluster://127.0.0.1:\(nodes[0].port),127.0.0.1:\(nodes[1].port)" }

    /// Ports of the nodes running now.
    public var livePorts: [Int] { nodes.filter(\.isRunning).map(\.port) }

    /// Waits until every running node says `cluster_state:ok` and all slots are served.
    public func waitUntilHealthy(timeout: Duration = .seconds(30)) throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let ok = livePorts.allSatisfy { p in
                let info = (try? redisCLI(p, ["CLUSTER", "INFO"], check: false)) ?? ""
                return info.contains("cluster_state:ok") && info.contains("cluster_slots_ok:16384")
            }
            if ok { return }
            usleep(100_000)
        }
        throw ProcessRunner.Failure(command: "wait for cluster_state:ok",
                                    result: ProcessResult(status: 1, stdout: Data(), stderr: "cluster never became healthy"))
    }

    /// `CLUSTER NODES` of a running node, as (id, port, flags, slots).
    public func clusterNodes() throws -> [(id: String, port: Int, flags: String, slots: [ClosedRange<Int>])] {
        let text = try redisCLI(livePorts[0], ["CLUSTER", "NODES"])
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: " ")
            guard f.count >= 8, let colon = f[1].firstIndex(of: ":"),
                  let port = Int(f[1][f[1].index(after: colon)...].prefix { $0.isNumber }) else { return nil }
            let slots: [ClosedRange<Int>] = f.dropFirst(8).compactMap { s in
                if s.hasPrefix("[") { return nil }  // a slot in migration
                let ends = s.split(separator: "-").compactMap { Int($0) }
                return ends.count == 2 ? ends[0]...ends[1] : ends.count == 1 ? ends[0]...ends[0] : nil
            }
            return (String(f[0]), port, String(f[2]), slots)
        }
    }

    /// The port of the primary that serves `slot` now.
    public func primary(ofSlot slot: Int) throws -> Int? {
        try clusterNodes().first { $0.flags.contains("master") && !$0.flags.contains("fail") && $0.slots.contains { $0.contains(slot) } }?.port
    }

    public func node(port: Int) -> RedisServerProcess? { nodes.first { $0.port == port } }

    /// Moves `slot` (and its keys) from its primary to the primary on `to`, the way
    /// `redis-cli --cluster reshard` does: IMPORTING, MIGRATING, MIGRATE of each key, SETSLOT NODE.
    /// `betweenKeys` runs after each migrated key (the slot is half moved then: ASK replies).
    public func migrate(slot: Int, to: Int, betweenKeys: () throws -> Void = {}) throws {
        let all = try clusterNodes()
        guard let from = try primary(ofSlot: slot), let fromID = all.first(where: { $0.port == from })?.id,
              let toID = all.first(where: { $0.port == to })?.id, from != to else {
            throw ProcessRunner.Failure(command: "migrate", result: ProcessResult(status: 1, stdout: Data(), stderr: "bad slot or target"))
        }
        try redisCLI(to, ["CLUSTER", "SETSLOT", "\(slot)", "IMPORTING", fromID])
        try redisCLI(from, ["CLUSTER", "SETSLOT", "\(slot)", "MIGRATING", toID])
        while true {
            let keys = try redisCLI(from, ["CLUSTER", "GETKEYSINSLOT", "\(slot)", "10"])
                .split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            if keys.isEmpty { break }
            for k in keys {
                try redisCLI(from, ["MIGRATE", "127.0.0.1", "\(to)", "", "0", "10000", "KEYS", k])
                try betweenKeys()
            }
        }
        for p in livePorts where node(port: p) != nil {
            _ = try? redisCLI(p, ["CLUSTER", "SETSLOT", "\(slot)", "NODE", toID], check: false)
        }
    }

    /// A free port whose cluster-bus port (port + 10000) is free too.
    static func clusterPort(avoiding used: [Int]) throws -> Int {
        for _ in 0..<200 {
            let p = try RedisServerProcess.freePort()
            if p <= 55_000, !used.contains(p), !used.contains(p + 10_000), !RedisServerProcess.canConnect(port: p + 10_000) {
                return p
            }
        }
        throw POSIXError(.EADDRINUSE)
    }
}

/// A primary, a replica and one redis-sentinel monitoring them as `mymaster` (quorum 1, down
/// after 30 s, so a loaded machine never starts a failover of its own: the tests start theirs
/// with `SENTINEL FAILOVER`), every write fsynced on both. With `tls`, all three listen on TLS only (replication
/// and the sentinel's own connections too).
public final class RedisSentinelSetup: @unchecked Sendable {  // used from one test task at a time
    public let primary: RedisServerProcess
    public let replica: RedisServerProcess
    public let sentinelPort: Int
    public let directory: URL
    /// redis-cli's TLS options for these servers (empty without TLS).
    public let cliTLS: [String]
    private var sentinel: Process?

    public init(masterName: String = "mymaster", sentinelPassword: String? = nil, tls: TLSCertificates? = nil) throws {
        let tlsArgs = tls.map { ["--port", "0", "--tls-port", "PORT", "--tls-cert-file", $0.crt("server"),
                                 "--tls-key-file", $0.key("server"), "--tls-ca-cert-file", $0.ca,
                                 "--tls-auth-clients", "no", "--tls-replication", "yes"] } ?? []
        cliTLS = tls.map { ["--tls", "--cacert", $0.ca] } ?? []
        primary = try RedisServerProcess(["--appendonly", "yes", "--appendfsync", "always"] + tlsArgs)
        replica = try RedisServerProcess(["--appendonly", "yes", "--appendfsync", "always",
                                          "--replicaof", "127.0.0.1", "\(primary.port)"] + tlsArgs)
        sentinelPort = try RedisServerProcess.freePort()
        directory = try TestEnvironment.temporaryDirectory("sentinel")
        var conf = tls.map { """
            port 0
            tls-port \(sentinelPort)
            tls-cert-file \($0.crt("server"))
            tls-key-file \($0.key("server"))
            tls-ca-cert-file \($0.ca)
            tls-auth-clients no
            tls-replication yes

            """ } ?? "port \(sentinelPort)\n"
        conf += """
            bind 127.0.0.1
            dir \(directory.path)
            logfile \(directory.appendingPathComponent("log").path)
            sentinel monitor \(masterName) 127.0.0.1 \(primary.port) 1
            sentinel down-after-milliseconds \(masterName) 30000
            sentinel failover-timeout \(masterName) 10000
            sentinel parallel-syncs \(masterName) 1

            """
        if let sentinelPassword { conf += "requirepass \(sentinelPassword)\n" }
        let path = directory.appendingPathComponent("sentinel.conf")
        try conf.write(to: path, atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: TestEnvironment.redisServerBinary)
        p.arguments = [path.path, "--sentinel"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        sentinel = p
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline && !RedisServerProcess.canConnect(port: sentinelPort) { usleep(20_000) }
        // The replica is in sync and the sentinel has found it.
        let synced = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < synced {
            let info = (try? redisCLI(replica.port, ["INFO", "replication"], check: false, tls: cliTLS)) ?? ""
            let auth = sentinelPassword.map { ["-a", $0, "--no-auth-warning"] } ?? []
            let replicas = (try? redisCLI(sentinelPort, auth + ["SENTINEL", "REPLICAS", masterName], check: false, tls: cliTLS)) ?? ""
            if info.contains("master_link_status:up") && replicas.contains("\(replica.port)") { return }
            usleep(100_000)
        }
    }

    /// The port the sentinel names as master now.
    public func masterPort(_ name: String = "mymaster", password: String? = nil) throws -> Int? {
        let auth = password.map { ["-a", $0, "--no-auth-warning"] } ?? []
        let r = try redisCLI(sentinelPort, auth + ["SENTINEL", "GET-MASTER-ADDR-BY-NAME", name], tls: cliTLS)
        return r.split(separator: "\n").last.flatMap { Int($0) }
    }

    deinit {
        if let p = sentinel {
            Glibc.kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }
}
