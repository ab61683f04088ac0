import Foundation
import Testing
import TestSupport

/// The short form of `scripts/chaos` (README "Guarantees and failure behaviour"): the real
/// `lakewriter run` binary, SIGKILLed twice mid-stream, the store unreachable for 5 s, and
/// redis-server (AOF) killed and restarted, each while a producer writes 6,000 events. Every
/// event must be in the lake afterwards; duplicates are counted (at-least-once) but not failed,
/// except in Delta mode (`delta_sigkill`: kills right after commits too), where there must be none.
@Suite(.serialized) struct ChaosTests {
    @Test func shortFaultSuiteLosesNothing() throws {
        let python = try #require(TestEnvironment.python, "run through scripts/test")
        _ = try #require(TestEnvironment.s3Endpoint, "run through scripts/test")
        let root = TestEnvironment.repositoryRoot
        let binary = root.appendingPathComponent(".build/debug/lakewriter").path
        #expect(FileManager.default.isExecutableFile(atPath: binary))
        let r = try ProcessRunner.run(python, [root.appendingPathComponent("scripts/lib/chaos.py").path, "--binary", binary, "--short"],
                                      check: false)
        let results = try #require(try JSONSerialization.jsonObject(with: r.stdout) as? [[String: Any]], "\(r.stderr)")
        #expect(results.map { $0["scenario"] as? String } == ["sigkill", "store_outage", "redis_restart", "delta_sigkill"])
        for s in results {
            let name = s["scenario"] as? String ?? "?"
            #expect(s["error"] == nil, "\(name): \(s["error"] ?? "")")
            #expect(s["lost"] as? Int == 0, "\(name) lost events: \(s)")
            #expect((s["sent"] as? Int ?? 0) >= 6000, "\(name): \(s)")
            #expect((s["found"] as? Int ?? 0) >= (s["sent"] as? Int ?? .max), "\(name): \(s)")
            #expect(s["dead_letters"] as? Int == 0, "\(name): \(s)")
            if name == "delta_sigkill" {
                // Exactly once in Delta mode: kills right after commits included, no duplicate.
                #expect(s["duplicates"] as? Int == 0, "\(name): \(s)")
                #expect((s["restarts"] as? Int ?? 0) >= 3, "\(name): \(s)")
                #expect((s["killed_after_commit"] as? Int ?? 0) >= 1, "\(name): \(s)")
            }
        }
        #expect(r.status == 0, "\(r.stderr)")
    }
}
