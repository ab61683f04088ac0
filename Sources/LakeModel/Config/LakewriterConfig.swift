import Foundation

/// **LakeModel** — the model every other lakewriter module shares: configuration, entity
/// schemas (``EntitySchema``), and the shared text, calendar and log formats.
///
/// The whole lakewriter configuration, read from YAML by ``ConfigLoader``.
/// Every section has documented defaults, so a file may name only what differs.
public struct LakewriterConfig: Sendable, Equatable {
    public var redis = RedisConfig()
    public var storage = StorageConfig()
    public var parquet = ParquetConfig()
    public var flush = FlushConfig()
    public var http = HTTPConfig()
    public var log = LogConfig()
    public var deadLetters = DeadLetterConfig()
    public var compaction = CompactionConfig()
    /// In the order of the file.
    public var entities: [EntityConfig] = []

    public init() {}

    public func entity(named name: String) -> EntityConfig? {
        entities.first { $0.name == name }
    }
}

/// Where events are read: one consumer group over every configured stream.
public struct RedisConfig: Sendable, Equatable {
    /// `redis://[user:password@]host[:port][/db]` (`rediss://` for TLS), or
    /// `redis+sentinel://[user:password@]host1:26379,host2:26379/master[/db]`, or
    /// `redis+cluster://[user:password@]host1:7000,host2:7001`. Default `redis://127.0.0.1:6379/0`.
    public var url = "redis://127.0.0.1:6379/0"
    /// The URL's host is a seed node of a Redis Cluster (as a `redis+cluster://` URL). Default false.
    public var cluster = false
    /// The sentinels' own password (their `requirepass`), for a `redis+sentinel://` URL whose
    /// sentinels require one; the URL's password is the master's. Default none.
    public var sentinelPassword: String?
    /// Consumer group name, created when missing. Default `lakewriter`.
    public var group = "lakewriter"
    /// This worker's consumer name; unique per replica and stable across its restarts (its pending
    /// entries come back to it). Default `$HOSTNAME`, else the machine's host name (`gethostname`);
    /// ``ConfigLoader`` fills it in.
    public var consumer = ""
    /// Where a consumer group the worker creates starts reading. Default `earliest`.
    public var start: StartPosition = .earliest
    /// Entries per XREADGROUP. Default 1000.
    public var batch = 1000
    /// XREADGROUP BLOCK. Default 1s.
    public var block: Duration = .seconds(1)
    /// Pending entries idle this long in other consumers are claimed. Default 5m.
    public var claimIdle: Duration = .seconds(300)
    /// Entry field that routes entries of a shared stream to entities (`route:`). Default `entity`.
    public var routeField = "entity"
    /// The consumer-name lease (one worker per `consumer`): renewed every few seconds, it lapses
    /// this long after a worker died. Default 15s.
    public var consumerLease: Duration = .seconds(15)
    /// `{stream}:dlq` is trimmed (approximately) to this many entries; nil: never trimmed.
    /// Default 100000 (`dead_letter_max_length: none` for no cap).
    public var deadLetterMaxLength: Int? = 100_000
    /// TLS settings for a `rediss://` URL (`redis.tls`); ignored for `redis://`.
    public var tls = RedisTLSConfig()
    /// An entry re-read (own pending entries after a restart, or claimed with XAUTOCLAIM) whose
    /// XPENDING delivery count is above this goes to the dead-letter stream (reason
    /// `redelivered`) and is acknowledged. Default 10; nil (`max_deliveries: none`): no limit.
    public var maxDeliveries: Int? = 10

    public init() {}
}

/// `redis.tls`: how a `rediss://` connection is verified. By default the server's certificate
/// must chain to the system's trust store (or `ca_file`) and name the URL's host (or
/// `server_name`); `cert_file` + `key_file` give a client certificate for mutual TLS.
public struct RedisTLSConfig: Sendable, Equatable {
    public var caFile: String?
    public var certFile: String?
    public var keyFile: String?
    public var serverName: String?
    /// No certificate or host name verification at all (logged as a warning at every start).
    public var insecureSkipVerify = false

    public init() {}
}

/// The dead-letter circuit breaker: an entity whose entries mostly go to the dead-letter stream
/// (a wrong column type) is paused instead: its entries stay pending and the worker is not ready.
public struct DeadLetterConfig: Sendable, Equatable {
    /// Default true (`breaker: off` disables it, and resumes paused entities at the next start).
    public var breaker = true
    /// The share of an entity's entries in the window above which it is paused. Default 0.5.
    public var breakerRatio = 0.5
    /// The window the share is measured over (sliding, in tenths). Default 60s.
    public var breakerWindow: Duration = .seconds(60)
    /// Entries of the entity the window must hold before the breaker may trip. Default 20.
    public var breakerMinEntries = 20

    public init() {}
}

/// Where a newly created consumer group starts (`redis.start`); an existing group always goes on
/// from where it is.
public enum StartPosition: Sendable, Equatable, CustomStringConvertible {
    /// The stream's first entry (XGROUP CREATE … 0): everything already in the stream is written.
    case earliest
    /// Only entries added after the group was created (XGROUP CREATE … $).
    case latest
    /// After this entry id (`1764582000000-0`, or milliseconds alone): entries with a greater id.
    case id(String)

    /// Parses `earliest`, `latest` or an entry id (`MS` or `MS-SEQ`, each a UInt64).
    public init?(_ s: String) {
        switch s {
        case "earliest": self = .earliest
        case "latest": self = .latest
        default:
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(parts.count),
                  parts.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } && UInt64($0) != nil })
            else { return nil }
            self = .id(s)
        }
    }

    /// The start id XGROUP CREATE takes.
    public var streamID: String {
        switch self {
        case .earliest: "0"
        case .latest: "$"
        case .id(let id): id
        }
    }

    /// As the configuration spells it.
    public var description: String {
        switch self {
        case .earliest: "earliest"
        case .latest: "latest"
        case .id(let id): id
        }
    }
}

/// Where Parquet files go: an S3-compatible bucket or a local directory.
public struct StorageConfig: Sendable, Equatable {
    /// `s3://bucket[/prefix]` or `file:///absolute/path` / `file://./relative`. Default `file://./lake`.
    public var url = "file://./lake"
    /// S3 endpoint (`http://127.0.0.1:9000`, `https://ACCOUNT.r2.cloudflarestorage.com`);
    /// nil means AWS for the region.
    public var endpoint: String?
    /// Default `us-east-1` (R2 uses `auto`).
    public var region = "us-east-1"
    /// Path-style addressing (MinIO, SeaweedFS). Default: true when `endpoint` is set, else false.
    public var pathStyle = false
    /// Credentials; when nil the ObjectStore falls back to `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
    public var accessKeyID: String?
    public var secretAccessKey: String?
    public var sessionToken: String?
    /// PEM file of an extra trusted CA for the endpoint.
    public var caFile: String?
    /// Multipart part size. Default 16MiB (min 5MiB).
    public var partSize: Int64 = 16 << 20
    /// How entities are stored unless they say otherwise: plain Hive-partitioned Parquet, or a
    /// Delta Lake table per entity. Default parquet.
    public var tableFormat: TableFormat = .parquet
    /// Delta tables: a checkpoint every this many commits (the table's `delta.checkpointInterval`). Default 10.
    public var deltaCheckpointInterval = 10

    public init() {}

    /// The parsed `url`.
    public var location: StorageLocation {
        StorageLocation(url) ?? .file(path: url)
    }

    /// `url` with a relative `file://` path made absolute against `directory` (default: the
    /// current directory), the form the ObjectStore module opens.
    public func resolvedURL(relativeTo directory: String = FileManager.default.currentDirectoryPath) -> String {
        guard case .file(let path) = location, !path.hasPrefix("/") else { return url }
        let trimmed = path.hasPrefix("./") ? String(path.dropFirst(2)) : path
        return "file://" + (directory.hasSuffix("/") ? directory : directory + "/") + trimmed
    }
}

/// How an entity's files are stored.
public enum TableFormat: String, Sendable, Equatable, CaseIterable {
    /// Hive-partitioned Parquet files, nothing else.
    case parquet
    /// The same files, each flush committed to the entity's Delta Lake table (`{entity}/_delta_log/`).
    case delta
}

/// A parsed storage URL.
public enum StorageLocation: Sendable, Equatable {
    case s3(bucket: String, prefix: String)
    case file(path: String)

    /// Accepts `s3://bucket[/prefix]`, `file://PATH` (so `file:///abs` and `file://./rel`), or nil.
    public init?(_ url: String) {
        if url.hasPrefix("s3://") {
            let rest = url.dropFirst(5)
            let bucket = rest.prefix { $0 != "/" }
            guard !bucket.isEmpty else { return nil }
            var prefix = String(rest.dropFirst(bucket.count))
            while prefix.hasPrefix("/") { prefix.removeFirst() }
            while prefix.hasSuffix("/") { prefix.removeLast() }
            self = .s3(bucket: String(bucket), prefix: prefix)
        } else if url.hasPrefix("file://") {
            let path = String(url.dropFirst(7))
            guard !path.isEmpty else { return nil }
            self = .file(path: path)
        } else {
            return nil
        }
    }
}

/// How Parquet files are encoded.
public struct ParquetConfig: Sendable, Equatable {
    /// none | snappy | gzip | zstd | lz4_raw. Default snappy.
    public var compression: Compression = .snappy
    /// Codec level for gzip and zstd; nil is the codec's default.
    public var compressionLevel: Int?
    /// Rows per row group. Default 1048576.
    public var rowGroupRows = 1_048_576
    /// Encoded-size estimate at which a row group is cut. Default 128MiB. The worker uploads
    /// each row group as it is finished, so this bounds the encoded bytes a flush holds.
    public var rowGroupBytes: Int64 = 128 << 20
    /// Target data page size. Default 1MiB.
    public var pageBytes: Int64 = 1 << 20
    /// Dictionary encoding (falls back to plain past 1MiB per chunk). Default true.
    public var dictionary = true

    public init() {}

    /// Codec names accepted in the configuration and on the command line.
    public enum Compression: String, Sendable, Equatable, CaseIterable {
        case none, snappy, gzip, zstd
        case lz4Raw = "lz4_raw"

        /// Parses a codec name; `uncompressed` is an alias of none, `lz4` is refused (Hadoop framing).
        public init?(name: String) {
            switch name.lowercased() {
            case "none", "uncompressed": self = .none
            case "lz4_raw", "lz4raw": self = .lz4Raw
            default:
                guard let c = Compression(rawValue: name.lowercased()) else { return nil }
                self = c
            }
        }
    }
}

/// The worker's background compaction of its Delta tables (what `lakewriter compact` does), off by default.
public struct CompactionConfig: Sendable, Equatable {
    public var enabled = false
    /// Time between two passes. Default 10m.
    public var interval: Duration = .seconds(600)
    /// Only files committed longer ago than this. Default 1h.
    public var olderThan: Duration = .seconds(3600)
    /// Size of the joined files. Default 128MiB.
    public var targetSize: Int64 = 128 << 20
    /// A partition directory is compacted when it holds at least this many small files. Default 5.
    public var minFiles = 5

    public init() {}
}

/// When buffered rows become a file.
public struct FlushConfig: Sendable, Equatable {
    /// Default 100000.
    public var maxRows = 100_000
    /// Encoded-size estimate of a buffer (the target file size). Default 128MiB.
    public var maxBytes: Int64 = 128 << 20
    /// Age of the oldest buffered row. Default 60s.
    public var maxAge: Duration = .seconds(60)
    /// Time without new rows. Default 10s.
    public var idle: Duration = .seconds(10)
    /// Buffered data above which reading stops and the largest buffers flush. Default 512MiB.
    public var memoryLimit: Int64 = 512 << 20
    /// Time allowed to drain on SIGTERM. Default 25s.
    public var shutdownGrace: Duration = .seconds(25)
    /// Buffers (partitions: field values and time) an entity may hold open at once; past it, the
    /// least recently appended one is flushed (reason `partitions`). Default 1000.
    public var maxOpenPartitions = 1000

    public init() {}
}

/// The health and metrics endpoint.
public struct HTTPConfig: Sendable, Equatable {
    /// `HOST:PORT`. Default `0.0.0.0:8083`.
    public var listen = "0.0.0.0:8083"
    /// `/healthz` fails when the worker makes no progress for this long while there is work:
    /// entries wait to be read and the reader neither reads nor retries, or a file is being
    /// written and no attempt ends. Default 5m; nil (`none`) never fails.
    public var livenessTimeout: Duration? = .seconds(300)

    public init() {}

    /// `listen` parsed (the loader has checked it).
    public var address: ListenAddress { ListenAddress(listen) ?? ListenAddress(host: "0.0.0.0", port: 8083) }
    public var host: String { address.host }
    public var port: Int { address.port }
}

/// A `HOST:PORT` listen address, parsed in one place (the loader and the HTTP server):
/// `[::1]:8083` for IPv6, an empty host is `0.0.0.0`, the port 0…65535 (0: any free port).
public struct ListenAddress: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Nil when `text` is not `HOST:PORT`.
    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
              (0...65535).contains(port)
        else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host.isEmpty ? "0.0.0.0" : host
        self.port = port
    }
}

/// Logging output.
public struct LogConfig: Sendable, Equatable {
    /// trace | debug | info | notice | warning | error | critical. Default info.
    public var level = "info"
    /// text | json (one JSON object a line). Default text.
    public var format = "text"

    public init() {}
}

/// One kind of event, described once: where it comes from and its typed columns.
public struct EntityConfig: Sendable, Equatable {
    /// The key under `entities:`; also the first path segment of its files.
    public var name: String
    /// The Redis stream it is read from.
    public var stream: String
    /// When set, only entries whose `redis.route_field` equals this value belong to the entity.
    /// Required when several entities share a stream.
    public var route: String?
    public var payload: Payload = .fields
    /// Column whose value partitions files (timestamp or date); nil uses the entry id's time.
    public var timeColumn: String?
    public var unknownFields: UnknownFieldsPolicy = .ignore
    /// With `unknown_fields: evolve`: the most columns (declared and evolved) the entity may reach;
    /// an entry whose new fields would pass it is dead-lettered. Default 1000.
    public var maxColumns = 1000
    /// With `payload: fields`: an empty value (`customer_id ""`) of a column that is not a string
    /// or binary is null (a ` not null` column then rejects the row as missing) instead of a
    /// conversion error. String and binary columns keep `""` as the empty value. Default true.
    public var emptyAsNull = true
    /// Columns whose values make the Hive segments `COLUMN=value/` before the time segments, in
    /// this order (declared scalar columns, not float, binary or json).
    public var partitionBy: [String] = []
    /// Whether the `partition_by` columns stay in the files too. Default true.
    public var partitionColumnsInFile = true
    /// The time segments of the object keys. Default hour.
    public var timePartition: TimeGranularity = .hour
    /// Plain Parquet or a Delta table (default: `storage.table_format`).
    public var tableFormat: TableFormat = .parquet
    /// In the order of the file.
    public var columns: [ColumnConfig]

    public init(name: String, stream: String, route: String? = nil, payload: Payload = .fields,
                timeColumn: String? = nil, unknownFields: UnknownFieldsPolicy = .ignore, columns: [ColumnConfig]) {
        self.name = name
        self.stream = stream
        self.route = route
        self.payload = payload
        self.timeColumn = timeColumn
        self.unknownFields = unknownFields
        self.columns = columns
    }

    /// Where the event's values are in a stream entry.
    public enum Payload: Sendable, Equatable {
        /// The named entry field holds a JSON object.
        case json(field: String)
        /// Every entry field is a column; values are strings converted per type.
        case fields

        public var description: String {
            switch self {
            case .json(let f): "json:\(f)"
            case .fields: "fields"
            }
        }
    }
}

/// How finely files are partitioned by time: the Hive segments of an object key.
public enum TimeGranularity: String, Sendable, Equatable, CaseIterable {
    /// `year=/month=/day=/hour=`
    case hour
    /// `year=/month=/day=`
    case day
    /// `year=/month=`
    case month
    /// `year=`
    case year
    /// No time segments.
    case none
}

/// What happens to payload fields no column reads.
public enum UnknownFieldsPolicy: String, Sendable, Equatable {
    /// Dropped.
    case ignore
    /// The row is rejected.
    case reject
    /// Collected into a JSON object in the `_extra` column.
    case keep
    /// Added as new nullable columns (widening int64 → float64 → string on conflict), each schema version recorded.
    case evolve
}

/// One declared column.
public struct ColumnConfig: Sendable, Equatable {
    public var name: String
    public var type: ColumnType
    public var nullable: Bool
    /// Path of the value in the payload; by default the column name. In `fields` mode a single entry field name.
    public var source: [String]

    public init(name: String, type: ColumnType, nullable: Bool = true, source: [String]? = nil) {
        self.name = name
        self.type = type
        self.nullable = nullable
        self.source = source ?? [name]
    }

    public var field: ColumnField { ColumnField(name: name, type: type, nullable: nullable) }
}

/// Names of the columns lakewriter adds to every file.
public enum SystemColumns {
    /// The Redis entry id, or the 1-based line number for `convert`.
    public static let streamID = "_stream_id"
    /// Unknown fields as a JSON object, with `unknown_fields: keep`.
    public static let extra = "_extra"
}
