/// Settings of a ``ParquetWriter``, with the defaults of the reference writers
/// (arrow C++ / arrow-rs / pyarrow) and per-column overrides.
public struct WriterProperties: Sendable {
    /// Data page format: v1 (default, read by everything) or v2.
    public enum DataPageVersion: Sendable, Hashable { case v1, v2 }

    /// Target size of a data page before compression (default 1 MiB).
    public var dataPageSize: Int = 1 << 20
    /// Maximum rows in one data page (default 20,000).
    public var dataPageRowLimit: Int = 20_000
    /// Dictionary size above which a column chunk falls back to PLAIN (default 1 MiB).
    public var dictionaryPageSizeLimit: Int = 1 << 20
    /// Maximum rows in a row group (default 1,048,576).
    public var maxRowGroupRows: Int = 1 << 20
    /// Estimated encoded bytes after which a row group is cut (default 128 MiB).
    public var maxRowGroupBytes: Int = 128 << 20
    public var dataPageVersion: DataPageVersion = .v1
    /// Page compression (default snappy, like pyarrow).
    public var compression: Compression = .snappy
    /// Dictionary encoding for columns without an override (never used for booleans).
    public var dictionaryEnabled: Bool = true
    /// Chunk and page statistics (min/max/null count).
    public var statisticsEnabled: Bool = true
    /// ColumnIndex and OffsetIndex for every column.
    public var pageIndexEnabled: Bool = true
    /// Byte-array min/max longer than this are truncated (the max rounded up). Default 64.
    public var statisticsTruncateLength: Int = 64
    /// Written as the file's `created_by`; keep the `<app> version <semver> (build <id>)` form.
    public var createdBy: String = LakewriterVersion.createdBy
    /// Key-value metadata stored in the footer (sorted by key).
    public var keyValueMetadata: [String: String] = [:]
    /// Overrides by dotted column path (`"address.city"`, `"tags.list.element"`).
    public var columns: [String: ColumnProperties] = [:]

    public init() {}
}

/// Per-column overrides of ``WriterProperties``; nil means "use the file default".
public struct ColumnProperties: Sendable {
    public var compression: Compression?
    public var dictionaryEnabled: Bool?
    public var statisticsEnabled: Bool?
    /// Split-block bloom filter for this column (off unless set).
    public var bloomFilter: BloomFilterProperties?

    public init(compression: Compression? = nil, dictionaryEnabled: Bool? = nil, statisticsEnabled: Bool? = nil,
                bloomFilter: BloomFilterProperties? = nil) {
        self.compression = compression
        self.dictionaryEnabled = dictionaryEnabled
        self.statisticsEnabled = statisticsEnabled
        self.bloomFilter = bloomFilter
    }
}

/// Sizing of a split-block bloom filter: expected distinct values and false-positive probability.
public struct BloomFilterProperties: Sendable, Hashable {
    public var distinctValues: Int
    public var falsePositiveProbability: Double

    public init(distinctValues: Int = 1_000_000, falsePositiveProbability: Double = 0.05) {
        self.distinctValues = distinctValues
        self.falsePositiveProbability = falsePositiveProbability
    }
}
