@testable import LakeModel
@testable import LakeWorker
import Foundation
import Testing
import TestSupport

/// `deploy/monitoring/`: the alert rules pass `promtool check rules` and their unit tests
/// (`promtool test rules`), every query of the Grafana dashboard parses as PromQL, and every
/// metric either file names is one the worker exposes.
@Suite struct MonitoringFilesTests {
    static let folder = TestEnvironment.repositoryRoot.appendingPathComponent("deploy/monitoring")

    struct NoPromtool: Error, CustomStringConvertible {
        var description: String { "promtool not found: install Debian's prometheus package (scripts/test does) or set LAKEWRITER_PROMTOOL" }
    }

    static func promtool() throws -> String {
        let candidates = [ProcessInfo.processInfo.environment["LAKEWRITER_PROMTOOL"], "/usr/bin/promtool", "/usr/local/bin/promtool"]
        guard let p = candidates.compactMap({ $0 }).first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw NoPromtool()
        }
        return p
    }

    @Test func alertRulesPassPromtoolAndTheirUnitTests() throws {
        let promtool = try Self.promtool()
        let check = try ProcessRunner.run(promtool, ["check", "rules", Self.folder.appendingPathComponent("alerts.yaml").path],
                                          check: false)
        #expect(check.status == 0, "\(check.stdoutString)\(check.stderr)")
        #expect(check.stdoutString.contains("SUCCESS: 9 rules found"))
        let test = try ProcessRunner.run(promtool, ["test", "rules", Self.folder.appendingPathComponent("alerts.test.yaml").path],
                                         check: false)
        #expect(test.status == 0, "\(test.stdoutString)\(test.stderr)")
    }

    /// The dashboard's queries, with its variables replaced, as recording rules: promtool parses each.
    @Test func dashboardQueriesParse() throws {
        let promtool = try Self.promtool()
        let exprs = try Self.dashboardExpressions()
        #expect(exprs.count >= 16)
        var yaml = "groups:\n  - name: dashboard\n    rules:\n"
        for (i, e) in exprs.enumerated() {
            let concrete = e.replacingOccurrences(of: "$job", with: ".*").replacingOccurrences(of: "$instance", with: ".*")
            let quoted = concrete.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            yaml += "      - record: dashboard:panel_\(i)\n        expr: \"\(quoted)\"\n"
        }
        let dir = try TestEnvironment.temporaryDirectory("dashboard")
        let file = dir.appendingPathComponent("rules.yaml")
        try yaml.write(to: file, atomically: true, encoding: .utf8)
        let r = try ProcessRunner.run(promtool, ["check", "rules", file.path], check: false)
        #expect(r.status == 0, "\(r.stdoutString)\(r.stderr)")
    }

    /// Names the files use that `/metrics` does not expose would make an alert that never fires.
    @Test func everyMetricTheFilesNameIsExposed() throws {
        let exposed = Self.exposedNames()
        #expect(exposed.contains("lakewriter_consumer_lag_seconds"))
        let rules = try String(contentsOf: Self.folder.appendingPathComponent("alerts.yaml"), encoding: .utf8)
        var used = Self.metricNames(in: rules)
        for e in try Self.dashboardExpressions() { used.formUnion(Self.metricNames(in: e)) }
        #expect(used.count >= 20)
        let missing = used.subtracting(exposed).subtracting(["up"])
        #expect(missing.isEmpty, "named but not exposed: \(missing.sorted())")
    }

    static func dashboardExpressions() throws -> [String] {
        let data = try Data(contentsOf: folder.appendingPathComponent("grafana-dashboard.json"))
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let panels = try #require(root["panels"] as? [[String: Any]])
        return panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
    }

    static func metricNames(in text: String) -> Set<String> {
        let pattern = try! NSRegularExpression(pattern: #"\b((?:lakewriter|process)_[a-z_]+|up)\b(?=\s*[{\[)\s])"#)
        let range = NSRange(text.startIndex..., in: text)
        return Set(pattern.matches(in: text, range: range).map { String(text[Range($0.range(at: 1), in: text)!]) })
    }

    /// The series names of a worker's exposition after one event of every kind.
    static func exposedNames() -> Set<String> {
        let config = try! ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "redis://127.0.0.1:1/0", group: g, consumer: c}
            storage: {url: "file:///tmp/lake"}
            entities:
              clicks:
                stream: clicks
                columns: {user_id: int64}
            """)
        let m = WorkerMetrics()
        m.prepare(for: config)
        m.eventsConsumed(stream: "clicks", 1)
        m.fileWritten(entity: "clicks", rows: 1, bytes: 100, duration: .seconds(1), reason: .idle,
                      encode: .milliseconds(1), upload: .milliseconds(2))
        m.consumerLag(stream: "clicks", 1)
        m.consumerLagSeconds(stream: "clicks", 1)
        m.pending(stream: "clicks", 1)
        m.deadLetterLength(stream: "clicks", 1)
        m.bufferedRows(entity: "clicks", 1)
        m.bufferedBytes(entity: "clicks", 1)
        m.memoryBytes(1, peak: 1)
        m.backpressure(false)
        m.redisUp(true)
        m.ready(true)
        m.storeRequest(operation: "PutObject", status: 200)
        let text = String(decoding: m.render(), as: UTF8.self)
        var names = Set<String>()
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            names.insert(String(line.prefix { $0 != "{" && $0 != " " }))
        }
        return names
    }
}
