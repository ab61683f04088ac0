extension LakewriterConfig {
    /// The resolved configuration as YAML with every default filled in and secrets masked
    /// (access keys, secret keys, session tokens, passwords in URLs): what `check-config` prints.
    public var maskedYAML: String {
        func q(_ s: String) -> String { JSONText.quoted(s) }
        func d(_ v: Duration) -> String { ConfigSyntax.format(v) }
        func z(_ v: Int64) -> String { ConfigSyntax.formatSize(v) }
        var out = "redis:\n"
        out += "  url: \(q(Self.maskURL(redis.url)))\n"
        if redis.cluster { out += "  cluster: true\n" }
        if let p = redis.sentinelPassword { out += "  sentinel_password: \(q(Self.mask(p)))\n" }
        out += "  group: \(q(redis.group))\n  consumer: \(q(redis.consumer))\n  start: \(q(redis.start.description))\n"
        out += "  batch: \(redis.batch)\n"
        out += "  block: \(d(redis.block))\n  claim_idle: \(d(redis.claimIdle))\n  route_field: \(q(redis.routeField))\n"
        out += "  consumer_lease: \(d(redis.consumerLease))\n"
        out += "  dead_letter_max_length: \(redis.deadLetterMaxLength.map(String.init) ?? "none")\n"
        if redis.url.hasPrefix("rediss://") {
            out += "  tls:\n"
            out += "    ca_file: \(redis.tls.caFile.map(q) ?? "null")  # null: the system's trust store\n"
            if let c = redis.tls.certFile { out += "    cert_file: \(q(c))\n" }
            if let k = redis.tls.keyFile { out += "    key_file: \(q(k))\n" }
            if let n = redis.tls.serverName { out += "    server_name: \(q(n))\n" }
            out += "    insecure_skip_verify: \(redis.tls.insecureSkipVerify)\n"
        }
        out += "  max_deliveries: \(redis.maxDeliveries.map(String.init) ?? "none")\n"
        out += "storage:\n  url: \(q(Self.maskURL(storage.url)))\n"
        if let e = storage.endpoint { out += "  endpoint: \(q(Self.maskURL(e)))\n" }
        out += "  region: \(q(storage.region))\n  path_style: \(storage.pathStyle)\n"
        if let k = storage.accessKeyID { out += "  access_key_id: \(q(Self.mask(k)))\n" }
        if let s = storage.secretAccessKey { out += "  secret_access_key: \(q(Self.mask(s)))\n" }
        if let t = storage.sessionToken { out += "  session_token: \(q(Self.mask(t)))\n" }
        if let c = storage.caFile { out += "  ca_file: \(q(c))\n" }
        out += "  part_size: \(z(storage.partSize))\n"
        out += "  table_format: \(storage.tableFormat.rawValue)\n"
        if storage.tableFormat == .delta || entities.contains(where: { $0.tableFormat == .delta }) {
            out += "  delta_checkpoint_interval: \(storage.deltaCheckpointInterval)\n"
        }
        out += "parquet:\n  compression: \(parquet.compression.rawValue)\n"
        if let l = parquet.compressionLevel { out += "  compression_level: \(l)\n" }
        out += "  row_group_rows: \(parquet.rowGroupRows)\n  row_group_bytes: \(z(parquet.rowGroupBytes))\n  page_bytes: \(z(parquet.pageBytes))\n  dictionary: \(parquet.dictionary)\n"
        out += "flush:\n  max_rows: \(flush.maxRows)\n  max_bytes: \(z(flush.maxBytes))\n  max_age: \(d(flush.maxAge))\n"
        out += "  idle: \(d(flush.idle))\n  memory_limit: \(z(flush.memoryLimit))\n  shutdown_grace: \(d(flush.shutdownGrace))\n"
        out += "  max_open_partitions: \(flush.maxOpenPartitions)\n"
        out += "http:\n  listen: \(q(http.listen))\n  liveness_timeout: \(http.livenessTimeout.map(d) ?? "none")\n"
        out += "log:\n  level: \(log.level)\n  format: \(log.format)\n"
        out += "dead_letters:\n  breaker: \(deadLetters.breaker ? "on" : "off")\n  breaker_ratio: \(deadLetters.breakerRatio)\n"
        out += "  breaker_window: \(d(deadLetters.breakerWindow))\n  breaker_min_entries: \(deadLetters.breakerMinEntries)\n"
        if compaction.enabled {
            out += "compaction:\n  enabled: true\n  interval: \(d(compaction.interval))\n  older_than: \(d(compaction.olderThan))\n"
            out += "  target_size: \(z(compaction.targetSize))\n  min_files: \(compaction.minFiles)\n"
        }
        out += "entities:\n"
        for e in entities {
            out += "  \(e.name):\n    stream: \(q(e.stream))\n"
            if let r = e.route { out += "    route: \(q(r))\n" }
            out += "    payload: \(q(e.payload.description))\n"
            if case .fields = e.payload { out += "    empty_as_null: \(e.emptyAsNull)\n" }
            out += "    time: \(e.timeColumn.map(q) ?? "null")  # null: the entry id's time\n"
            out += "    time_partition: \(e.timePartition.rawValue)\n"
            if e.tableFormat != storage.tableFormat { out += "    table_format: \(e.tableFormat.rawValue)\n" }
            if !e.partitionBy.isEmpty {
                out += "    partition_by: [\(e.partitionBy.map(q).joined(separator: ", "))]\n"
                out += "    partition_columns_in_file: \(e.partitionColumnsInFile)\n"
            }
            out += "    unknown_fields: \(e.unknownFields.rawValue)\n"
            if e.unknownFields == .evolve { out += "    max_columns: \(e.maxColumns)\n" }
            out += "    columns:\n"
            for c in e.columns {
                let type = c.type.description + (c.nullable ? "" : " not null")
                if c.source == [c.name] {
                    out += "      \(c.name): \(q(type))\n"
                } else {
                    out += "      \(c.name): {type: \(q(type)), source: \(q(c.source.joined(separator: ".")))}\n"
                }
            }
        }
        return out
    }

    /// A secret, masked whole: `****` (empty stays empty, so a missing secret is visible).
    static func mask(_ s: String) -> String {
        s.isEmpty ? "" : "****"
    }

    /// `scheme://user:password@host` → `scheme://user:****@host`. The password is masked whole
    /// whatever it contains: the userinfo ends at the last `@` (a password with an unescaped `/`,
    /// `#`, `?` or `@` is still masked completely).
    public static func maskURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        guard let at = rest.lastIndex(of: "@") else { return url }
        let userinfo = rest[..<at]
        let masked: String
        if let colon = userinfo.firstIndex(of: ":") {
            masked = userinfo[..<colon] + ":****"
        } else {
            masked = "****" // redis://password@host: the whole userinfo is the secret
        }
        return String(url[..<schemeEnd.upperBound]) + masked + String(rest[at...])
    }
}
