import LakeModel

/// The hour a row belongs to, in UTC (truncated to the entity's `time_partition` for its key).
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

    /// The first hour of the period of `granularity` holding this hour (`none`: hour 0, the one
    /// bucket of an entity without time segments).
    public func truncated(to granularity: TimeGranularity) -> HourPartition {
        switch granularity {
        case .hour: return self
        case .day:
            var d = hoursSinceEpoch / 24
            if hoursSinceEpoch % 24 < 0 { d -= 1 }
            return HourPartition(hoursSinceEpoch: d * 24)
        case .month, .year:
            let c = components
            let days = CivilCalendar.daysFromCivil(c.year, granularity == .year ? 1 : c.month, 1)
            return HourPartition(hoursSinceEpoch: Int64(days) * 24)
        case .none: return HourPartition(hoursSinceEpoch: 0)
        }
    }

    /// The time segments of `granularity`: `year=YYYY/month=MM` for `month`, empty for `none`.
    public func path(_ granularity: TimeGranularity) -> String {
        let c = components
        switch granularity {
        case .hour: return path
        case .day: return "year=\(Self.pad(c.year, 4))/month=\(Self.pad(c.month, 2))/day=\(Self.pad(c.day, 2))"
        case .month: return "year=\(Self.pad(c.year, 4))/month=\(Self.pad(c.month, 2))"
        case .year: return "year=\(Self.pad(c.year, 4))"
        case .none: return ""
        }
    }

    /// The time segments of a row without a time value (the Hive default partition in each).
    public static func nullPath(_ granularity: TimeGranularity) -> String {
        let d = HivePath.defaultPartition
        switch granularity {
        case .hour: return "year=\(d)/month=\(d)/day=\(d)/hour=\(d)"
        case .day: return "year=\(d)/month=\(d)/day=\(d)"
        case .month: return "year=\(d)/month=\(d)"
        case .year: return "year=\(d)"
        case .none: return ""
        }
    }

    public static func < (a: HourPartition, b: HourPartition) -> Bool { a.hoursSinceEpoch < b.hoursSinceEpoch }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// Hive's partition path segments: `name=value`, with the characters Hive escapes written as
/// `%XX` (what Hive's `FileUtils.escapePathName` escapes, plus NUL) and a null or empty value as
/// `__HIVE_DEFAULT_PARTITION__`. DuckDB, polars, pyarrow, Spark and Trino decode them back.
public enum HivePath {
    public static let defaultPartition = "__HIVE_DEFAULT_PARTITION__"
    /// The longest segment (`name=value`, escaped) a key may hold: a file name on most file
    /// systems is at most 255 bytes.
    public static let maxSegmentBytes = 255

    /// True for the bytes Hive percent-encodes in partition names and values.
    @inline(__always)
    public static func needsEscape(_ b: UInt8) -> Bool {
        switch b {
        case 0x00...0x1F, 0x7F: return true
        case UInt8(ascii: "\""), UInt8(ascii: "#"), UInt8(ascii: "%"), UInt8(ascii: "'"), UInt8(ascii: "*"),
             UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "="), UInt8(ascii: "?"), UInt8(ascii: "\\"),
             UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "^"):
            return true
        default: return false
        }
    }

    /// `text` with the escaped characters as `%XX` (uppercase hex); other bytes, UTF-8 included, kept.
    public static func escape(_ text: String) -> String {
        guard text.utf8.contains(where: needsEscape) else { return text }
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + 8)
        for b in text.utf8 {
            if needsEscape(b) {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            } else {
                out.append(b)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The inverse of ``escape(_:)`` (`%XX` decoded; a malformed escape is kept as is).
    public static func unescape(_ text: String) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return text }
        let b = Array(text.utf8)
        var out: [UInt8] = []
        var i = 0
        func hexValue(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - 48
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - 55
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - 87
            default: return nil
            }
        }
        while i < b.count {
            if b[i] == UInt8(ascii: "%"), i + 2 < b.count,
               let h = hexValue(b[i + 1]), let l = hexValue(b[i + 2]) {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `name=value` escaped; nil or empty values are the default partition.
    public static func segment(_ name: String, _ value: String?) -> String {
        let v = value.flatMap { $0.isEmpty ? nil : $0 }
        return escape(name) + "=" + (v.map(escape) ?? defaultPartition)
    }
}

/// Where one buffer's rows go: the values of the entity's `partition_by` columns, then the
/// time segments of its `time_partition`, as one Hive path.
public struct FilePartition: Hashable, Sendable, CustomStringConvertible {
    /// `partition_by` columns and their values as Hive writes them (nil: null or empty).
    public var fields: [PartitionValue]
    public var granularity: TimeGranularity
    /// The first hour of the time period (nil: the row had no time value).
    public var time: HourPartition?

    public struct PartitionValue: Hashable, Sendable {
        public var column: String
        public var value: String?
        public init(column: String, value: String?) {
            self.column = column
            self.value = value
        }
    }

    public init(fields: [PartitionValue] = [], granularity: TimeGranularity = .hour, time: HourPartition?) {
        self.fields = fields
        self.granularity = granularity
        self.time = time.map { $0.truncated(to: granularity) }
    }

    /// Today's layout: the hour only.
    public init(hour: HourPartition) { self.init(time: hour) }

    /// `tenant=acme/year=2024/month=05` (no leading or trailing slash; empty when there are no segments).
    public var path: String {
        var segments = fields.map { HivePath.segment($0.column, $0.value) }
        let t = time.map { $0.path(granularity) } ?? HourPartition.nullPath(granularity)
        if !t.isEmpty { segments.append(t) }
        return segments.joined(separator: "/")
    }

    /// The first field segment longer than ``HivePath/maxSegmentBytes`` (escaped), if any.
    public var overlongSegment: String? {
        for f in fields {
            let s = HivePath.segment(f.column, f.value)
            if s.utf8.count > HivePath.maxSegmentBytes { return s }
        }
        return nil
    }

    public var description: String { path }
}

/// Builds object keys for written files.
public enum ObjectKeys {
    /// `{entity}/year=…/month=…/day=…/hour=…/{uuid}.parquet`, relative to the store's prefix.
    public static func dataFile(entity: String, partition: HourPartition, id: UUIDv7) -> String {
        "\(entity)/\(partition.path)/\(id).parquet"
    }

    /// `{entity}/{partition path}/{uuid}.parquet` (no partition path: `{entity}/{uuid}.parquet`).
    public static func dataFile(entity: String, partition: FilePartition, id: UUIDv7) -> String {
        let p = partition.path
        return p.isEmpty ? "\(entity)/\(id).parquet" : "\(entity)/\(p)/\(id).parquet"
    }

    /// The entity of a data file key (the first of its segments that names one of `entities`;
    /// the store's prefix may come first), for labelling retries.
    public static func entity(ofKey key: String, entities: Set<String>) -> String {
        for part in key.split(separator: "/").dropLast() where entities.contains(String(part)) { return String(part) }
        return "unknown"
    }
}
