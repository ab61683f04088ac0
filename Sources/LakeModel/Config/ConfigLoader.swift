import Foundation
import Yams

/// Reads a ``LakewriterConfig`` from YAML: expands environment references in every scalar,
/// applies defaults, validates, and reports each problem with its key path and line.
public struct ConfigLoader {
    public var environment: [String: String]
    /// The machine's host name, the default `redis.consumer` when `$HOSTNAME` is unset.
    public var hostName: @Sendable () -> String?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                hostName: @escaping @Sendable () -> String? = ConfigLoader.machineHostName) {
        self.environment = environment
        self.hostName = hostName
    }

    /// `gethostname(2)`, nil when it fails or is empty.
    public static func machineHostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? nil : name
    }

    public func load(path: String) throws(ConfigError) -> LakewriterConfig {
        // Refuse an oversized file before reading it (a device or a huge file would never finish).
        if let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value,
           size > ConfigLimits.maximumFileBytes {
            throw Self.tooLarge(file: path, bytes: size)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, line: nil, keyPath: "", message: "the file is not UTF-8")
        }
        return try load(yaml: text, file: path)
    }

    public func load(yaml: String, file: String? = nil) throws(ConfigError) -> LakewriterConfig {
        // The limits are checked before parsing: the parser recurses per nesting level.
        if yaml.utf8.count > ConfigLimits.maximumFileBytes {
            throw Self.tooLarge(file: file, bytes: Int64(yaml.utf8.count))
        }
        if let line = ConfigLimits.nestingViolation(in: yaml) {
            throw ConfigError(file: file, line: line, keyPath: "",
                              message: "nested deeper than \(ConfigLimits.maximumNesting) levels (the configuration limit)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigError(file: file, line: Self.line(of: error), keyPath: "", message: "invalid YAML: \(Self.problem(of: error))")
        } catch {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "invalid YAML: \(error)")
        }
        guard let root else {
            throw ConfigError(file: file, line: nil, keyPath: "", message: "the configuration is empty")
        }
        var reader = Reader(file: file, environment: environment, hostName: hostName)
        return try reader.config(YAMLNode(node: root, path: ""))
    }

    private static func tooLarge(file: String?, bytes: Int64) -> ConfigError {
        ConfigError(file: file, line: nil, keyPath: "",
                    message: "the configuration is \(bytes) bytes; the limit is \(ConfigLimits.maximumFileBytes) bytes (1 MiB)")
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(let c, let p, _, _), .parser(let c, let p, _, _), .composer(let c, let p, _, _):
            c.map { "\($0.text), \(p)" } ?? p
        default: "\(error)"
        }
    }
}

/// A YAML node with the dotted path that led to it.
struct YAMLNode {
    var node: Node
    var path: String
    var line: Int? { node.mark?.line }

    func child(_ key: String, _ node: Node) -> YAMLNode {
        YAMLNode(node: node, path: path.isEmpty ? key : "\(path).\(key)")
    }

    /// True for a plain `~`, `null` or empty value, which count as absent.
    var isNull: Bool {
        guard case .scalar(let s) = node, s.style == .plain || s.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(s.string)
    }
}

private struct Reader {
    var file: String?
    var environment: [String: String]
    var hostName: @Sendable () -> String?

    func error(_ n: YAMLNode, _ message: String) -> ConfigError {
        ConfigError(file: file, line: n.line, keyPath: n.path, message: message)
    }

    /// Entries of a mapping in file order; refuses duplicates and keys not in `allowed`.
    func mapping(_ n: YAMLNode, allowed: Set<String>? = nil) throws(ConfigError) -> [(String, YAMLNode)] {
        guard case .mapping(let m) = n.node else { throw error(n, "expected a mapping") }
        var seen = Set<String>()
        var out: [(String, YAMLNode)] = []
        for (k, v) in m {
            guard case .scalar(let ks) = k else { throw error(n, "keys must be plain strings") }
            let key = ks.string
            let child = n.child(key, v)
            guard seen.insert(key).inserted else { throw error(child, "duplicate key") }
            if let allowed, !allowed.contains(key) {
                throw error(child, "unknown key (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            }
            out.append((key, child))
        }
        return out
    }

    func string(_ n: YAMLNode) throws(ConfigError) -> String {
        guard case .scalar(let s) = n.node else { throw error(n, "expected a single value") }
        switch ConfigSyntax.expandEnvironment(s.string, environment: environment) {
        case .success(let v): return v
        case .failure(let e): throw error(n, e.description)
        }
    }

    func int(_ n: YAMLNode, min: Int = 1) throws(ConfigError) -> Int {
        let s = try string(n)
        guard let v = Int(s.replacingOccurrences(of: "_", with: "")) else { throw error(n, "expected an integer, found '\(s)'") }
        guard v >= min else { throw error(n, "must be at least \(min)") }
        return v
    }

    func bool(_ n: YAMLNode) throws(ConfigError) -> Bool {
        let s = try string(n)
        switch s.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(n, "expected true or false, found '\(s)'")
        }
    }

    func duration(_ n: YAMLNode) throws(ConfigError) -> Duration {
        let s = try string(n)
        guard let d = ConfigSyntax.parseDuration(s) else {
            throw error(n, "expected a duration like 250ms, 2s, 5m, 1h; found '\(s)'")
        }
        return d
    }

    func size(_ n: YAMLNode) throws(ConfigError) -> Int64 {
        let s = try string(n)
        guard let v = ConfigSyntax.parseSize(s), v > 0 else {
            throw error(n, "expected a size like 1048576, 64MiB or 1GB; found '\(s)'")
        }
        return v
    }

    mutating func config(_ root: YAMLNode) throws(ConfigError) -> LakewriterConfig {
        var c = LakewriterConfig()
        var entitiesNode: YAMLNode?
        for (key, n) in try mapping(root, allowed: ["redis", "storage", "parquet", "flush", "http", "log", "dead_letters",
                                                    "compaction", "entities"]) {
            if n.isNull { continue }
            switch key {
            case "redis": try redis(n, &c.redis)
            case "storage": try storage(n, &c.storage)
            case "parquet": try parquet(n, &c.parquet)
            case "flush": try flush(n, &c.flush)
            case "http": try http(n, &c.http)
            case "log": try log(n, &c.log)
            case "dead_letters": try deadLetters(n, &c.deadLetters)
            case "compaction": try compaction(n, &c.compaction)
            default: entitiesNode = n
            }
        }
        guard let entitiesNode else {
            throw ConfigError(file: file, line: nil, keyPath: "entities", message: "at least one entity is required")
        }
        c.entities = try entities(entitiesNode, routeField: c.redis.routeField, tableFormat: c.storage.tableFormat)
        if c.redis.consumer.isEmpty {
            // Every replica its own name, without configuration: the pod's or the machine's.
            guard let name = environment["HOSTNAME"].flatMap({ $0.isEmpty ? nil : $0 }) ?? hostName() else {
                throw ConfigError(file: file, line: nil, keyPath: "redis.consumer",
                                  message: "no $HOSTNAME and no host name (gethostname): set redis.consumer")
            }
            c.redis.consumer = name
        }
        return c
    }

    func redis(_ n: YAMLNode, _ r: inout RedisConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["url", "group", "consumer", "batch", "block", "claim_idle", "route_field",
                                                 "dead_letter_max_length", "consumer_lease", "tls", "max_deliveries", "start",
                                                 "cluster", "sentinel_password"]) {
            if v.isNull { continue }
            switch key {
            case "url":
                r.url = try string(v)
                let schemes = ["redis://", "rediss://", "redis+sentinel://", "rediss+sentinel://", "redis+cluster://",
                               "rediss+cluster://"]
                guard schemes.contains(where: { r.url.hasPrefix($0) }) else {
                    throw error(v, "expected a redis://, rediss://, redis+sentinel:// or redis+cluster:// URL")
                }
            case "cluster": r.cluster = try bool(v)
            case "sentinel_password": r.sentinelPassword = try optional(v)
            case "group": r.group = try nonEmpty(v)
            case "consumer": r.consumer = try nonEmpty(v)
            case "start":
                let text = try string(v)
                guard let start = StartPosition(text) else {
                    throw error(v, "expected earliest, latest or an entry id like 1764582000000-0; found '\(text)'")
                }
                r.start = start
            case "batch": r.batch = try int(v)
            case "block": r.block = try duration(v)
            case "claim_idle": r.claimIdle = try duration(v)
            case "consumer_lease":
                r.consumerLease = try duration(v)
                guard r.consumerLease >= .seconds(1) else { throw error(v, "must be at least 1s") }
            case "dead_letter_max_length":
                if try string(v) == "none" { r.deadLetterMaxLength = nil } else { r.deadLetterMaxLength = try int(v, min: 1) }
            case "tls":
                for (k, t) in try mapping(v, allowed: ["ca_file", "cert_file", "key_file", "server_name", "insecure_skip_verify"]) {
                    if t.isNull { continue }
                    switch k {
                    case "ca_file": r.tls.caFile = try optional(t)
                    case "cert_file": r.tls.certFile = try optional(t)
                    case "key_file": r.tls.keyFile = try optional(t)
                    case "server_name": r.tls.serverName = try optional(t)
                    default: r.tls.insecureSkipVerify = try bool(t)
                    }
                }
                if (r.tls.certFile == nil) != (r.tls.keyFile == nil) {
                    throw error(v, "cert_file and key_file go together (mutual TLS needs both)")
                }
            case "max_deliveries":
                if try string(v) == "none" { r.maxDeliveries = nil } else { r.maxDeliveries = try int(v, min: 1) }
            default: r.routeField = try nonEmpty(v)
            }
        }
    }

    func compaction(_ n: YAMLNode, _ c: inout CompactionConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["enabled", "interval", "older_than", "target_size", "min_files"]) {
            if v.isNull { continue }
            switch key {
            case "enabled": c.enabled = try bool(v)
            case "interval":
                c.interval = try duration(v)
                guard c.interval >= .seconds(1) else { throw error(v, "at least 1s") }
            case "older_than": c.olderThan = try duration(v)
            case "target_size":
                c.targetSize = try size(v)
                guard c.targetSize >= 1 << 20 else { throw error(v, "at least 1MiB") }
            default: c.minFiles = try int(v, min: 2)
            }
        }
    }

    func deadLetters(_ n: YAMLNode, _ d: inout DeadLetterConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["breaker", "breaker_ratio", "breaker_window", "breaker_min_entries"]) {
            if v.isNull { continue }
            switch key {
            case "breaker": d.breaker = try bool(v)
            case "breaker_ratio":
                let s = try string(v)
                guard let r = Double(s), r > 0, r < 1 else {
                    throw error(v, "expected a share between 0 and 1 (exclusive), like 0.5; found '\(s)'")
                }
                d.breakerRatio = r
            case "breaker_window":
                d.breakerWindow = try duration(v)
                guard d.breakerWindow >= .seconds(1), d.breakerWindow <= .seconds(86_400) else {
                    throw error(v, "must be between 1s and 24h")
                }
            default: d.breakerMinEntries = try int(v, min: 1)
            }
        }
    }

    func tableFormat(_ n: YAMLNode) throws(ConfigError) -> TableFormat {
        let s = try string(n)
        guard let f = TableFormat(rawValue: s) else { throw error(n, "expected parquet or delta; found '\(s)'") }
        return f
    }

    func nonEmpty(_ n: YAMLNode) throws(ConfigError) -> String {
        let s = try string(n)
        guard !s.isEmpty else { throw error(n, "must not be empty") }
        return s
    }

    func optional(_ n: YAMLNode) throws(ConfigError) -> String? {
        let s = try string(n)
        return s.isEmpty ? nil : s
    }

    func storage(_ n: YAMLNode, _ s: inout StorageConfig) throws(ConfigError) {
        var pathStyle: Bool?
        var urlNode: YAMLNode?
        for (key, v) in try mapping(n, allowed: ["url", "endpoint", "region", "path_style", "access_key_id",
                                                 "secret_access_key", "session_token", "ca_file", "part_size",
                                                 "table_format", "delta_checkpoint_interval"]) {
            if v.isNull { continue }
            switch key {
            case "url":
                s.url = try string(v)
                urlNode = v
                guard StorageLocation(s.url) != nil else {
                    throw error(v, "expected s3://bucket[/prefix] or file://PATH")
                }
            case "endpoint":
                s.endpoint = try optional(v)
                if let e = s.endpoint, !(e.hasPrefix("http://") || e.hasPrefix("https://")) {
                    throw error(v, "expected an http:// or https:// URL")
                }
            case "region": s.region = try nonEmpty(v)
            case "path_style": pathStyle = try bool(v)
            case "access_key_id": s.accessKeyID = try optional(v)
            case "secret_access_key": s.secretAccessKey = try optional(v)
            case "session_token": s.sessionToken = try optional(v)
            case "ca_file": s.caFile = try optional(v)
            case "table_format": s.tableFormat = try tableFormat(v)
            case "delta_checkpoint_interval":
                s.deltaCheckpointInterval = try int(v, min: 1)
                guard s.deltaCheckpointInterval <= 100_000 else { throw error(v, "at most 100000") }
            default:
                s.partSize = try size(v)
                guard s.partSize >= 5 << 20 else { throw error(v, "must be at least 5MiB (S3 minimum part size)") }
            }
        }
        s.pathStyle = pathStyle ?? (s.endpoint != nil)
        if (s.accessKeyID == nil) != (s.secretAccessKey == nil), case .s3 = s.location {
            throw error(urlNode ?? n, "access_key_id and secret_access_key must be given together")
        }
    }

    func parquet(_ n: YAMLNode, _ p: inout ParquetConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["compression", "compression_level", "row_group_rows", "row_group_bytes", "page_bytes", "dictionary"]) {
            if v.isNull { continue }
            switch key {
            case "compression":
                let s = try string(v)
                guard let c = ParquetConfig.Compression(name: s) else {
                    throw error(v, s.lowercased() == "lz4"
                        ? "lz4 (Hadoop framing) is unreadable in several readers: use lz4_raw"
                        : "expected none, snappy, gzip, zstd or lz4_raw; found '\(s)'")
                }
                p.compression = c
            case "compression_level": p.compressionLevel = try int(v, min: -7)
            case "row_group_rows": p.rowGroupRows = try int(v)
            case "row_group_bytes": p.rowGroupBytes = try size(v)
            case "page_bytes": p.pageBytes = try size(v)
            default: p.dictionary = try bool(v)
            }
        }
    }

    func flush(_ n: YAMLNode, _ f: inout FlushConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["max_rows", "max_bytes", "max_age", "idle", "memory_limit", "shutdown_grace",
                                                      "max_open_partitions"]) {
            if v.isNull { continue }
            switch key {
            case "max_rows": f.maxRows = try int(v)
            case "max_bytes": f.maxBytes = try size(v)
            case "max_age": f.maxAge = try duration(v)
            case "idle": f.idle = try duration(v)
            case "memory_limit": f.memoryLimit = try size(v)
            case "max_open_partitions":
                f.maxOpenPartitions = try int(v, min: 1)
                guard f.maxOpenPartitions <= 1_000_000 else { throw error(v, "at most 1000000") }
            default: f.shutdownGrace = try duration(v)
            }
        }
    }

    func http(_ n: YAMLNode, _ h: inout HTTPConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["listen", "liveness_timeout"]) {
            if v.isNull { continue }
            switch key {
            case "liveness_timeout":
                if try string(v) == "none" { h.livenessTimeout = nil; continue }
                let d = try duration(v)
                guard d >= .seconds(10) else { throw error(v, "at least 10s (or none): shorter ones restart a busy worker") }
                h.livenessTimeout = d
            default:
                h.listen = try string(v)
                guard ListenAddress(h.listen) != nil else { throw error(v, "expected HOST:PORT") }
            }
        }
    }

    func log(_ n: YAMLNode, _ l: inout LogConfig) throws(ConfigError) {
        for (key, v) in try mapping(n, allowed: ["level", "format"]) {
            if v.isNull { continue }
            let s = try string(v).lowercased()
            if key == "level" {
                guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(s) else {
                    throw error(v, "expected trace, debug, info, notice, warning, error or critical")
                }
                l.level = s
            } else {
                guard s == "text" || s == "json" else { throw error(v, "expected text or json") }
                l.format = s
            }
        }
    }

    func entities(_ n: YAMLNode, routeField: String, tableFormat: TableFormat = .parquet) throws(ConfigError) -> [EntityConfig] {
        let items = try mapping(n)
        guard !items.isEmpty else { throw error(n, "at least one entity is required") }
        var out: [EntityConfig] = []
        var nodes: [YAMLNode] = []
        for (name, v) in items {
            guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw error(v, "entity names may hold only letters, digits, _ and -")
            }
            out.append(try entity(name, v, tableFormat: tableFormat))
            nodes.append(v)
        }
        // Entities sharing a stream must each say which entries are theirs.
        var byStream: [String: [Int]] = [:]
        for (i, e) in out.enumerated() { byStream[e.stream, default: []].append(i) }
        for (_, indexes) in byStream where indexes.count > 1 {
            var routes: [String: String] = [:]
            for i in indexes {
                guard let route = out[i].route else {
                    throw error(nodes[i].child("route", nodes[i].node),
                                "stream \(out[i].stream) is shared by several entities: each needs `route:` (matched against the \(routeField) field)")
                }
                if let other = routes[route] {
                    throw error(nodes[i].child("route", nodes[i].node), "route '\(route)' is already used by entity \(other) on stream \(out[i].stream)")
                }
                routes[route] = out[i].name
            }
        }
        return out
    }

    func entity(_ name: String, _ n: YAMLNode, tableFormat: TableFormat = .parquet) throws(ConfigError) -> EntityConfig {
        var format = tableFormat
        var stream: String?
        var route: String?
        var payload = EntityConfig.Payload.fields
        var time: (String, YAMLNode)?
        var unknown = UnknownFieldsPolicy.ignore
        var columnsNode: YAMLNode?
        var maxColumns: (Int, YAMLNode)?
        var emptyAsNull: (Bool, YAMLNode)?
        var partitionBy: YAMLNode?
        var inFile = true
        var granularity = TimeGranularity.hour
        var granularityNode: YAMLNode?
        for (key, v) in try mapping(n, allowed: ["stream", "route", "payload", "time", "unknown_fields", "max_columns",
                                                 "empty_as_null", "partition_by", "partition_columns_in_file",
                                                 "time_partition", "table_format", "columns"]) {
            if v.isNull { continue }
            switch key {
            case "stream": stream = try nonEmpty(v)
            case "route": route = try nonEmpty(v)
            case "payload":
                let s = try string(v)
                if s == "fields" {
                    payload = .fields
                } else if s.hasPrefix("json:"), s.count > 5 {
                    payload = .json(field: String(s.dropFirst(5)))
                } else {
                    throw error(v, "expected json:FIELD or fields; found '\(s)'")
                }
            case "time": time = (try nonEmpty(v), v)
            case "unknown_fields":
                let s = try string(v)
                guard let u = UnknownFieldsPolicy(rawValue: s) else { throw error(v, "expected ignore, reject, keep or evolve; found '\(s)'") }
                unknown = u
            case "max_columns": maxColumns = (try int(v, min: 1), v)
            case "empty_as_null": emptyAsNull = (try bool(v), v)
            case "partition_by": partitionBy = v
            case "table_format": format = try self.tableFormat(v)
            case "partition_columns_in_file": inFile = try bool(v)
            case "time_partition":
                let s = try string(v)
                guard let g = TimeGranularity(rawValue: s) else { throw error(v, "expected hour, day, month, year or none; found '\(s)'") }
                granularity = g
                granularityNode = v
            default: columnsNode = v
            }
        }
        guard let stream else {
            throw error(n.child("stream", n.node), "missing: the Redis stream of this entity")
        }
        guard let columnsNode else { throw error(n.child("columns", n.node), "missing: at least one column") }
        var columns: [ColumnConfig] = []
        for (cname, cv) in try mapping(columnsNode) {
            columns.append(try column(cname, cv, payload: payload))
        }
        guard !columns.isEmpty || unknown == .evolve else { throw error(columnsNode, "at least one column is required") }
        var sources = Set<[String]>()
        for c in columns where !sources.insert(c.source).inserted {
            throw error(columnsNode.child(c.name, columnsNode.node), "another column already reads source \(c.source.joined(separator: "."))")
        }
        if let (t, tn) = time {
            guard let col = columns.first(where: { $0.name == t }) else { throw error(tn, "no column named \(t)") }
            switch col.type {
            case .timestamp, .date: break
            default: throw error(tn, "the time column must be a timestamp or a date, not \(col.type.description)")
            }
        }
        if let (m, mn) = maxColumns {
            guard m >= columns.count else { throw error(mn, "the entity declares \(columns.count) columns, more than max_columns \(m)") }
            guard m <= 10_000 else { throw error(mn, "at most 10000") }
        }
        var entity = EntityConfig(name: name, stream: stream, route: route, payload: payload, timeColumn: time?.0,
                                  unknownFields: unknown, columns: columns)
        if let (m, _) = maxColumns { entity.maxColumns = m }
        if format == .delta {
            for c in columns {
                if let why = Self.deltaRefusal(c.type) {
                    throw error(columnsNode.child(c.name, columnsNode.node), "\(why) (table_format: delta)")
                }
            }
        }
        entity.partitionColumnsInFile = inFile
        if let pn = partitionBy { entity.partitionBy = try partitionColumns(pn, columns: columns) }
        entity.tableFormat = format
        if format == .delta && !entity.partitionBy.isEmpty {
            // Delta writers put only the partition columns in the path, and polars' scan_delta
            // refuses a path with other `name=value` segments: no time segments here.
            if let gn = granularityNode, granularity != .none {
                throw error(gn, "a Delta table with partition_by has no time segments in its keys (Delta readers such as polars refuse "
                    + "other name=value segments): leave time_partition out or set it to none; time filters skip files by their statistics")
            }
            granularity = .none
        }
        entity.timePartition = granularity
        if let (e, en) = emptyAsNull {
            guard case .fields = payload else {
                throw error(en, "only with payload: fields (a JSON payload says null itself)")
            }
            entity.emptyAsNull = e
        }
        return entity
    }

    /// `partition_by`: a list of declared scalar columns (not float, binary or json), each once.
    func partitionColumns(_ n: YAMLNode, columns: [ColumnConfig]) throws(ConfigError) -> [String] {
        let items: [YAMLNode]
        if case .sequence(let s) = n.node {
            items = s.enumerated().map { YAMLNode(node: $0.element, path: "\(n.path)[\($0.offset)]") }
        } else {
            items = [n]
        }
        guard items.count <= 16 else { throw error(n, "at most 16 partition columns") }
        var out: [String] = []
        for item in items {
            let name = try nonEmpty(item)
            guard let col = columns.first(where: { $0.name == name }) else {
                throw error(item, "no declared column named \(name) (a partition column must be one of the entity's columns)")
            }
            guard !out.contains(name) else { throw error(item, "\(name) is listed twice") }
            if let why = Self.partitionRefusal(col.type) {
                throw error(item, "\(name) cannot partition: \(why)")
            }
            out.append(name)
        }
        return out
    }

    /// Why a column of this type cannot be in a Delta table (nil: it can): Delta timestamps hold
    /// microseconds, so nanoseconds would be cut.
    static func deltaRefusal(_ type: ColumnType) -> String? {
        switch type {
        case .timestamp(.nanos, _):
            return "timestamp(ns) cannot be a Delta column: Delta timestamps hold microseconds; use timestamp(us), or table_format: parquet"
        case .list(let e): return deltaRefusal(e.type)
        case .map(let v): return deltaRefusal(v.type)
        case .structure(let fields):
            for f in fields { if let why = deltaRefusal(f.type) { return why } }
            return nil
        default: return nil
        }
    }

    /// Why a column of this type cannot be a partition column (nil: it can).
    static func partitionRefusal(_ type: ColumnType) -> String? {
        if type.isNested { return "it is a nested column (\(type.description)); partition values are scalars" }
        switch type {
        case .float32, .float64: return "it is a float column; equal values may print differently, and NaN has no partition"
        case .binary: return "it is a binary column; partition values are text"
        case .json: return "it is a json column; a document is not a partition value"
        default: return nil
        }
    }

    func column(_ name: String, _ n: YAMLNode, payload: EntityConfig.Payload) throws(ConfigError) -> ColumnConfig {
        guard !name.isEmpty, !name.hasPrefix("_") else {
            throw error(n, "column names must not be empty or start with _ (reserved for \(SystemColumns.streamID), \(SystemColumns.extra))")
        }
        var typeNode = n
        var source: [String]?
        if case .mapping = n.node {
            var found: YAMLNode?
            for (key, v) in try mapping(n, allowed: ["type", "source"]) {
                if key == "type" { found = v } else {
                    let s = try nonEmpty(v)
                    if case .fields = payload {
                        source = [s]
                    } else {
                        let parts = s.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
                        guard !parts.contains(where: \.isEmpty) else { throw error(v, "empty segment in source path '\(s)'") }
                        source = parts
                    }
                }
            }
            guard let found else { throw error(n.child("type", n.node), "missing: the column type") }
            typeNode = found
        }
        let text = try string(typeNode)
        do {
            let (type, nullable) = try ColumnTypeParser.parseField(text)
            return ColumnConfig(name: name, type: type, nullable: nullable, source: source)
        } catch {
            throw self.error(typeNode, error.description)
        }
    }
}

extension ColumnType {
    /// Why a column of this type cannot be in a Delta table (nil: it can).
    public var deltaRefusal: String? { Reader.deltaRefusal(self) }
}
