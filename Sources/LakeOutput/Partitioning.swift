import LakeModel

/// The hour a row belongs to, in UTC: each file holds one entity and one hour.
///
/// Object keys follow Hive partitioning so that DuckDB, Spark, Trino and
/// pyarrow datasets see `year`, `month`, `day` and `hour` columns:
/// `{prefix}/{entity}/year=YYYY/month=MM/day=DD/hour=HH/{UUIDv7}.parquet`.
public struct HourPartition: Hashable, Sendable, Comparable, CustomStringConvertible {
    /// Hours since the Unix epoch (floor division, so instants before 1970 work too).
    public var hoursSinceEpoch: Int64

    public init(hoursSinceEpoch: Int64) { self.hoursSinceEpoch = hoursSinceEpoch }

    /// The hour holding an instant given in microseconds since the Unix epoch.
    public init(epochMicros: Int64) {
        let perHour: Int64 = 3_600_000_000
        var h = epochMicros / perHour
        if epochMicros % perHour < 0 { h -= 1 }
        self.hoursSinceEpoch = h
    }

    /// The hour holding an instant given in milliseconds since the Unix epoch (a Redis entry id's time).
    public init(epochMillis: Int64) {
        let perHour: Int64 = 3_600_000
        var h = epochMillis / perHour
        if epochMillis % perHour < 0 { h -= 1 }
        self.hoursSinceEpoch = h
    }

    /// The hour of a Redis entry id's time. Ids are unsigned 64-bit milliseconds; one beyond
    /// Int64 (`XADD s 18446744073709551614-0 …`) is clamped to the last representable hour
    /// instead of trapping, so no entry id can crash the worker.
    public init(entryIDMillis ms: UInt64) {
        self.init(epochMillis: Int64(clamping: ms))
    }

    /// Calendar fields (proleptic Gregorian, UTC), computed without Foundation.
    public var components: (year: Int, month: Int, day: Int, hour: Int) {
        var days = hoursSinceEpoch / 24
        var hour = hoursSinceEpoch % 24
        if hour < 0 { hour += 24; days -= 1 }
        let (y, m, d) = CivilCalendar.civilFromDays(Int(days))
        return (y, m, d, Int(hour))
    }

    /// `year=YYYY/month=MM/day=DD/hour=HH`
    public var path: String {
        let c = components
        return "year=\(Self.pad(c.year, 4))/month=\(Self.pad(c.month, 2))/day=\(Self.pad(c.day, 2))/hour=\(Self.pad(c.hour, 2))"
    }

    public var description: String { path }

    public static func < (a: HourPartition, b: HourPartition) -> Bool { a.hoursSinceEpoch < b.hoursSinceEpoch }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Builds object keys for written files.
public enum ObjectKeys {
    /// `{entity}/year=…/month=…/day=…/hour=…/{uuid}.parquet`, relative to the store's prefix.
    public static func dataFile(entity: String, partition: HourPartition, id: UUIDv7) -> String {
        "\(entity)/\(partition.path)/\(id).parquet"
    }

    /// The entity of a data file key (the segment before `year=`), for labelling retries.
    public static func entity(ofKey key: String) -> String {
        let parts = key.split(separator: "/")
        guard let y = parts.firstIndex(where: { $0.hasPrefix("year=") }), y > 0 else { return "unknown" }
        return String(parts[y - 1])
    }
}
