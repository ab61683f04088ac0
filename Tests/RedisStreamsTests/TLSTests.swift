import Foundation
import RedisStreams
import TestSupport
import Testing

/// `rediss://` against redis-server's own TLS port (certificates made with the openssl CLI):
/// commands, pipelined acknowledgements and a blocking consumer over TLS; verification on by
/// default (an unknown CA, a certificate for another name), `server_name`, mutual TLS, and the
/// two wrong-protocol cases, each a clear error naming the endpoint and never the password.
@Suite(.serialized) struct TLSTests {
    typealias Certificates = TLSCertificates

    static func expectFailure(_ config: RedisConfiguration, code: RedisError.Code? = nil, _ fragments: [String],
                              sourceLocation: SourceLocation = #_sourceLocation) async {
        let client = RedisStreamClient(configuration: config, maxAttempts: 1, logger: testLogger)
        defer { client.close() }
        do {
            _ = try await client.command(["PING"])
            Issue.record("PING succeeded", sourceLocation: sourceLocation)
        } catch let e as RedisError {
            if let code { #expect(e.code == code, "\(e)", sourceLocation: sourceLocation) }
            for f in fragments { #expect("\(e)".contains(f), "\(e)", sourceLocation: sourceLocation) }
            #expect(!"\(e)".contains("s3cret"), sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func commandsAndAConsumerOverVerifiedTLS() async throws {
        let certs = try Certificates()
        let server = try certs.server(password: "s3cret")
        var config = try RedisConfiguration(url: "rediss://:s3cret@127.0.0.1:\(server.port)/0")
        config.tls?.caFile = certs.ca
        let client = RedisStreamClient(configuration: config, logger: testLogger)
        defer { client.close() }
        #expect(try await client.command(["PING"]).text == "PONG")
        for i in 0..<300 { _ = try await client.add(stream: "t", fields: [StreamField("i", "\(i)"), StreamField("pad", String(repeating: "x", count: 100))]) }

        var cc = StreamConsumer.Configuration(streams: ["t"], group: "g", consumer: "c")
        cc.block = .milliseconds(200)
        cc.count = 50
        let consumer = StreamConsumer(redis: config, configuration: cc, logger: testLogger)
        let collector = Collector()
        await collector.start(consumer, ackWith: client, group: "g")
        #expect(await eventually { await collector.entries.count == 300 })
        // Idle blocking reads time out and go on over TLS; a new entry still arrives.
        try await Task.sleep(for: .milliseconds(700))
        _ = try await client.add(stream: "t", fields: [StreamField("i", "300")])
        #expect(await eventually { await collector.entries.count == 301 })
        #expect(await collector.entries.map { $0.fields["i"] } == (0...300).map { "\($0)" })
        #expect(await eventually { (try? await client.pending(stream: "t", group: "g").count) == 0 })
        #expect(consumer.status.lastError == nil)
        consumer.stop()
        await collector.wait()
    }

    @Test func verificationFailuresAreClearErrors() async throws {
        let certs = try Certificates()
        let server = try certs.server()
        let url = "rediss://:s3cret@127.0.0.1:\(server.port)/0"
        // The system trust store does not know the test CA.
        await Self.expectFailure(try RedisConfiguration(url: url), code: .tlsFailed,
                                 ["127.0.0.1:\(server.port)", "certificate verification failed", "redis.tls.ca_file"])
        // Verification off: connects (without the CA), as `insecure_skip_verify` promises.
        var insecure = try RedisConfiguration(url: "rediss://127.0.0.1:\(server.port)/0")
        insecure.tls?.insecureSkipVerify = true
        let c = RedisStreamClient(configuration: insecure, logger: testLogger)
        #expect(try await c.command(["PING"]).text == "PONG")
        c.close()

        // A certificate for another name: refused, unless server_name says that name.
        let other = try certs.server("other")
        var wrongName = try RedisConfiguration(url: "rediss://127.0.0.1:\(other.port)/0")
        wrongName.tls?.caFile = certs.ca
        await Self.expectFailure(wrongName, code: .tlsFailed, ["not for 127.0.0.1", "redis.tls.server_name"])
        wrongName.tls?.serverName = "other.example"
        let named = RedisStreamClient(configuration: wrongName, logger: testLogger)
        #expect(try await named.command(["PING"]).text == "PONG")
        named.close()
    }

    @Test func mutualTLS() async throws {
        let certs = try Certificates()
        let server = try certs.server(clients: "yes")
        var config = try RedisConfiguration(url: "rediss://127.0.0.1:\(server.port)/0")
        config.tls?.caFile = certs.ca
        config.connectTimeout = .seconds(3)
        config.commandTimeout = .seconds(3)
        await Self.expectFailure(config, ["127.0.0.1:\(server.port)", "redis.tls.cert_file"])
        config.tls?.certFile = certs.crt("client")
        config.tls?.keyFile = certs.key("client")
        let client = RedisStreamClient(configuration: config, logger: testLogger)
        #expect(try await client.command(["PING"]).text == "PONG")
        client.close()
        // A key that does not belong to the certificate is a configuration error.
        config.tls?.keyFile = certs.key("other")
        await Self.expectFailure(config, code: .tlsFailed, ["redis.tls.key_file"])
    }

    @Test func theWrongProtocolOnEitherSideIsExplained() async throws {
        let plain = try RedisServerProcess()
        var config = try RedisConfiguration(url: "rediss://127.0.0.1:\(plain.port)/0")
        config.connectTimeout = .seconds(3)
        await Self.expectFailure(config, ["127.0.0.1:\(plain.port)", "no TLS answer", "plain-text", "use redis://"])

        let certs = try Certificates()
        let tls = try certs.server()
        var plainURL = try RedisConfiguration(url: "redis://:s3cret@127.0.0.1:\(tls.port)/0")
        plainURL.commandTimeout = .seconds(3)
        await Self.expectFailure(plainURL, ["127.0.0.1:\(tls.port)", "rediss://"])
    }
}
