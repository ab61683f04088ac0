import LakeModel
import LakeWorker
import Foundation
import Logging
import RedisStreams
import Testing
import TestSupport

/// The worker end to end over `rediss://` with `redis.tls` from the config: the reader, the
/// command connection (acknowledgements, dead letters, the lease) all speak TLS to a TLS-only
/// redis-server, files land, everything is acknowledged; `check-config` shows the TLS settings.
@Suite(.serialized) struct WorkerTLSTests {
    @Test func theWorkerReadsAcknowledgesAndDeadLettersOverTLS() async throws {
        let certs = try TLSCertificates()
        let server = try certs.server(clients: "yes")
        let lake = try TestEnvironment.temporaryDirectory("tls-lake").path
        let yaml = """
            redis:
              url: "rediss://127.0.0.1:\(server.port)/0"
              group: g
              consumer: c
              block: 200ms
              tls: {ca_file: "\(certs.ca)", cert_file: "\(certs.crt("client"))", key_file: "\(certs.key("client"))"}
            storage: {url: "file://\(lake)"}
            flush: {idle: 300ms, max_age: 2s}
            http: {listen: "127.0.0.1:0"}
            entities:
              clicks:
                stream: clicks
                columns: {user_id: int64 not null}
            """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        #expect(config.maskedYAML.contains("ca_file: \"\(certs.ca)\""))
        #expect(config.maskedYAML.contains("insecure_skip_verify: false"))
        var rc = try RedisConfiguration(url: "rediss://127.0.0.1:\(server.port)/0")
        rc.tls = .init(caFile: certs.ca, certFile: certs.crt("client"), keyFile: certs.key("client"))
        let client = RedisStreamClient(configuration: rc, logger: Logger(label: "test"))
        defer { client.close() }
        for i in 0..<50 { _ = try await client.add(stream: "clicks", fields: [StreamField("user_id", "\(i)")]) }
        _ = try await client.add(stream: "clicks", fields: [StreamField("user_id", "not a number")])
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "everything acknowledged over TLS") {
                try await WorkerTests.allAcknowledged(client, streams: ["clicks"], group: "g")
            }
        }
        #expect(try await client.command(["XLEN", "clicks:dlq"]).int == 1)
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        #expect(!files.isEmpty)
        guard let python = TestEnvironment.python else { return }
        #expect(try WorkerTests.sortedInts(column: "user_id", in: lake, python: python) == Array(0..<50))
    }

    @Test func tlsSettingsAreChecked() throws {
        let bad = """
            redis: {url: "rediss://h:6380/0", tls: {cert_file: /c.pem}}
            entities: {e: {stream: s, columns: {id: int64}}}
            """
        #expect(throws: ConfigError.self) { try ConfigLoader(environment: [:]).load(yaml: bad) }
        let unknown = """
            redis: {url: "rediss://h:6380/0", tls: {verify: false}}
            entities: {e: {stream: s, columns: {id: int64}}}
            """
        #expect(throws: ConfigError.self) { try ConfigLoader(environment: [:]).load(yaml: unknown) }
    }
}
