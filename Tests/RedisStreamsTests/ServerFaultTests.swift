import Foundation
import RedisStreams
import TestSupport
import Testing

@Suite("Own redis-server instances: auth, restarts, shutdown", .enabled(if: redisBinaryAvailable))
struct ServerFaultTests {
    @Test func aclUserPasswordAndUnixSocket() async throws {
        let socketPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("lw-\(UUID().uuidString.prefix(8)).sock").path
        let server = try RedisServerProcess(["--requirepass", "default-pass", "--unixsocket", socketPath,
                                             "--unixsocketperm", "700"])
        defer { try? FileManager.default.removeItem(atPath: socketPath) }
        let admin = RedisStreamClient(configuration: try RedisConfiguration(
            url: "redis://:default-pass@127.0.0.1:\(server.port)/0"), logger: testLogger)
        _ = try await admin.command(["ACL", "SETUSER", "lakewriter", "on", ">worker-pass", "~lw:*",
                                     "+@stream", "+@connection", "+select", "-@dangerous"])

        // ACL user: allowed on its keys, refused elsewhere with a permission error naming the stream.
        let worker = RedisStreamClient(configuration: try RedisConfiguration(
            url: "redis://lakewriter:worker-pass@127.0.0.1:\(server.port)/2"), logger: testLogger)
        let id = try await worker.add("lw:events", [("a", "1")])
        #expect(try await worker.createGroup(stream: "lw:events", group: "g"))
        do {
            try await worker.add("other", [("a", "1")])
            Issue.record("should be refused")
        } catch let error as RedisError {
            #expect(error.code == .permissionDenied)
            #expect(error.stream == "other")
        }

        // Over the unix socket, same user, database 2 (where the entry went).
        let overSocket = try RedisConfiguration(url: "unix://lakewriter:worker-pass@\(socketPath)?db=2")
        var config = StreamConsumer.Configuration(streams: ["lw:events"], group: "g", consumer: "c")
        config.block = .milliseconds(100)
        let consumer = StreamConsumer(redis: overSocket, configuration: config, logger: testLogger)
        var it = consumer.makeAsyncIterator()
        let batch = try #require(try await it.next())
        #expect(batch.ids == [id])
        consumer.stop()

        // Wrong password: a clear authentication error, no password in it, no endless retry.
        let wrong = try RedisConfiguration(url: "redis://lakewriter:not-the-pass@127.0.0.1:\(server.port)/0")
        let bad = RedisStreamClient(configuration: wrong, logger: testLogger)
        do {
            _ = try await bad.command(["PING"])
            Issue.record("should be refused")
        } catch let error as RedisError {
            #expect(error.code == .authenticationFailed)
            #expect(error.operation == "AUTH")
            #expect(!"\(error)".contains("not-the-pass") && !"\(error)".contains("worker-pass"))
            #expect(!error.isRetryable)
        }
        #expect(bad.status.state == .failed)
        let badConsumer = StreamConsumer(redis: wrong, configuration: config, logger: testLogger)
        await #expect(throws: RedisError.self) {
            for try await _ in badConsumer {}
        }
        #expect(badConsumer.status.lastError?.code == .authenticationFailed)

        // No password at all against a protected server.
        let none = RedisStreamClient(configuration: try RedisConfiguration(url: server.url), logger: testLogger)
        do {
            _ = try await none.add("lw:x", [("a", "1")])
            Issue.record("should be refused")
        } catch let error as RedisError {
            #expect(error.code == .authenticationFailed)
        }
    }

    /// kill -9 of redis-server (AOF, appendfsync always) while a producer writes and the consumer
    /// reads and acknowledges: after the restart every entry in the stream was delivered exactly
    /// once and acknowledged, nothing is left pending.
    @Test func restartDuringReadLosesNothing() async throws {
        let server = try RedisServerProcess(["--appendonly", "yes", "--appendfsync", "always"])
        let redis = try RedisConfiguration(url: server.url)
        let (s, group) = ("events", "g")
        let client = RedisStreamClient(configuration: redis, maxAttempts: 2, logger: testLogger)
        let total = 4000
        let producer = Task {
            var next = 0
            while next < total {
                let chunk = next..<min(next + 100, total)
                do {
                    try await withThrowingTaskGroup(of: Void.self) { g in
                        for i in chunk { g.addTask { try await client.add(s, [("n", "\(i)")]) } }
                        try await g.waitForAll()
                    }
                    next = chunk.upperBound
                } catch {
                    // A lost reply may have been applied: the chunk is sent again, and duplicates
                    // are distinct entries the consumer must see too.
                    try? await Task.sleep(for: .milliseconds(50))
                }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.count = 100
        config.block = .milliseconds(200)
        config.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let acker = RedisStreamClient(configuration: redis, maxAttempts: 2, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: acker, group: group)

        // Kill mid-read: once a tenth of the entries arrived. With appendfsync always and the whole
        // suite running in parallel, the producer can be slow, so the wait is generous.
        #expect(await eventually(timeout: .seconds(120)) { await collector.entries.count >= 400 })
        server.kill()
        try await Task.sleep(for: .milliseconds(300))
        try server.start()
        await producer.value

        let verifier = RedisStreamClient(configuration: redis, maxAttempts: 5, logger: testLogger)
        var streamIDs: [StreamID] = []
        let done = await eventually(timeout: .seconds(60)) {
            guard let length = try? await verifier.command(["XLEN", s]).int else { return false }
            return await collector.entries.count >= length
        }
        #expect(done)
        let range = try await verifier.command(["XRANGE", s, "-", "+"])
        streamIDs = try #require(range.array).compactMap { $0.array?.first?.text.flatMap(StreamID.init) }
        let entries = await collector.entries
        let delivered = entries.map(\.id)
        #expect(Set(delivered).count == delivered.count, "an entry was delivered twice")
        #expect(Set(delivered) == Set(streamIDs), "delivered \(delivered.count), stream has \(streamIDs.count)")
        let numbers = Set(entries.compactMap { $0.fields["n"].flatMap { Int($0) } })
        #expect(numbers == Set(0..<total))
        #expect(await eventually { (try? await verifier.pending(stream: s, group: group).count) == 0 })
        #expect(consumer.status.reconnects >= 1)
        #expect(consumer.status.state == .connected)
        consumer.stop()
        await collector.wait()
        #expect(await collector.failure == nil)
    }

    /// The server closes the socket while a large command is still being written (its bulk length
    /// limit is exceeded): the write fails with EPIPE instead of SIGPIPE killing the process, and
    /// the client carries on with a new connection.
    @Test func serverClosingMidWriteIsAnErrorNotSIGPIPE() async throws {
        let server = try RedisServerProcess(["--proto-max-bulk-len", "1mb"])
        let client = try RedisStreamClient(configuration: RedisConfiguration(url: server.url), maxAttempts: 1,
                                           logger: testLogger)
        let huge = [UInt8](repeating: 120, count: 32 << 20)
        for _ in 0..<3 {
            await #expect(throws: RedisError.self) {
                try await client.add(stream: "big", fields: [StreamField(Array("v".utf8), huge)])
            }
        }
        try await client.add("big", [("v", "small")])
        #expect(try await client.command(["XLEN", "big"]).int == 1)
    }

    /// CLIENT PAUSE WRITE holds every write command (XREADGROUP is one) until CLIENT UNPAUSE: a command
    /// with a 300 ms timeout fails with `.timeout`, the reader (socket timeout = command timeout + BLOCK)
    /// reconnects and carries on once the pause is lifted. The pause has no deadline that a loaded machine
    /// could overrun: it lasts until the test lifts it.
    @Test func commandTimeoutsAndRecovery() async throws {
        let server = try RedisServerProcess()
        var redis = try RedisConfiguration(url: server.url)
        redis.commandTimeout = .milliseconds(300)
        let admin = try RedisStreamClient(configuration: RedisConfiguration(url: server.url), logger: testLogger)
        let client = RedisStreamClient(configuration: redis, maxAttempts: 1, logger: testLogger)
        try await admin.add("t", [("i", "0")])
        _ = try await client.command(["PING"])  // connected before the pause
        var config = StreamConsumer.Configuration(streams: ["t"], group: "g", consumer: "c")
        config.block = .milliseconds(100)
        config.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(100))
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer)
        #expect(await eventually { await collector.entries.count == 1 })

        _ = try await admin.command(["CLIENT", "PAUSE", "120000", "WRITE"])
        do {
            _ = try await client.command(["SET", "k", "v"])
            Issue.record("should time out")
        } catch let error as RedisError {
            #expect(error.code == .timeout)
            #expect(error.operation == "SET")
        }
        #expect(await eventually(timeout: .seconds(20)) { consumer.status.lastError?.code == .timeout })
        #expect(try await admin.command(["XLEN", "t"]).int == 1)  // reads still answer during the pause
        _ = try await admin.command(["CLIENT", "UNPAUSE"])
        try await admin.add("t", [("i", "1")])
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count == 2 })
        #expect(try await client.command(["XLEN", "t"]).int == 2)
        #expect(consumer.status.reconnects >= 1)
        consumer.stop()
        await collector.wait()
    }

    @Test func waitsWhileTheServerIsLoading() async throws {
        // key-load-delay makes loading 1500 keys take ~1.5 s, during which Redis answers LOADING.
        let server = try RedisServerProcess(["--key-load-delay", "1000", "--loading-process-events-interval-bytes",
                                             "1024", "--enable-debug-command", "local"])
        let redis = try RedisConfiguration(url: server.url)
        do {
            let setup = RedisStreamClient(configuration: redis, logger: testLogger)
            _ = try await setup.command(["DEBUG", "POPULATE", "1500"])
            for i in 0..<3 { try await setup.add("loaded", [("i", "\(i)")]) }
            _ = try await setup.command(["SAVE"])
            setup.close()
        }
        server.kill()
        try server.start()

        var config = StreamConsumer.Configuration(streams: ["loaded"], group: "g", consumer: "c")
        config.block = .milliseconds(100)
        config.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer)
        #expect(await eventually(timeout: .seconds(20)) { await collector.entries.count == 3 })
        #expect(await collector.entries.map { $0.fields["i"] } == ["0", "1", "2"])
        #expect(consumer.status.lastError?.code == .loading)
        #expect(consumer.status.state == .connected)
        consumer.stop()
        await collector.wait()
        #expect(await collector.failure == nil)
    }

    @Test func shutdownNosaveThenServerComesBack() async throws {
        let server = try RedisServerProcess()
        let redis = try RedisConfiguration(url: server.url)
        let (s, group) = ("jobs", "g")
        let client = RedisStreamClient(configuration: redis, logger: testLogger)
        for i in 0..<3 { try await client.add(s, [("i", "\(i)")]) }
        var config = StreamConsumer.Configuration(streams: [s], group: group, consumer: "c")
        config.block = .milliseconds(200)
        config.backoff = Backoff(initial: .milliseconds(20), maximum: .milliseconds(100))
        let consumer = StreamConsumer(redis: redis, configuration: config, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer)
        #expect(await eventually { await collector.entries.count == 3 })

        _ = try? await client.command(["SHUTDOWN", "NOSAVE"])
        try await server.waitForExit()
        #expect(await eventually { consumer.status.state == .reconnecting })
        let errorsWhileDown = consumer.status.errors
        #expect(await eventually { consumer.status.errors >= errorsWhileDown + 3 }, "keeps trying")
        let down = try #require(consumer.status.lastError)
        #expect(down.code == .connectionFailed || down.code == .connectionLost)
        #expect("\(down)".contains("127.0.0.1:\(server.port)") || down.code == .connectionLost)
        #expect(!consumer.status.isReady)

        try server.start()
        // NOSAVE: the stream and its group are gone; new entries arrive in a fresh stream.
        let fresh = try RedisStreamClient(configuration: RedisConfiguration(url: server.url), logger: testLogger)
        let a = try await fresh.add(s, [("i", "after-1")])
        let b = try await fresh.add(s, [("i", "after-2")])
        #expect(await eventually { await collector.entries.count == 5 })
        #expect(await collector.entries.suffix(2).map(\.id) == [a, b])
        #expect(consumer.status.state == .connected)
        #expect(consumer.status.reconnects >= 1)
        consumer.stop()
        await collector.wait()
        #expect(await collector.failure == nil)
    }
}
