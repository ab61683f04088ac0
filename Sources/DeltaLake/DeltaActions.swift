import LakeModel
import LakeOutput
import Parquet

/// One data file added to a table.
package struct DeltaAdd: Sendable, Equatable {
    /// The file's key relative to the table root (not yet URI-encoded).
    package var path: String
    /// Partition column → value as Delta serializes it (nil: null), in `partitionColumns` order.
    package var partitionValues: [(column: String, value: String?)]
    package var size: Int64
    /// Milliseconds since the epoch.
    package var modificationTime: Int64
    /// ``DeltaStats/json(schema:metadata:)``.
    package var stats: String?
    /// False for files that only rearrange rows already in the table (compaction).
    package var dataChange = true

    package init(path: String, partitionValues: [(column: String, value: String?)] = [], size: Int64,
                 modificationTime: Int64, stats: String?) {
        self.path = path
        self.partitionValues = partitionValues
        self.size = size
        self.modificationTime = modificationTime
        self.stats = stats
    }

    package static func == (a: DeltaAdd, b: DeltaAdd) -> Bool {
        a.path == b.path && a.size == b.size && a.modificationTime == b.modificationTime && a.stats == b.stats
            && a.partitionValues.map(\.column) == b.partitionValues.map(\.column)
            && a.partitionValues.map(\.value) == b.partitionValues.map(\.value)
    }

    /// The `add` action line.
    package var json: String {
        var out = #"{"add":{"path":"# + JSONText.quoted(DeltaPath.encode(path)) + #","partitionValues":"#
        out += DeltaPath.partitionValuesJSON(partitionValues)
        out += #","size":"# + String(size) + #","modificationTime":"# + String(modificationTime) + #","dataChange":"# + (dataChange ? "true" : "false")
        if let stats { out += #","stats":"# + JSONText.quoted(stats) }
        return out + "}}"
    }

    /// The partition values of a data file from its key's Hive segments (`col=value/`, escapes
    /// decoded, `__HIVE_DEFAULT_PARTITION__` as null); nil when a column has no segment.
    package static func partitionValues(ofKey key: String, columns: [String]) -> [(column: String, value: String?)]? {
        var found: [String: String?] = [:]
        for seg in key.split(separator: "/").dropLast() {
            guard let eq = seg.firstIndex(of: "=") else { continue }
            let name = HivePath.unescape(String(seg[..<eq]))
            guard columns.contains(name), found[name] == nil else { continue }
            let raw = String(seg[seg.index(after: eq)...])
            found[name] = raw == HivePath.defaultPartition ? .some(nil) : .some(HivePath.unescape(raw))
        }
        var out: [(column: String, value: String?)] = []
        for c in columns {
            guard let v = found[c] else { return nil }
            out.append((c, v))
        }
        return out
    }
}

/// A data file leaving the table (compaction): a tombstone until vacuum deletes the file.
package struct DeltaRemove: Sendable {
    package var path: String
    package var partitionValues: [(column: String, value: String?)]
    package var size: Int64
    package var deletionTimestamp: Int64

    package init(path: String, partitionValues: [(column: String, value: String?)], size: Int64, deletionTimestamp: Int64) {
        self.path = path
        self.partitionValues = partitionValues
        self.size = size
        self.deletionTimestamp = deletionTimestamp
    }

    /// The `remove` action line (`dataChange: false`: the rows stay, in another file).
    package var json: String {
        var out = #"{"remove":{"path":"# + JSONText.quoted(DeltaPath.encode(path)) + #","deletionTimestamp":"# + String(deletionTimestamp)
        out += #","dataChange":false,"extendedFileMetadata":true,"partitionValues":"#
        out += DeltaPath.partitionValuesJSON(partitionValues)
        return out + #","size":"# + String(size) + "}}"
    }
}

/// The table's `metaData` action.
package struct DeltaMetadata: Sendable, Equatable {
    package var id: String
    package var schemaString: String
    package var partitionColumns: [String]
    package var createdTime: Int64
    package var configuration: [String: String]

    package init(id: String, schemaString: String, partitionColumns: [String], createdTime: Int64, configuration: [String: String]) {
        self.id = id
        self.schemaString = schemaString
        self.partitionColumns = partitionColumns
        self.createdTime = createdTime
        self.configuration = configuration
    }

    package var json: String {
        var out = #"{"metaData":{"id":"# + JSONText.quoted(id) + #","format":{"provider":"parquet","options":{}},"schemaString":"#
        out += JSONText.quoted(schemaString) + #","partitionColumns":["# + partitionColumns.map(JSONText.quoted).joined(separator: ",")
        out += #"],"configuration":{"# + configuration.keys.sorted().map { JSONText.quoted($0) + ":" + JSONText.quoted(configuration[$0]!) }
            .joined(separator: ",")
        return out + #"},"createdTime":"# + String(createdTime) + "}}"
    }

    package init?(_ v: JSONValue) {
        guard let id = v["id"]?.string, let schema = v["schemaString"]?.string else { return nil }
        self.id = id
        schemaString = schema
        partitionColumns = v["partitionColumns"]?.array?.compactMap(\.string) ?? []
        createdTime = v["createdTime"]?.int64 ?? 0
        var conf: [String: String] = [:]
        for (k, x) in v["configuration"]?.object ?? [:] { if let s = x.string { conf[k] = s } }
        configuration = conf
    }

    /// The top-level field names of the schema (for the superset check of a schema change).
    package var fieldNames: [String] {
        guard let s = try? JSONValue.parse(schemaString), let fields = s["fields"]?.array else { return [] }
        return fields.compactMap { $0["name"]?.string }
    }

    /// `lakewriter.schemaVersion` of the configuration (0 when absent).
    package var schemaVersion: Int { configuration["lakewriter.schemaVersion"].flatMap { Int($0) } ?? 0 }
}

/// Paths in the log are URIs: bytes outside the unreserved set (and `/`, `=`) are percent-encoded.
package enum DeltaPath {
    package static func encode(_ path: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for b in path.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "/"), UInt8(ascii: "="):
                out.append(b)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 15)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    package static func decode(_ path: String) -> String { HivePath.unescape(path) }

    /// `{"col":"value","other":null}`: partition values as `add` and `remove` hold them.
    package static func partitionValuesJSON(_ values: [(column: String, value: String?)]) -> String {
        "{" + values.map { JSONText.quoted($0.column) + ":" + ($0.value.map(JSONText.quoted) ?? "null") }.joined(separator: ",") + "}"
    }
}
