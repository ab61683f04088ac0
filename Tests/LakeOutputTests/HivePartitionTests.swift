@testable import LakeModel
@testable import LakeOutput
import Foundation
import Testing
import TestSupport

/// Field-value partitions and time granularity: Hive escaping and the key segments.
@Suite struct HivePartitionTests {
    @Test func escapesWhatHiveEscapesAndNothingElse() {
        #expect(HivePath.escape("a/b=c") == "a%2Fb%3Dc")
        #expect(HivePath.escape("100%") == "100%25")
        #expect(HivePath.escape("x:y?z#w") == "x%3Ay%3Fz%23w")
        #expect(HivePath.escape("tab\there\u{1}\u{7f}") == "tab%09here%01%7F")
        #expect(HivePath.escape("q\"'*\\{[]^") == "q%22%27%2A%5C%7B%5B%5D%5E")
        // Spaces, unicode, '-', '_', '.', '+', '@' stay as they are (Hive keeps them).
        #expect(HivePath.escape("sp ace é 日本 a-b_c.d+e@f") == "sp ace é 日本 a-b_c.d+e@f")
        #expect(HivePath.segment("tenant", nil) == "tenant=__HIVE_DEFAULT_PARTITION__")
        #expect(HivePath.segment("tenant", "") == "tenant=__HIVE_DEFAULT_PARTITION__")
        #expect(HivePath.segment("a=b", "c") == "a%3Db=c")
    }

    /// Fuzz: any string escapes to a single segment (no '/', no '=', only printable ASCII
    /// escapes) and decodes back to itself.
    @Test func escapingRoundTripsAnyString() {
        var rng = SeededGenerator(seed: Fuzz.seed(17))
        let alphabet: [Unicode.Scalar] = ["/", "=", "%", " ", ":", "a", "Z", "0", "\u{0}", "\u{1f}", "\u{7f}", "é", "日", "😀",
                                          "\\", "\"", "'", "#", "?", "*", "[", "]", "{", "}", "^", "+", "~"]
        for _ in 0..<Fuzz.cases(5000) {
            var s = String.UnicodeScalarView()
            for _ in 0..<Int.random(in: 0...24, using: &rng) { s.append(alphabet.randomElement(using: &rng)!) }
            let text = String(s)
            let e = HivePath.escape(text)
            #expect(!e.contains("/") && !e.contains("="), "\(text.debugDescription) → \(e)")
            #expect(!e.utf8.contains { $0 < 0x20 || $0 == 0x7f }, "\(text.debugDescription)")
            #expect(HivePath.unescape(e) == text, "\(text.debugDescription) → \(e)")
        }
    }

    @Test func everyGranularityHasItsSegments() {
        // 2024-02-29T13:45Z
        let h = HourPartition(epochMicros: 1_709_214_300_000_000)
        let expected: [(TimeGranularity, String, String)] = [
            (.hour, "year=2024/month=02/day=29/hour=13", "year=2024/month=02/day=29/hour=13"),
            (.day, "year=2024/month=02/day=29", "year=2024/month=02/day=29/hour=00"),
            (.month, "year=2024/month=02", "year=2024/month=02/day=01/hour=00"),
            (.year, "year=2024", "year=2024/month=01/day=01/hour=00"),
            (.none, "", "year=1970/month=01/day=01/hour=00"),
        ]
        for (g, path, start) in expected {
            #expect(h.path(g) == path, "\(g)")
            #expect(h.truncated(to: g).path == start, "\(g)")
            // The whole period maps to one bucket; the next one to the next.
            let t = h.truncated(to: g)
            #expect(t.truncated(to: g) == t)
        }
        // Before 1970 too (floor, not truncation toward zero).
        let before = HourPartition(epochMicros: -1)
        #expect(before.truncated(to: .day).path == "year=1969/month=12/day=31/hour=00")
        #expect(before.truncated(to: .month).path(.month) == "year=1969/month=12")
        #expect(before.truncated(to: .year).path(.year) == "year=1969")
        #expect(HourPartition.nullPath(.day) == "year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__/day=__HIVE_DEFAULT_PARTITION__")
        #expect(HourPartition.nullPath(.none) == "")
    }

    @Test func truncationAgreesWithFoundationOverCenturies() {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_208_988_800...4_102_444_800, using: &rng)  // 1900…2100
            let h = HourPartition(epochMicros: seconds * 1_000_000)
            let c = cal.dateComponents([.year, .month, .day], from: Date(timeIntervalSince1970: Double(seconds)))
            #expect(h.path(.month) == String(format: "year=%04d/month=%02d", c.year!, c.month!))
            let monthStart = cal.date(from: DateComponents(year: c.year, month: c.month, day: 1))!
            #expect(h.truncated(to: .month).hoursSinceEpoch == Int64(monthStart.timeIntervalSince1970) / 3600)
            let yearStart = cal.date(from: DateComponents(year: c.year, month: 1, day: 1))!
            #expect(h.truncated(to: .year).hoursSinceEpoch == Int64(yearStart.timeIntervalSince1970) / 3600)
        }
    }

    @Test func keysPutFieldSegmentsBeforeTheTime() {
        var rng = SystemRandomNumberGenerator()
        let id = UUIDv7(epochMillis: 0, using: &rng)
        let h = HourPartition(epochMicros: 1_709_214_300_000_000)
        let p = FilePartition(fields: [.init(column: "account", value: "a/1"), .init(column: "tenant", value: nil)],
                              granularity: .day, time: h)
        #expect(ObjectKeys.dataFile(entity: "events", partition: p, id: id)
                == "events/account=a%2F1/tenant=__HIVE_DEFAULT_PARTITION__/year=2024/month=02/day=29/\(id).parquet")
        let none = FilePartition(fields: [], granularity: .none, time: h)
        #expect(ObjectKeys.dataFile(entity: "events", partition: none, id: id) == "events/\(id).parquet")
        // Today's layout is unchanged.
        #expect(ObjectKeys.dataFile(entity: "e", partition: FilePartition(hour: h), id: id)
                == ObjectKeys.dataFile(entity: "e", partition: h, id: id))
        // A null time has the default partition in each time segment.
        let nullTime = FilePartition(fields: [], granularity: .month, time: nil)
        #expect(nullTime.path == "year=__HIVE_DEFAULT_PARTITION__/month=__HIVE_DEFAULT_PARTITION__")
        // Overlong segments are found (a file name holds at most 255 bytes).
        let long = FilePartition(fields: [.init(column: "t", value: String(repeating: "/", count: 90))], time: h)
        #expect(long.overlongSegment != nil)
        #expect(p.overlongSegment == nil)
    }

    @Test func retryLabelsFindTheEntityBehindAPrefixAndPartitions() {
        let names: Set<String> = ["orders", "clicks"]
        #expect(ObjectKeys.entity(ofKey: "lake/orders/tenant=a/year=2024/x.parquet", entities: names) == "orders")
        #expect(ObjectKeys.entity(ofKey: "clicks/x.parquet", entities: names) == "clicks")
        #expect(ObjectKeys.entity(ofKey: "other/x.parquet", entities: names) == "unknown")
        #expect(ObjectKeys.entity(ofKey: "", entities: names) == "unknown")
    }
}
