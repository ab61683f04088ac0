import Foundation
import RedisStreams
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Sentinel and cluster URLs, and hash slots against published values.
@Suite struct TopologyURLTests {
    @Test func sentinelAndClusterURLs() throws {
        let s = try RedisConfiguration(url: "redis+sentinel://u:p%40ss@10.0.0.1:26379,10.0.0.2,[::1]:26380/mymaster/2")
        #expect(s.topology == .sentinel(master: "mymaster", sentinels: [
            HostPort(host: "10.0.0.1", port: 26379), HostPort(host: "10.0.0.2", port: 26379), HostPort(host: "::1", port: 26380),
        ]))
        #expect(s.username == "u" && s.password == "p@ss" && s.database == 2 && s.tls == nil)
        #expect(s.description == "redis+sentinel://u:***@10.0.0.1:26379,10.0.0.2:26379,[::1]:26380/mymaster/2")
        let st = try RedisConfiguration(url: "rediss+sentinel://h/m")
        #expect(st.tls != nil && st.database == 0 && st.topology == .sentinel(master: "m", sentinels: [HostPort(host: "h", port: 26379)]))
        let c = try RedisConfiguration(url: "rediss+cluster://:pw@a:7000,b:7001")
        #expect(c.topology == .cluster(seeds: [HostPort(host: "a", port: 7000), HostPort(host: "b", port: 7001)]))
        #expect(c.isCluster && c.tls != nil && c.password == "pw")
        #expect(c.description == "rediss+cluster://:***@a:7000,b:7001")
        #expect(!"\(c)".contains("pw"))
        for bad in ["redis+sentinel://h:26379", "redis+sentinel://h:26379/", "redis+cluster://a:7000/3",
                    "redis+cluster://a:7000,,b", "redis+other://h", "unix+cluster:///s", "redis+sentinel://h/m/x/y"] {
            #expect(throws: RedisError.self, "\(bad)") { try RedisConfiguration(url: bad) }
        }
    }

    /// Random URLs made of URL parts never crash the parser; a URL that parses keeps the password
    /// out of its description, names at most 64 nodes, and its description parses back to the
    /// same place.
    @Test func urlFuzz() {
        var rng = SeededGenerator(seed: Fuzz.seed(0x5E47_1E1))
        let schemes = ["redis://", "rediss://", "redis+sentinel://", "rediss+cluster://", "redis+cluster://", "unix://", "x+y://", ""]
        let parts = ["h", "10.0.0.1", "[::1]", ":", ":26379", ":0", ":99999", "@", "u", ":pw-s3cret@", "/", "/m", "/0", "/7",
                     ",", ",h2:7001", "%", "%41", "?db=1", "{", "}", "+", " "]
        let many = "redis+cluster://" + (0..<65).map { "h\($0):7000" }.joined(separator: ",")
        #expect(throws: RedisError.self) { try RedisConfiguration(url: many) }
        for _ in 0..<Fuzz.cases(3000) {
            let url = schemes.randomElement(using: &rng)! + (0..<Int.random(in: 0...8, using: &rng)).map { _ in parts.randomElement(using: &rng)! }.joined()
            // A plain `/path` is a socket path taken verbatim (no credentials, no query in it).
            guard let c = try? RedisConfiguration(url: url), url.contains("://") else { continue }
            #expect(!c.description.contains("pw-s3cret"), "\(url)")
            switch c.topology {
            case .sentinel(_, let nodes), .cluster(let nodes): #expect((1...64).contains(nodes.count), "\(url)")
            case .standalone: break
            }
            if let again = try? RedisConfiguration(url: c.description) {
                #expect(again.topology == c.topology && again.endpoint == c.endpoint && again.database == c.database, "\(url)")
            } else if c.password == nil {
                Issue.record("the description of \(url) does not parse: \(c.description)")
            }
        }
    }

    @Test func hashSlotsAndTags() {
        // CRC16/XMODEM check value, and the examples of the cluster specification.
        let digits = Array("123456789".utf8)
        #expect(digits.withUnsafeBytes { HashSlot.of(bytes: $0) } == 0x31C3 & 16383)
        #expect(HashSlot.of("foo") == 12182)
        #expect(HashSlot.of("somekey") == 11058)
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("{user1000}.followers"))
        #expect(HashSlot.of("{user1000}.following") == HashSlot.of("user1000"))
        #expect(HashSlot.of("foo{}{bar}") != HashSlot.of("bar"))  // an empty tag hashes the whole key
        #expect(HashSlot.of("foo{{bar}}zap") == HashSlot.of("{bar"))
        #expect(HashSlot.of("foo{bar}{zap}") == HashSlot.of("bar"))
        #expect(HashSlot.tag(of: "{orders}:dlq") == "orders")
        #expect(HashSlot.tag(of: "orders") == nil)
    }
}

/// Streams of one consumer group on a local three-primary Redis Cluster (with replicas): every
/// entry read once from the primary that owns its stream's slot, through a resharding of a
/// stream's slot mid-run (MOVED and ASK) and a killed primary (its replica takes over).
@Suite(.serialized, .enabled(if: redisBinaryAvailable)) struct ClusterTests {
    /// Stream names with hash tags, one per primary, plus a second stream in the first one's slot.
    static func streamsOnEachShard(_ cluster: RedisClusterProcess) throws -> [String] {
        var byPrimary: [Int: String] = [:]
        let base = unique("c")
        for i in 0..<200 where byPrimary.count < 3 {
            let name = "{\(base)-\(i)}"
            if let p = try cluster.primary(ofSlot: HashSlot.of(name)), byPrimary[p] == nil { byPrimary[p] = name }
        }
        let names = byPrimary.values.sorted()
        return names + [names[0] + ":more"]
    }

    /// Adds `range` to `stream` (entries `i`, retried until accepted: a failed XADD is not retried
    /// by the client, as it may have happened).
    static func produce(_ client: RedisStreamClient, _ stream: String, _ range: Range<Int>) async {
        for i in range {
            while true {
                do {
                    _ = try await client.add(stream: stream, fields: [StreamField("i", "\(i)")])
                    break
                } catch {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    /// Lost entries (never read) and duplicates (read more than once) per stream.
    static func tally(_ entries: [ReceivedEntry], _ expected: [String: Range<Int>]) -> (lost: Int, duplicates: Int) {
        var lost = 0, duplicates = 0
        for (stream, range) in expected {
            var seen: [Int: Int] = [:]
            for e in entries where e.stream == stream { seen[Int(e.fields["i"] ?? "") ?? -1, default: 0] += 1 }
            lost += range.filter { seen[$0] == nil }.count
            duplicates += seen.values.reduce(0) { $0 + max(0, $1 - 1) }
        }
        return (lost, duplicates)
    }

    /// A consumer of `streams` in group `g` (short block and backoff), drained by a collector
    /// that acknowledges with `client`.
    static func reading(_ config: RedisConfiguration, _ streams: [String], ackWith client: RedisStreamClient) async
        -> (StreamConsumer, Collector) {
        var cc = StreamConsumer.Configuration(streams: streams, group: "g", consumer: "c")
        cc.block = .milliseconds(200)
        cc.count = 100
        cc.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))
        let consumer = StreamConsumer(redis: config, configuration: cc, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: client, group: "g")
        return (consumer, collector)
    }

    @Test func streamsOnThreeShardsAreReadOnceEach() async throws {
        let cluster = try RedisClusterProcess()
        let config = try RedisConfiguration(url: cluster.url)
        let streams = try Self.streamsOnEachShard(cluster)
        #expect(Set(try streams.map { try cluster.primary(ofSlot: HashSlot.of($0)) }).count == 3)
        // Our slots are the server's.
        var g = SeededGenerator(seed: 7)
        for key in streams + (0..<50).map({ _ in String((0..<Int.random(in: 1...20, using: &g)).map { _ in "ab{}c:x".randomElement(using: &g)! }) }) {
            #expect(HashSlot.of(key) == Int(try redisCLI(cluster.nodes[0].port, ["CLUSTER", "KEYSLOT", key])), "\(key)")
        }
        let client = RedisStreamClient(configuration: config, logger: testLogger)
        defer { client.close() }
        for s in streams { await Self.produce(client, s, 0..<150) }
        // Each stream lives on the primary that owns its slot.
        for s in streams {
            let owner = try #require(try cluster.primary(ofSlot: HashSlot.of(s)))
            #expect(try redisCLI(owner, ["XLEN", s]) == "150")
        }
        let (consumer, collector) = await Self.reading(config, streams, ackWith: client)
        #expect(await eventually(timeout: .seconds(30)) { await collector.entries.count >= 600 })
        let t = Self.tally(await collector.entries, Dictionary(uniqueKeysWithValues: streams.map { ($0, 0..<150) }))
        #expect(t.lost == 0 && t.duplicates == 0, "\(t)")
        for s in streams {
            #expect(await eventually { (try? await client.pending(stream: s, group: "g").count) == 0 }, "\(s)")
        }
        // Dead letters and generic commands go to the stream's slot owner.
        _ = try await client.add(stream: streams[1] + ":dlq", fields: [StreamField("error", "x")])
        #expect(try await client.command(["XLEN", streams[1] + ":dlq"]).int == 1)
        #expect(try await client.command(["PING"]).text == "PONG")
        #expect(consumer.status.isReady)
        // XAUTOCLAIM on the stream's shard takes over what a dead consumer left pending there.
        consumer.stop()
        await collector.wait()
        await Self.produce(client, streams[2], 150..<160)
        let stolen = try await client.command(["XREADGROUP", "GROUP", "g", "dead", "COUNT", "100", "STREAMS", streams[2], ">"])
        #expect(stolen.array?.first?.array?[1].array?.count == 10)
        let claimed = try await client.autoclaim(stream: streams[2], group: "g", consumer: "c2", minIdle: .zero)
        #expect(claimed.batch.count == 10)
        #expect(try await client.ack(claimed.batch, group: "g") == 10)
        #expect(consumer.status.lastError == nil)
    }

    @Test func reshardingAStreamsSlotMidRunLosesAndRepeatsNothing() async throws {
        let cluster = try RedisClusterProcess()
        let config = try RedisConfiguration(url: cluster.url)
        let streams = try Self.streamsOnEachShard(cluster)
        let moving = [streams[0], streams[3]]  // two keys of one slot: half moved, ASK replies
        let slot = HashSlot.of(moving[0])
        let from = try #require(try cluster.primary(ofSlot: slot))
        let to = try #require(try cluster.primary(ofSlot: HashSlot.of(streams[1])))
        let client = RedisStreamClient(configuration: config, logger: testLogger)
        defer { client.close() }
        for s in moving { await Self.produce(client, s, 0..<100) }
        let (consumer, collector) = await Self.reading(config, moving, ackWith: client)
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count >= 200 })
        // The producer keeps writing while the slot moves, key by key.
        let producer = Task { for s in moving { await Self.produce(client, s, 100..<400) } }
        try await Task.sleep(for: .milliseconds(100))
        try cluster.migrate(slot: slot, to: to) { usleep(300_000) }
        await producer.value
        #expect(try cluster.primary(ofSlot: slot) == to && from != to)
        #expect(try redisCLI(to, ["XLEN", moving[0]]) == "400")
        #expect(await eventually(timeout: .seconds(30)) { await collector.entries.count >= 800 })
        let t = Self.tally(await collector.entries, [moving[0]: 0..<400, moving[1]: 0..<400])
        #expect(t.lost == 0 && t.duplicates == 0, "\(t)")
        for s in moving {
            #expect(await eventually { (try? await client.pending(stream: s, group: "g").count) == 0 }, "\(s)")
        }
        #expect(consumer.status.reconnects >= 1)
        consumer.stop()
        await collector.wait()
    }

    @Test func aKilledPrimaryIsReplacedByItsReplicaAndNothingIsLost() async throws {
        let cluster = try RedisClusterProcess()
        let config = try RedisConfiguration(url: cluster.url)
        let streams = Array(try Self.streamsOnEachShard(cluster).prefix(3))
        let victimStream = streams[2]
        let victim = try #require(try cluster.primary(ofSlot: HashSlot.of(victimStream)))
        let client = RedisStreamClient(configuration: config, logger: testLogger)
        defer { client.close() }
        for s in streams { await Self.produce(client, s, 0..<100) }
        let (consumer, collector) = await Self.reading(config, streams, ackWith: client)
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count >= 300 })
        // Written and replicated (the replica's offset caught up), then the primary dies.
        try await Self.waitForReplicas(of: victim, cluster)
        cluster.node(port: victim)?.kill()
        let producer = Task { for s in streams { await Self.produce(client, s, 100..<250) } }
        await producer.value
        #expect(await eventually(timeout: .seconds(60)) { await collector.entries.count >= 750 })
        let t = Self.tally(await collector.entries, Dictionary(uniqueKeysWithValues: streams.map { ($0, 0..<250) }))
        #expect(t.lost == 0, "\(t)")
        // Acknowledgements the dead primary had not replicated come back as duplicates, never as loss.
        print("cluster failover: lost \(t.lost), duplicates \(t.duplicates)")
        let newOwner = try #require(try cluster.primary(ofSlot: HashSlot.of(victimStream)))
        #expect(newOwner != victim)
        #expect(consumer.status.reconnects >= 1)
        consumer.stop()
        await collector.wait()
    }

    /// Until every replica of the primary on `port` has its replication offset.
    static func waitForReplicas(of port: Int, _ cluster: RedisClusterProcess) async throws {
        for _ in 0..<100 {
            let info = try redisCLI(port, ["INFO", "replication"])
            let offset = info.split(whereSeparator: \.isNewline).first { $0.hasPrefix("master_repl_offset:") }
                .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? -1
            let replicas = info.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("slave") && $0.contains("offset=") }
            if !replicas.isEmpty, replicas.allSatisfy({ $0.contains("offset=\(offset),") }) { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the replicas of \(port) never caught up")
    }
}

/// A master found through redis-sentinel: reads and acknowledgements go on through a
/// `SENTINEL FAILOVER` mid-stream (the new master is found again), nothing is lost; clear errors
/// for an unknown master and the sentinels' own password.
@Suite(.serialized, .enabled(if: redisBinaryAvailable)) struct SentinelTests {
    @Test func aFailoverMidStreamLosesNothing() async throws {
        let setup = try RedisSentinelSetup()
        let config = try RedisConfiguration(url: "redis+sentinel://127.0.0.1:\(setup.sentinelPort)/mymaster/0")
        let client = RedisStreamClient(configuration: config, maxAttempts: 10,
                                       backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(500)),
                                       logger: testLogger)
        defer { client.close() }
        #expect(try await client.command(["ROLE"]).array?.first?.text == "master")
        await ClusterTests.produce(client, "s", 0..<200)
        var cc = StreamConsumer.Configuration(streams: ["s"], group: "g", consumer: "c")
        cc.block = .milliseconds(200)
        cc.backoff = Backoff(initial: .milliseconds(50), maximum: .milliseconds(500))
        let consumer = StreamConsumer(redis: config, configuration: cc, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: client, group: "g")
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count >= 200 })
        let producer = Task { await Self.produceReplicated(client, "s", 200..<600) }
        try await Task.sleep(for: .milliseconds(200))
        try await Self.failover(setup)
        await producer.value
        #expect(await eventually(timeout: .seconds(60)) { (try? setup.masterPort()) == setup.replica.port },
                "the sentinel never named the replica \(setup.replica.port) master: \(String(describing: try? setup.masterPort()))")
        // What the new master holds is what must be read. An entry the old master took after the
        // promotion is lost by Redis itself; the producer sends each again until WAIT confirms a
        // replica has it, but a WAIT on the command connection's new connection (to the new
        // master) confirms nothing about an XADD the old one made, so a value can be missing
        // from the stream without the consumer having lost anything.
        let held = try Self.entries(onPort: setup.replica.port, "s")
        #expect(Set(held.values).count >= 590, "the stream kept \(Set(held.values).count) of 600 values")
        let readAll = await eventually(timeout: .seconds(90)) {
            let read = Set(await collector.entries.map(\.id.description))
            return held.keys.allSatisfy(read.contains)
        }
        let entries = await collector.entries
        let read = Set(entries.map(\.id.description))
        let missing = held.filter { !read.contains($0.key) }.sorted { $0.key < $1.key }
        #expect(readAll && missing.isEmpty, "held by the master, never read: \(missing.prefix(10))")
        let t = ClusterTests.tally(entries, ["s": 0..<600])
        let notHeld = (0..<600).filter { !Set(held.values).contains(String($0)) }
        if !notHeld.isEmpty { print("sentinel failover: values the stream lost in the failover (Redis): \(notHeld)") }
        #expect(t.lost == notHeld.filter { v in !entries.contains { $0.fields["i"] == String(v) } }.count, "\(t)")
        print("sentinel failover: lost \(t.lost), duplicates \(t.duplicates)")
        #expect(consumer.status.reconnects >= 1, "\(consumer.status)")
        // The command connection follows too: writes go to the new master.
        #expect(await eventually(timeout: .seconds(30)) {
            (try? await client.command(["ROLE"], retryable: true).array?.first?.text) == "master"
        }, "the command connection is not on a master")
        _ = try await client.add(stream: "s", fields: [StreamField("i", "600")])
        #expect(Int(try redisCLI(setup.replica.port, ["XLEN", "s"])) ?? 0 >= 601)
        consumer.stop()
        await collector.wait()
    }

    /// The entries of `stream` on the server at `port` (`XRANGE - +`), id → the `i` field.
    static func entries(onPort port: Int, _ stream: String) throws -> [String: String] {
        let lines = try redisCLI(port, ["XRANGE", stream, "-", "+"]).split(separator: "\n").map(String.init)
        var out: [String: String] = [:]
        var k = 0
        while k + 2 < lines.count {
            guard lines[k + 1] == "i" else { break }
            out[lines[k]] = lines[k + 2]
            k += 3
        }
        return out
    }

    /// `SENTINEL FAILOVER`, again while the sentinel answers that no replica is fit yet (on a
    /// loaded machine it may have marked the replica down for a moment); a failover the
    /// sentinel started itself (`INPROG`) is as good. redis-cli exits 0 on an error reply, so
    /// the reply is checked.
    static func failover(_ setup: RedisSentinelSetup) async throws {
        var reply = ""
        for _ in 0..<100 {
            reply = try redisCLI(setup.sentinelPort, ["SENTINEL", "FAILOVER", "mymaster"])
            if reply == "OK" || reply.hasPrefix("INPROG") { return }
            try await Task.sleep(for: .milliseconds(200))
        }
        Issue.record("SENTINEL FAILOVER kept answering \(reply)")
    }

    /// Adds `range`, each entry again until `WAIT 1` confirms a replica has it (the old master
    /// accepts writes for a moment after the promotion, and loses them when it is demoted).
    static func produceReplicated(_ client: RedisStreamClient, _ stream: String, _ range: Range<Int>) async {
        for i in range {
            while true {
                do {
                    _ = try await client.add(stream: stream, fields: [StreamField("i", "\(i)")])
                    if try await client.command(["WAIT", "1", "500"]).int ?? 0 >= 1 { break }
                } catch {
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
        }
    }

    @Test func sentinelsAndMasterOverTLS() async throws {
        let certs = try TLSCertificates()
        let setup = try RedisSentinelSetup(tls: certs)
        var config = try RedisConfiguration(url: "rediss+sentinel://127.0.0.1:\(setup.sentinelPort)/mymaster/0")
        config.tls?.caFile = certs.ca
        let client = RedisStreamClient(configuration: config, maxAttempts: 1, logger: testLogger)
        defer { client.close() }
        #expect(try await client.command(["ROLE"]).array?.first?.text == "master")
        await ClusterTests.produce(client, "t", 0..<50)
        var cc = StreamConsumer.Configuration(streams: ["t"], group: "g", consumer: "c")
        cc.block = .milliseconds(200)
        let consumer = StreamConsumer(redis: config, configuration: cc, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: client, group: "g")
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count >= 50 })
        #expect(ClusterTests.tally(await collector.entries, ["t": 0..<50]) == (0, 0))
        #expect(await eventually { (try? await client.pending(stream: "t", group: "g").count) == 0 })
        // The sentinels verify like the master: without the CA, the first handshake fails.
        var untrusted = config
        untrusted.tls?.caFile = nil
        await TLSTests.expectFailure(untrusted, code: .tlsFailed, ["certificate verification failed"])
        consumer.stop()
        await collector.wait()
    }

    @Test func unknownMastersAndSentinelPasswordsAreClearErrors() async throws {
        let setup = try RedisSentinelSetup(sentinelPassword: "sentinel-s3cret")
        let unknown = try RedisConfiguration(url: "redis+sentinel://127.0.0.1:\(setup.sentinelPort)/nope/0")
        var withPassword = unknown
        withPassword.sentinelPassword = "sentinel-s3cret"
        await TLSTests.expectFailure(withPassword, code: .connectionFailed, ["no sentinel named the master 'nope'", "\(setup.sentinelPort)"])
        await TLSTests.expectFailure(unknown, code: .authenticationFailed, ["sentinel 127.0.0.1:\(setup.sentinelPort)", "redis.sentinel_password"])
        var good = try RedisConfiguration(url: "redis+sentinel://127.0.0.1:\(setup.sentinelPort)/mymaster/0")
        good.sentinelPassword = "sentinel-s3cret"
        let client = RedisStreamClient(configuration: good, maxAttempts: 1, logger: testLogger)
        defer { client.close() }
        #expect(try await client.command(["PING"]).text == "PONG")
        let nobody = try RedisConfiguration(url: "redis+sentinel://127.0.0.1:\(try RedisServerProcess.freePort())/mymaster/0")
        await TLSTests.expectFailure(nobody, code: .connectionFailed, ["no sentinel named the master 'mymaster'"])
    }
}

@Suite struct CommandKeyTests {
    @Test func theKeyOfAGenericCommand() {
        #expect(RedisStreamClient.key(of: ["XLEN", "{o}"]) == "{o}")
        #expect(RedisStreamClient.key(of: ["xinfo", "GROUPS", "{o}"]) == "{o}")
        #expect(RedisStreamClient.key(of: ["EVAL", "return 1", "1", "k", "a"]) == "k")
        #expect(RedisStreamClient.key(of: ["EVAL", "return 1", "0"]) == nil)
        #expect(RedisStreamClient.key(of: ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "{o}", ">"]) == "{o}")
        #expect(RedisStreamClient.key(of: ["XREAD", "STREAMS"]) == nil)
        #expect(RedisStreamClient.key(of: ["PING"]) == nil)
        #expect(RedisStreamClient.key(of: ["INFO", "server"]) == nil)
        #expect(RedisStreamClient.key(of: []) == nil)
    }
}
