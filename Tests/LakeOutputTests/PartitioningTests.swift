@testable import LakeModel
@testable import LakeOutput
import Foundation
import Testing

@Suite struct PartitioningTests {
    @Test func hivePathMatchesFoundationCalendar() throws {
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2000 {
            let seconds = Int64.random(in: -2_208_988_800...4_102_444_800, using: &rng)  // 1900…2100
            let p = HourPartition(epochMicros: seconds * 1_000_000 + Int64.random(in: 0..<1_000_000))
            let c = cal.dateComponents([.year, .month, .day, .hour], from: Date(timeIntervalSince1970: Double(seconds)))
            let expected = String(format: "year=%04d/month=%02d/day=%02d/hour=%02d", c.year!, c.month!, c.day!, c.hour!)
            #expect(p.path == expected, "\(seconds)")
        }
    }

    @Test func millisAndMicrosAgreeAtBoundaries() {
        #expect(HourPartition(epochMillis: 3_599_999).hoursSinceEpoch == 0)
        #expect(HourPartition(epochMillis: 3_600_000).hoursSinceEpoch == 1)
        #expect(HourPartition(epochMicros: -1).hoursSinceEpoch == -1)
        #expect(HourPartition(epochMicros: -1).path == "year=1969/month=12/day=31/hour=23")
        // 2026-11-21T19:37:11Z
        #expect(HourPartition(epochMillis: 1_795_289_831_000).path == "year=2026/month=11/day=21/hour=19")
    }

    @Test func uuidV7IsVersionedAndTimeOrdered() {
        var rng = SystemRandomNumberGenerator()
        let a = UUIDv7(epochMillis: 1_795_289_831_000, using: &rng)
        let b = UUIDv7(epochMillis: 1_795_289_831_001, using: &rng)
        let s = a.description
        #expect(s.count == 36)
        #expect(Array(s)[14] == "7")
        #expect("89ab".contains(Array(s)[19]))
        #expect(a.epochMillis == 1_795_289_831_000)
        #expect(a.description < b.description)
        #expect(UUID(uuidString: s) != nil)
        let key = ObjectKeys.dataFile(entity: "orders", partition: HourPartition(epochMillis: 0), id: a)
        #expect(key == "orders/year=1970/month=01/day=01/hour=00/\(s).parquet")
    }
}
