@testable import LakeTools
import Foundation
import Logging
import RedisStreams
import Testing
import TestSupport

/// `lakewriter dlq stats` and `dlq replay` against a real redis-server: counts per entity and
/// reason, replay of the original fields (binary included) to the source stream, removal of
/// exactly what was re-added, `--dry-run` changing nothing, and concurrent replays adding each
/// dead letter once.
@Suite(.serialized) struct DeadLetterCommandTests {
    struct Setup {
        var client: RedisStreamClient
        var config: String
        var stream: String
        var dlq: String
        /// Dead-letter ids by label.
        var ids: [String: StreamID]
    }

    func setUp() async throws -> Setup {
        guard let url = TestEnvironment.redisURL else { throw MissingRedis() }
        let id = String(UUID().uuidString.prefix(8)).lowercased()
        let (stream, dlq) = ("ev-\(id)", "ev-\(id):dlq")
        let dir = try TestEnvironment.temporaryDirectory("dlqcmd").path
        let config = dir + "/c.yaml"
        try """
            redis: {url: "\(url)"}
            entities:
              ev:
                stream: \(stream)
                route: ev
                columns: {n: int64 not null}
              other:
                stream: \(stream)
                route: other
                columns: {n: int64 not null}
            """.write(toFile: config, atomically: true, encoding: .utf8)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: url), logger: Logger(label: "test"))
        func letter(_ own: [StreamField], error: String, reason: String?, entity: String, source: String = stream) async throws -> StreamID {
            var f = own + [StreamField("error", error)]
            if let reason { f.append(StreamField("reason", reason)) }
            f += [StreamField("entity", entity), StreamField("source_id", "1-\(own.count)"), StreamField("source_stream", source)]
            return try await client.add(stream: dlq, fields: f)
        }
        var ids: [String: StreamID] = [:]
        // The route field is also called `entity`: the original one comes first, lakewriter's last.
        ids["ev1"] = try await letter([StreamField("entity", "ev"), StreamField("n", "x1")], error: "bad n", reason: "decode", entity: "ev")
        ids["ev2"] = try await letter([StreamField("entity", "ev"), StreamField(Array("n".utf8), [0xff, 0x00, 0x41])],
                                      error: "bad n", reason: "decode", entity: "ev")
        ids["ev3"] = try await letter([StreamField("entity", "ev"), StreamField("n", "7")], error: "delivered 11 times",
                                      reason: "redelivered", entity: "ev")
        ids["old"] = try await letter([StreamField("entity", "ev"), StreamField("n", "x4")], error: "bad n", reason: nil, entity: "ev")
        ids["other"] = try await letter([StreamField("entity", "other"), StreamField("n", "x5")], error: "bad n", reason: "decode",
                                        entity: "other")
        ids["unroutable"] = try await letter([StreamField("entity", "nope"), StreamField("n", "1")], error: "no route",
                                             reason: "unroutable", entity: "")
        ids["foreign"] = try await letter([StreamField("n", "1")], error: "bad", reason: "decode", entity: "ev", source: "elsewhere-\(id)")
        ids["malformed"] = try await client.add(stream: dlq, fields: [StreamField("hello", "world")])
        return Setup(client: client, config: config, stream: stream, dlq: dlq, ids: ids)
    }

    struct MissingRedis: Error {}

    /// The entries of a stream: id and fields as byte pairs.
    func entries(_ client: RedisStreamClient, _ stream: String) async throws -> [(String, [[UInt8]])] {
        let r = try await client.command(["XRANGE", stream, "-", "+"]).array ?? []
        return r.map { e in
            let pair = e.array!
            let flat = pair[1].array!.map { v -> [UInt8] in if case .string(let b) = v { return b } else { return [] } }
            return (pair[0].text!, flat)
        }
    }

    @Test func statsCountsReasonsPerEntity() async throws {
        let s = try await setUp()
        defer { s.client.close() }
        let out = OutputBox()
        #expect(await Commands.dlqStats(config: s.config, stream: nil, environment: [:], output: out.output) == 0)
        let lines = Set(out.out.split(separator: "\n").map(String.init))
        let d = s.dlq, ids = s.ids
        #expect(lines.contains("\(d)\tev\tdecode\t3\t\(ids["ev1"]!)\t\(ids["foreign"]!)"), "\(out.out)")
        #expect(lines.contains("\(d)\tev\tredelivered\t1\t\(ids["ev3"]!)\t\(ids["ev3"]!)"), "\(out.out)")
        #expect(lines.contains("\(d)\tev\t-\t1\t\(ids["old"]!)\t\(ids["old"]!)"), "\(out.out)")
        #expect(lines.contains("\(d)\tother\tdecode\t1\t\(ids["other"]!)\t\(ids["other"]!)"), "\(out.out)")
        #expect(lines.contains("\(d)\t(unroutable)\tunroutable\t1\t\(ids["unroutable"]!)\t\(ids["unroutable"]!)"), "\(out.out)")
        #expect(lines.contains("\(d)\t?\tmalformed\t1\t\(ids["malformed"]!)\t\(ids["malformed"]!)"), "\(out.out)")
        #expect(out.err.contains("8 dead letters in 1 stream"), "\(out.err)")
        let bad = OutputBox()
        #expect(await Commands.dlqStats(config: s.config, stream: "ev", environment: [:], output: bad.output) == 2)
        #expect(bad.err.contains("expected a dead-letter stream"))
        _ = try await s.client.command(["DEL", s.dlq])
    }

    @Test func replayPutsOriginalFieldsBackAndRemovesOnlyWhatItAdded() async throws {
        let s = try await setUp()
        defer { s.client.close() }
        let before = try await entries(s.client, s.dlq)

        // --dry-run: prints, changes nothing.
        let dry = OutputBox()
        let dryCode = await Commands.dlqReplay(.init(config: s.config, stream: s.dlq, entity: "ev", dryRun: true),
                                               environment: [:], output: dry.output)
        #expect(dryCode == Commands.dlqSkipped, "\(dry.err)")  // `foreign` and `malformed` are left
        #expect(dry.out.split(separator: "\n").filter { $0.hasPrefix("would replay ") }.count == 4, "\(dry.out)")
        #expect(dry.err.contains("4 dead letters would be replayed, 2 skipped (dry run: nothing changed)"), "\(dry.err)")
        #expect(try await s.client.command(["EXISTS", s.stream]).int == 0)
        #expect(try await entries(s.client, s.dlq).map(\.0) == before.map(\.0))

        // --entity ev --since ev2: ev2, ev3 and old go back; ev1 (before since), other, unroutable stay.
        let out = OutputBox()
        let code = await Commands.dlqReplay(.init(config: s.config, stream: s.dlq, entity: "ev", since: s.ids["ev2"]!.description),
                                            environment: [:], output: out.output)
        #expect(code == Commands.dlqSkipped, "\(out.err)")
        let replayed = try await entries(s.client, s.stream)
        let e: [UInt8] = Array("entity".utf8), ev: [UInt8] = Array("ev".utf8), n: [UInt8] = Array("n".utf8)
        let wantFields: [[[UInt8]]] = [[e, ev, n, [0xff, 0x00, 0x41]], [e, ev, n, Array("7".utf8)], [e, ev, n, Array("x4".utf8)]]
        #expect(replayed.map(\.1) == wantFields, "\(replayed)")
        let left = Set(try await entries(s.client, s.dlq).map(\.0))
        let ids = s.ids.mapValues(\.description)
        let kept: Set<String> = [ids["ev1"]!, ids["other"]!, ids["unroutable"]!, ids["foreign"]!, ids["malformed"]!]
        #expect(left == kept, "\(left)")

        // Two replays of everything at once: each dead letter is added once.
        async let a = Commands.dlqReplay(.init(config: s.config, stream: s.dlq), environment: [:], output: OutputBox().output)
        async let b = Commands.dlqReplay(.init(config: s.config, stream: s.dlq), environment: [:], output: OutputBox().output)
        let codes = await [a, b]
        #expect(codes == [Commands.dlqSkipped, Commands.dlqSkipped])
        let all = try await entries(s.client, s.stream)
        #expect(all.count == 6, "\(all.map(\.1))")  // + ev1, other, unroutable
        #expect(Set(try await entries(s.client, s.dlq).map(\.0)) == [ids["foreign"]!, ids["malformed"]!])

        let usage = OutputBox()
        #expect(await Commands.dlqReplay(.init(config: s.config, stream: s.dlq, since: "yesterday"), environment: [:],
                                         output: usage.output) == 2)
        #expect(await Commands.dlqReplay(.init(config: s.config, stream: s.dlq, entity: "nope"), environment: [:],
                                         output: usage.output) == 2)
        #expect(usage.err.contains("--since yesterday") && usage.err.contains("--entity nope"), "\(usage.err)")
        _ = try await s.client.command(["DEL", s.dlq, s.stream])
    }
}
