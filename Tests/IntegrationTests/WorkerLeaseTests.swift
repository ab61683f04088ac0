import LakeModel
import LakeOutput
import LakeWorker
import Foundation
import Logging
import RedisStreams
import ServiceLifecycle
import Testing
import TestSupport

/// Two workers with the same consumer name would process the same pending entries twice: the
/// second one waits for the first one's lease, then refuses to start; after a clean stop the
/// name is free at once.
@Suite(.serialized) struct WorkerLeaseTests {
    @Test func aSecondWorkerWithTheSameConsumerNameRefusesToStart() async throws {
        let env = try WorkerTests.env()
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("lease").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: g-\(id), consumer: same-\(id), block: 100ms, consumer_lease: 6s}
            storage: {url: "file://\(lake)"}
            flush: {idle: 200ms}
            entities:
              ev:
                stream: ev-\(id)
                columns:
                  n: int64 not null
            """)
        try await WorkerTests.withWorker(config) { _ in
            try await Task.sleep(for: .milliseconds(500))
            var logger = Logger(label: "second")
            logger.logLevel = .critical
            let second = try LakewriterWorker(config: config, logger: logger)
            let started = ContinuousClock.now
            // Bounded: a second worker that started anyway is stopped after 40 s (and fails the test).
            let run = Task { try await second.run() }
            let stop = Task {
                try await Task.sleep(for: .seconds(40))
                run.cancel()
            }
            let result = await run.result
            stop.cancel()
            #expect(throws: WorkerError.consumerInUse("lakewriter:lease:g-\(id):same-\(id)")) { try result.get() }
            // It waited for the lease to lapse (two lease periods), not longer.
            let waited = started.duration(to: .now)
            #expect(waited >= .seconds(11) && waited < .seconds(40), "\(waited)")
        }
        // The first worker released its lease when it stopped: the name is free at once.
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "t"))
        defer { client.close() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await client.command(["EXISTS", "lakewriter:lease:g-\(id):same-\(id)"]).int == 0)
    }
}
