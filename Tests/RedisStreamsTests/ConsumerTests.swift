import Foundation
import RedisStreams
import TestSupport
import Testing

@Suite("Consumer group reads against the shared redis-server", .enabled(if: sharedRedisAvailable))
struct ConsumerTests {
    @Test func readsBinaryFieldsAcrossStreamsAndAcks() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s1, s2, group) = (unique("read-a"), unique("read-b"), unique("g"))
        let binary: [UInt8] = [0, 13, 10, 255, 36, 42]  // NUL, CRLF and RESP markers survive
        var added: [StreamID] = []
        for i in 0..<25 {
            added.append(try await client.add(stream: s1, fields: [StreamField("n", "\(i)"),
                                                                  StreamField(Array("blob".utf8), binary),
                                                                  StreamField("empty", "")]))
        }
        for i in 0..<7 { try await client.add(s2, [("m", "\(i)")]) }

        var config = StreamConsumer.Configuration(streams: [s1, s2], group: group, consumer: "c1")
        config.count = 10
        config.block = .milliseconds(200)
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        var seen1: [StreamID] = []
        var seen2 = 0
        for try await batch in consumer {
            #expect(batch.source != .claimed)
            #expect(batch.count <= 10)
            if batch.stream == s1 {
                for (k, e) in batch.entries.enumerated() {
                    let n = seen1.count
                    #expect(batch.string(batch.value(of: "n", inEntry: k)!) == "\(n)")
                    #expect(Array(batch.slice(batch.value(of: "blob", inEntry: k)!)) == binary)
                    #expect(batch.value(of: "empty", inEntry: k)?.isEmpty == true)
                    #expect(e.fieldCount == 3)
                    #expect(batch.string(e.idRange) == e.id.description)
                    seen1.append(e.id)
                }
            } else {
                #expect(batch.stream == s2)
                seen2 += batch.count
            }
            #expect(try await client.ack(batch, group: group) == batch.count)
            if seen1.count == 25 && seen2 == 7 { break }
        }
        consumer.stop()
        #expect(seen1 == added)
        #expect(try await client.pending(stream: s1, group: group).count == 0)
        #expect(try await client.pending(stream: s2, group: group).count == 0)
        #expect(consumer.status.errors == 0)
    }

    @Test func rereadsOwnPendingAfterACrash() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group) = (unique("crash"), unique("g"))
        var ids: [StreamID] = []
        for i in 0..<5 { ids.append(try await client.add(s, [("i", "\(i)")])) }

        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "worker-1")
        config.block = .milliseconds(100)
        config.count = 2  // the pending list is paged
        do {
            // First life: reads everything, acknowledges nothing, then "crashes".
            let first = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
            var got = 0
            for try await b in first {
                #expect(b.source == .new)
                got += b.count
                if got == 5 { break }
            }
            first.stop()
        }
        _ = try await client.command(["XDEL", s, ids[2].description])
        let later = try await client.add(s, [("i", "late")])

        let second = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        var received: [ReceivedEntry] = []
        for try await b in second {
            received += b.received
            if received.count == 6 { break }
        }
        second.stop()
        #expect(received.map(\.id) == ids + [later])
        #expect(received.prefix(5).allSatisfy { $0.source == .pending })
        #expect(received[5].source == .new && received[5].fields == ["i": "late"])
        #expect(received[2].deleted && received[2].fields.isEmpty)
        #expect(received[1].fields == ["i": "1"] && !received[1].deleted)
        // The deleted entry is still pending until acknowledged.
        #expect(try await client.pending(stream: s, group: group).count == 6)
        #expect(try await client.ack(stream: s, group: group, ids: received.map(\.id)) == 6)
        #expect(try await client.pending(stream: s, group: group).count == 0)
    }

    /// The server assigned an entry to this consumer but the reply never reached it (simulated by
    /// an XREADGROUP for the same consumer inside another connection's transaction); after the
    /// connection is killed the reader re-reads its pending list past what it delivered: the lost
    /// entry arrives, the others are not repeated.
    @Test func reconnectDeliversEntriesWhoseReplyWasLost() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group, name) = (unique("lost"), unique("g"), unique("consumer"))
        for i in 0..<3 { try await client.add(s, [("i", "\(i)")]) }
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: name)
        config.block = .milliseconds(100)
        config.backoff = Backoff(initial: .milliseconds(10), maximum: .milliseconds(50))
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer)
        #expect(await eventually { await collector.entries.count == 3 })

        _ = try await client.command(["MULTI"])
        _ = try await client.command(["XADD", s, "*", "i", "lost"])
        _ = try await client.command(["XREADGROUP", "GROUP", group, name, "COUNT", "10", "STREAMS", s, ">"])
        let exec = try await client.command(["EXEC"])
        let lostID = try #require(exec.array?.first?.text.flatMap(StreamID.init))
        try await Task.sleep(for: .milliseconds(250))
        #expect(await collector.entries.count == 3, "the reader must not have seen it yet")

        let clients = try #require(try await client.command(["CLIENT", "LIST"]).text)
        let line = try #require(clients.split(separator: "\n").first { $0.contains("name=lakewriter-reader:\(name) ") })
        let id = try #require(line.split(separator: " ").first { $0.hasPrefix("id=") }?.dropFirst(3))
        #expect(try await client.command(["CLIENT", "KILL", "ID", String(id)]).int == 1)

        #expect(await eventually { await collector.entries.count == 4 })
        let entries = await collector.entries
        #expect(entries.count == 4)
        #expect(entries.last?.id == lostID && entries.last?.source == .pending)
        #expect(entries.last?.fields == ["i": "lost"])
        #expect(Set(entries.map(\.id)).count == entries.count)
        #expect(consumer.status.reconnects == 1)
        consumer.stop()
        await collector.wait()
    }

    @Test func autoclaimTakesOverADeadConsumersEntries() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group) = (unique("claim"), unique("g"))
        var ids: [StreamID] = []
        for i in 0..<4 { ids.append(try await client.add(s, [("k", "v\(i)")])) }
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "dead")
        config.block = .milliseconds(100)
        let dead = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        var got = 0
        for try await b in dead {
            got += b.count
            if got == 4 { break }
        }
        dead.stop()
        _ = try await client.command(["XDEL", s, ids[1].description])

        // Not idle long enough yet: nothing moves, but the deleted entry leaves the pending list
        // whatever its idle time (Redis 7).
        let early = try await client.autoclaim(stream: s, group: group, consumer: "alive", minIdle: .seconds(60))
        #expect(early.batch.isEmpty)
        #expect(early.deleted == [ids[1]])

        try await Task.sleep(for: .milliseconds(120))
        let claimed = try await client.autoclaim(stream: s, group: group, consumer: "alive", minIdle: .milliseconds(100))
        #expect(claimed.batch.source == .claimed)
        #expect(claimed.batch.ids == [ids[0], ids[2], ids[3]])
        #expect(claimed.batch.received.map { $0.fields["k"] } == ["v0", "v2", "v3"])
        #expect(claimed.deleted.isEmpty)
        #expect(claimed.next == .zero)
        let summary = try await client.pending(stream: s, group: group)
        #expect(summary.count == 3)
        #expect(summary.consumers == ["alive": 3])
        #expect(summary.smallestID == ids[0] && summary.greatestID == ids[3])
        #expect(try await client.ack(claimed.batch, group: group) == 3)
    }

    @Test func deadLettersWithApproximateTrimming() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, dlq, group) = (unique("dl-src"), unique("dl"), unique("g"))
        let id = try await client.add(stream: s, fields: [StreamField("payload", "{bad json"),
                                                         StreamField(Array("raw".utf8), [0, 1, 2])])
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.block = .milliseconds(100)
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        var it = consumer.makeAsyncIterator()
        let batch = try #require(try await it.next())
        consumer.stop()
        let dlID = try await client.deadLetter(entry: 0, of: batch, to: dlq, error: "invalid JSON at byte 1",
                                               entity: "orders", maxLength: 50)
        let range = try await client.command(["XRANGE", dlq, "-", "+"])
        let entry = try #require(range.array?.first?.array)
        #expect(entry[0].text == dlID.description)
        let fields = try #require(entry[1].array)
        // The entry's own fields first, unchanged (binary too), then ours.
        #expect(fields[0].text == "payload" && fields[1].text == "{bad json")
        #expect(fields[2].text == "raw" && fields[3] == .string([0, 1, 2]))
        #expect(fields.map { $0.text ?? "" }.suffix(8) == ["error", "invalid JSON at byte 1", "entity", "orders",
                                                           "source_id", id.description, "source_stream", s])

        // MAXLEN ~ 50: Redis trims whole radix-tree nodes (100 entries each by default), so the
        // length stays above 50 but far below what was added.
        for _ in 0..<499 {
            try await client.deadLetter(entry: 0, of: batch, to: dlq, error: "again", entity: "", maxLength: 50)
        }
        let length = try #require(try await client.command(["XLEN", dlq]).int)
        #expect(length >= 50 && length < 250, "XLEN \(length)")
        // An exact MAXLEN trims to the bound.
        try await client.add(stream: dlq, fields: [StreamField("x", "y")], maxLength: 50, approximate: false)
        #expect(try await client.command(["XLEN", dlq]).int == 50)
    }

    @Test func pendingSummaryAndGroupLag() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group) = (unique("lag"), unique("g"))
        #expect(try await client.createGroup(stream: s, group: group) == true)
        #expect(try await client.createGroup(stream: s, group: group) == false)  // BUSYGROUP is fine
        for i in 0..<10 { try await client.add(s, [("i", "\(i)")]) }
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.count = 4
        config.prefetch = 1
        config.block = .milliseconds(100)
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        var it = consumer.makeAsyncIterator()
        let first = try #require(try await it.next())
        #expect(first.count == 4)
        // Backpressure: one batch in hand, one buffered, and the reader waits.
        try await Task.sleep(for: .milliseconds(300))
        let info = try #require(try await client.groups(stream: s).first { $0.name == group })
        #expect(info.pending == 8)
        #expect(info.entriesRead == 8)
        #expect(info.lag == 2)
        #expect(info.consumers == 1)
        let summary = try await client.pending(stream: s, group: group)
        #expect(summary.count == 8 && summary.consumers == ["c": 8])
        consumer.stop()
        // The buffered batch is still handed out after stop(), then the sequence ends.
        let second = try #require(try await it.next())
        #expect(second.count == 4)
        #expect(try await it.next() == nil)
        #expect(consumer.status.state == .stopped)
    }

    @Test func stopInterruptsABlockedRead() async throws {
        let redis = try sharedRedis()
        let s = unique("idle")
        var config = StreamConsumer.Configuration(streams: [s], group: unique("g"), consumer: "c")
        config.block = .seconds(30)
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let clock = ContinuousClock()
        let task = Task {
            var n = 0
            for try await _ in consumer { n += 1 }
            return n
        }
        #expect(await eventually { consumer.status.state == .connected })
        try await Task.sleep(for: .milliseconds(200))
        // Measured from the cancellation, not from the start: connecting can be slow on a loaded
        // machine, but a read that stop() failed to interrupt would last the whole 30 s BLOCK.
        let cancelled = clock.now
        task.cancel()
        #expect(try await task.value == 0)
        #expect(clock.now - cancelled < .seconds(15))
    }

    @Test func wrongKeyTypeNamesTheStream() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let s = unique("notastream")
        _ = try await client.command(["SET", s, "x"])
        let config = StreamConsumer.Configuration(streams: [s], group: unique("g"), consumer: "c")
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        do {
            for try await _ in consumer {}
            Issue.record("should have thrown")
        } catch let error as RedisError {
            #expect(error.code == .serverError)
            #expect(error.stream == s)
            #expect("\(error)".contains(s) && "\(error)".contains("WRONGTYPE"))
        }
        #expect(consumer.status.state == .failed)
    }

    @Test func acksLongIDListsInChunks() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group) = (unique("bigack"), unique("g"))
        // 25,000 entries in one pipelined burst, all read by one consumer, acked with one call.
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for i in 0..<25_000 { tasks.addTask { try await client.add(s, [("i", "\(i)")]) } }
            try await tasks.waitForAll()
        }
        try await client.createGroup(stream: s, group: group)
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.block = .milliseconds(100)
        var ids: [StreamID] = []
        for try await b in StreamConsumer(redis: redis, configuration: config, logger: testLogger) {
            ids += b.ids
            if ids.count == 25_000 { break }
        }
        #expect(Set(ids).count == 25_000)
        #expect(try await client.pending(stream: s, group: group).count == 25_000)
        #expect(try await client.ack(stream: s, group: group, ids: ids) == 25_000)
        #expect(try await client.pending(stream: s, group: group).count == 0)
        _ = try await client.command(["DEL", s])
    }

    @Test func selectsTheDatabase() async throws {
        var redis = try sharedRedis()
        redis.database = 7
        let db7 = RedisStreamClient(configuration: redis, logger: testLogger)
        let db0 = RedisStreamClient(configuration: try sharedRedis(), logger: testLogger)
        let s = unique("db")
        try await db7.add(s, [("a", "b")])
        #expect(try await db7.command(["XLEN", s]).int == 1)
        #expect(try await db0.command(["XLEN", s]).int == 0)
    }

    @Test func nogroupRecreatesTheGroup() async throws {
        let redis = try sharedRedis()
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        let (s, group) = (unique("nogroup"), unique("g"))
        try await client.add(s, [("n", "1")])
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.block = .milliseconds(100)
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: client, group: group)
        #expect(await eventually { await collector.entries.count == 1 })
        _ = try await client.command(["DEL", s])
        try await Task.sleep(for: .milliseconds(150))
        let after = try await client.add(s, [("n", "2")])
        #expect(await eventually { await collector.entries.count == 2 })
        #expect(await collector.entries.last?.id == after)
        // Redis 7 ends the blocked read with UNBLOCKED, the next read gets NOGROUP.
        #expect(consumer.status.lastError?.code == .noGroup)
        #expect("\(consumer.status.lastError!)".contains(s))
        #expect(consumer.status.state == .connected)
        consumer.stop()
        await collector.wait()
    }
}
