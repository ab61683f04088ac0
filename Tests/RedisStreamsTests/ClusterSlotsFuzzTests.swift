import CHiredis
@testable import RedisStreams
import Testing
import TestSupport

/// The parsers of cluster replies, from raw bytes: CLUSTER SLOTS through hiredis's reader into
/// ``ClusterSlots`` (generated maps give back their ranges and primaries; thousands of mutations
/// end in a map or an `unexpectedReply`, never a crash), and the `host:port` of MOVED/ASK replies.
@Suite struct ClusterSlotsFuzzTests {
    static func bulk(_ s: String) -> [UInt8] { Array("$\(s.utf8.count)\r\n\(s)\r\n".utf8) }
    static func int(_ n: Int) -> [UInt8] { Array(":\(n)\r\n".utf8) }
    static func array(_ n: Int) -> [UInt8] { Array("*\(n)\r\n".utf8) }

    /// `ranges` as CLUSTER SLOTS sends them: [start, end, [host, port, id], replicas…].
    static func encode(_ ranges: [(Int, Int, String, Int)]) -> [UInt8] {
        var out = array(ranges.count)
        for (lo, hi, host, port) in ranges {
            out += array(4) + int(lo) + int(hi)
            out += array(3) + bulk(host) + int(port) + bulk("id\(port)")
            out += array(3) + bulk(host) + int(port + 1) + bulk("replica\(port)")
        }
        return out
    }

    /// Parses `bytes` as one reply and hands it to ClusterSlots: the map, nil for an incomplete
    /// or malformed RESP reply, or the RedisError.
    static func slots(_ bytes: [UInt8]) -> Result<ClusterSlots, RedisError>? {
        guard let reader = redisReaderCreate() else { return nil }
        defer { redisReaderFree(reader) }
        let fed = bytes.withUnsafeBufferPointer { p in
            p.withMemoryRebound(to: CChar.self) { redisReaderFeed(reader, $0.baseAddress, $0.count) }
        }
        guard fed == REDIS_OK else { return nil }
        var raw: UnsafeMutableRawPointer?
        guard redisReaderGetReply(reader, &raw) == REDIS_OK, let raw else { return nil }
        defer { freeReplyObject(raw) }
        do {
            return .success(try ClusterSlots(Reply(raw.assumingMemoryBound(to: redisReply.self)),
                                             askedNode: HostPort(host: "10.0.0.9", port: 7000)))
        } catch {
            return .failure(error)
        }
    }

    @Test func generatedMapsParseAndMutationsNeverCrash() {
        var rng = SeededGenerator(seed: Fuzz.seed(0xC1_5107))
        var parsed = 0, refused = 0
        for _ in 0..<Fuzz.cases(300) {
            var ranges: [(Int, Int, String, Int)] = []
            var lo = 0
            while lo < 16384 {
                let hi = min(16383, lo + Int.random(in: 0...6000, using: &rng))
                ranges.append((lo, hi, Bool.random(using: &rng) ? "127.0.0.1" : "", Int.random(in: 1...60000, using: &rng)))
                lo = hi + 1
            }
            let bytes = Self.encode(ranges)
            guard case .success(let map)? = Self.slots(bytes) else {
                Issue.record("a generated map did not parse")
                continue
            }
            for _ in 0..<5 {
                let slot = Int.random(in: 0..<16384, using: &rng)
                let r = ranges.first { $0.0 <= slot && slot <= $0.1 }!
                #expect(map.owner(of: slot) == HostPort(host: r.2.isEmpty ? "10.0.0.9" : r.2, port: r.3))
            }
            for _ in 0..<20 {
                var m = bytes
                switch Int.random(in: 0..<4, using: &rng) {
                case 0: m[Int.random(in: 0..<m.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                case 1: m.removeLast(Int.random(in: 1...m.count, using: &rng))
                case 2: m.insert(contentsOf: Self.int(Int.random(in: -5...20000, using: &rng)), at: Int.random(in: 0...m.count, using: &rng))
                default:
                    // A digit of a count or length changed.
                    if let i = m.indices.filter({ (m[$0] == UInt8(ascii: "*") || m[$0] == UInt8(ascii: ":")) }).randomElement(using: &rng), i + 1 < m.count {
                        m[i + 1] = UInt8(ascii: "0") + UInt8.random(in: 0...9, using: &rng)
                    }
                }
                switch Self.slots(m) {
                case .success?: parsed += 1
                case .failure(let e)?:
                    refused += 1
                    #expect(e.code == .unexpectedReply && e.operation == "CLUSTER SLOTS")
                case nil: break
                }
            }
        }
        #expect(parsed > 0 && refused > 0)
    }

    @Test func redirectTargets() {
        let e = RedisError.fromServer("MOVED 3999 127.0.0.1:6381", operation: "XADD", stream: "s")
        #expect(e.code == .moved && e.redirectTarget == HostPort(host: "127.0.0.1", port: 6381) && e.isRedirect)
        let a = RedisError.fromServer("ASK 3999 [::1]:7002", operation: "XADD", stream: "s")
        #expect(a.code == .ask && a.redirectTarget == HostPort(host: "::1", port: 7002))
        #expect(RedisError.fromServer("TRYAGAIN Multiple keys request during rehashing of slot", operation: "x", stream: nil).code == .clusterBusy)
        #expect(RedisError.fromServer("CLUSTERDOWN The cluster is down", operation: "x", stream: nil).code == .clusterBusy)
        #expect(RedisError.fromServer("READONLY You can't write against a read only replica.", operation: "x", stream: nil).code == .readOnly)
        for bad in ["MOVED", "MOVED 1", "MOVED 1 host", "MOVED 1 host:0", "MOVED 1 host:99999", "MOVED 1 :x"] {
            #expect(RedisError.fromServer(bad, operation: "x", stream: nil).redirectTarget == nil, "\(bad)")
        }
        var rng = SeededGenerator(seed: Fuzz.seed(0x40_7ED))
        for _ in 0..<Fuzz.cases(2000) {
            let text = String((0..<Int.random(in: 0...30, using: &rng)).map { _ in "MOVEDASK 0123456789:[].abc".randomElement(using: &rng)! })
            if let t = RedisError.fromServer(text, operation: "x", stream: nil).redirectTarget {
                #expect((1...65535).contains(t.port))
            }
        }
    }
}
