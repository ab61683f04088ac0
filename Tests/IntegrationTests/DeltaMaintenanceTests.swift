import DeltaLake
import LakeModel
import LakeTools
import LakeWorker
import Foundation
import Logging
import ObjectStore
import RedisStreams
import Synchronization
import Testing
import TestSupport

/// `lakewriter compact` while the worker appends, then `lakewriter vacuum`: at every version a
/// reader sees each row exactly once; vacuum removes what no live version needs and keeps time
/// travel within the retention working.
@Suite(.serialized) struct DeltaMaintenanceTests {
    static let versions = """
        import json, sys
        from deltalake import DeltaTable
        root, versions = sys.argv[1], [int(v) for v in sys.argv[2].split(",")]
        out = {}
        for v in versions:
            try:
                t = DeltaTable(root, version=v).to_pyarrow_table(columns=["_stream_id"])
                ids = t.column("_stream_id").to_pylist()
                out[str(v)] = [len(ids), len(set(ids))]
            except Exception as e:
                out[str(v)] = str(e)[:200]
        print(json.dumps(out), flush=True)
        import os; os._exit(0)
        """

    @Test func compactionWhileTheWorkerAppendsAndVacuum() async throws {
        let env = try WorkerTests.env()
        let python = try #require(TestEnvironment.deltaPython)
        let id = WorkerTests.unique()
        let dir = try TestEnvironment.temporaryDirectory("delta-compact").path
        let lake = dir + "/lake"
        let configPath = dir + "/lw.yaml"
        try """
            redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 20, block: 100ms}
            storage: {url: "file://\(lake)", table_format: delta, delta_checkpoint_interval: 7}
            flush: {max_rows: 10, idle: 200ms, max_age: 2s}
            http: {listen: "127.0.0.1:0"}
            entities:
              ev:
                stream: ev-\(id)
                payload: json:data
                partition_by: [tenant]
                columns:
                  tenant: string
                  n: int64 not null
            """.write(toFile: configPath, atomically: true, encoding: .utf8)
        let config = try ConfigLoader(environment: [:]).load(path: configPath)
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        func produce(_ range: Range<Int>) async throws {
            for i in range {
                _ = try await client.add(stream: "ev-\(id)", fields: [StreamField("data", #"{"tenant": "t\#(i % 3)", "n": \#(i)}"#)])
            }
        }
        try await produce(0..<300)
        let out = OutputBox()
        var compactVersions: [Int64] = []
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil("the first entries acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
            // Compaction runs while more events arrive and are committed.
            let producer = Task { try await produce(300..<600) }
            var r = Commands.CompactRequest(config: configPath)
            r.olderThan = .zero
            r.minFiles = 3
            r.targetSize = 1 << 20
            #expect(await Commands.compact(r, environment: [:], output: out.output) == 0, "\(out.err)")
            try await producer.value
            try await WorkerTests.waitUntil("every entry acknowledged") {
                try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)")
            }
        }
        print(out.out)
        let summary = try #require(out.out.split(separator: "\n").first { $0.hasPrefix("ev: ") }.map(String.init), "\(out.out)")
        // ev: 90 files (median 700 bytes) → 3 files (median 20000 bytes); 90 joined into 3 in 3 commits
        // Fewer files, some joined into fewer. Not the median: the worker keeps adding small files
        // during the compaction, and on a loaded machine they can outnumber the joined ones.
        let numbers = summary.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
        #expect(numbers.count >= 6 && numbers[2] < numbers[0] && numbers[4] >= 2 && numbers[5] < numbers[4], "\(summary)")
        let log = DeltaLog(store: try makeObjectStore(url: "file://\(lake)"), root: "ev/")
        let (commits, _) = try await log.listVersions()
        for v in commits {
            for a in try await log.readCommit(v) ?? [] where a["commitInfo"]?["operation"]?.string == "OPTIMIZE" {
                compactVersions.append(v)
            }
        }
        #expect(!compactVersions.isEmpty, "\(out.out)")
        // Every version: before, between and after the compaction commits, each row exactly once.
        let probe = Set([0, compactVersions.first! - 1, compactVersions.first!, compactVersions.last!, commits.last!]).sorted()
        let seen = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", Self.versions, lake + "/ev",
                                                     probe.map(String.init).joined(separator: ",")]).stdout) as! [String: Any]
        for v in probe {
            let pair = seen[String(v)] as? [Int]
            #expect(pair != nil && pair![0] == pair![1], "version \(v): \(seen[String(v)] ?? "-")")
        }
        #expect((seen[String(commits.last!)] as? [Int])?.first == 600, "\(seen)")

        // Vacuum: an orphan (an upload whose commit never happened) two hours old goes; the files the
        // compaction removed stay within the retention, so time travel before it still reads.
        let orphan = lake + "/ev/tenant=t0/01900000-0000-7000-8000-000000000000.parquet"
        try Data("orphan".utf8).write(to: URL(fileURLWithPath: orphan))
        var old = [timespec(tv_sec: time(nil) - 7200, tv_nsec: 0), timespec(tv_sec: time(nil) - 7200, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, orphan, &old, 0) == 0)
        let v1 = OutputBox()
        #expect(await Commands.vacuum(config: configPath, entity: nil, retention: .seconds(3600), dryRun: false, force: false,
                                      environment: [:], output: v1.output) == 0, "\(v1.err)")
        #expect(v1.out.contains("deleted ev/tenant=t0/01900000-0000-7000-8000-000000000000.parquet") && !FileManager.default.fileExists(atPath: orphan),
                "\(v1.out)")
        #expect(v1.out.contains("ev: 1 files deleted"), "\(v1.out)")
        let before = String(compactVersions.first! - 1)
        let travel = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", Self.versions, lake + "/ev", before]).stdout) as! [String: Any]
        #expect(travel[before] is [Int], "\(travel)")
        // A retention under an hour is refused without --force; with it, the removed files go and
        // the current version still reads every row.
        let refused = OutputBox()
        #expect(await Commands.vacuum(config: configPath, entity: nil, retention: .zero, dryRun: false, force: false,
                                      environment: [:], output: refused.output) == 2)
        let v2 = OutputBox()
        #expect(await Commands.vacuum(config: configPath, entity: nil, retention: .zero, dryRun: true, force: true,
                                      environment: [:], output: v2.output) == 0)
        let planned = v2.out.split(separator: "\n").filter { $0.hasPrefix("would delete") }.count
        #expect(planned >= numbers[0] - numbers[2], "\(v2.out)")
        let v3 = OutputBox()
        #expect(await Commands.vacuum(config: configPath, entity: nil, retention: .zero, dryRun: false, force: true,
                                      environment: [:], output: v3.output) == 0)
        #expect(v3.out.split(separator: "\n").filter { $0.hasPrefix("deleted") }.count == planned, "\(v3.out)")
        let after = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", Self.versions, lake + "/ev",
                                                     String(commits.last!)]).stdout) as! [String: Any]
        #expect(after[String(commits.last!)] as? [Int] == [600, 600], "\(after)")
    }
}

extension DeltaMaintenanceTests {
    /// `compaction.enabled`: the worker compacts its tables in the background while it appends.
    @Test func theWorkerCompactsInTheBackground() async throws {
        let env = try WorkerTests.env()
        let python = try #require(TestEnvironment.deltaPython)
        let id = WorkerTests.unique()
        let lake = try TestEnvironment.temporaryDirectory("delta-bg").path
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "\(env.redisURL)", group: g-\(id), consumer: c-\(id), batch: 5, block: 100ms}
            storage: {url: "file://\(lake)", table_format: delta}
            flush: {max_rows: 5, idle: 200ms, max_age: 2s}
            http: {listen: "127.0.0.1:0"}
            compaction: {enabled: true, interval: 1s, older_than: 0s, min_files: 3}
            entities:
              ev:
                stream: ev-\(id)
                columns:
                  n: int64 not null
            """)
        #expect(config.compaction.enabled && config.maskedYAML.contains("compaction:\n  enabled: true\n  interval: 1s\n"))
        let client = RedisStreamClient(configuration: try RedisConfiguration(url: env.redisURL), logger: Logger(label: "test"))
        defer { client.close() }
        for i in 0..<100 { _ = try await client.add(stream: "ev-\(id)", fields: [StreamField("n", "\(i)")]) }
        let store = try makeObjectStore(url: "file://\(lake)")
        let log = DeltaLog(store: store, root: "ev/")
        try await WorkerTests.withWorker(config) { _ in
            try await WorkerTests.waitUntil(timeout: .seconds(60), "a background compaction commit") {
                guard try await WorkerTests.allAcknowledged(client, streams: ["ev-\(id)"], group: "g-\(id)") else { return false }
                for v in try await log.listVersions().commits.reversed() {
                    if try await log.readCommit(v)?.contains(where: { $0["commitInfo"]?["operation"]?.string == "OPTIMIZE" }) == true {
                        return true
                    }
                }
                return false
            }
        }
        let latest = try #require(try await log.latestVersion())
        let seen = try await JSONSerialization.jsonObject(with: try ProcessRunner.run(python, ["-c", Self.versions, lake + "/ev", String(latest)]).stdout)
            as! [String: Any]
        #expect(seen[String(latest)] as? [Int] == [100, 100], "\(seen)")
    }
}

typealias OutputBox = Commands.CapturedOutput
