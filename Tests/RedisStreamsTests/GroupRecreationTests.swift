import Foundation
import RedisStreams
import Synchronization
import Testing

/// `XGROUP DESTROY` while the consumer runs: the group comes back after the id the application
/// says it acknowledged last (entries after it this process already delivered are not delivered
/// again), or at the start position when it knows none (everything is delivered again).
@Suite struct GroupRecreationTests {
    final class Known: Sendable {
        let id = Mutex<StreamID?>(nil)
    }

    /// Reads five entries, destroys the group, adds a sixth; returns what was delivered, the new
    /// group's pending count and its last-delivered id.
    func destroyAndAdd(known: @escaping @Sendable ([StreamID]) -> StreamID?) async throws
        -> (delivered: [StreamID], pending: Int, sixth: StreamID) {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        defer { client.close() }
        let (s, group) = (unique("destroy"), unique("g"))
        var ids: [StreamID] = []
        for i in 0..<5 { ids.append(try await client.add(s, [("n", "\(i)")])) }
        let k = Known()
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.block = .milliseconds(100)
        config.recreateAfter = { _ in k.id.withLock { $0 } }
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer)  // nothing acknowledged: all five stay pending
        #expect(await eventually { await collector.entries.count == 5 })
        k.id.withLock { $0 = known(ids) }
        _ = try await client.command(["XGROUP", "DESTROY", s, group])
        let sixth = try await client.add(s, [("n", "5")])
        #expect(await eventually { await collector.entries.map(\.id).contains(sixth) })
        try await Task.sleep(for: .milliseconds(300))
        let delivered = await collector.entries.map(\.id)
        let pending = try await client.pending(stream: s, group: group).count
        consumer.stop()
        await collector.wait()
        _ = try await client.command(["DEL", s])
        return (delivered, pending, sixth)
    }

    @Test func aDestroyedGroupIsRecreatedAfterTheLastAcknowledgedID() async throws {
        let r = try await destroyAndAdd { ids in ids[2] }
        // Only the new entry is delivered; the held ones (4th, 5th) are pending again in the new
        // group under this consumer (so the application's late XACK removes them), the first
        // three are not.
        #expect(r.delivered.count == 6 && r.delivered.last == r.sixth)
        #expect(r.pending == 3)
    }

    @Test func withoutAnAcknowledgedIDTheGroupStartsAtTheStartPosition() async throws {
        let r = try await destroyAndAdd { _ in nil }
        // Recreated at 0: every entry is delivered again (at-least-once) and pending in the new group.
        #expect(r.delivered.count == 11 && Array(r.delivered[5...]) == Array(r.delivered[..<5]) + [r.sixth], "\(r.delivered)")
        #expect(r.pending == 6)
    }
}
