/// The page compression a writer uses. lakewriter never writes the Hadoop-framed LZ4
/// codec (several readers cannot read it); `lz4Raw` is the raw LZ4 block format.
public enum Compression: Sendable, Equatable, Hashable {
    case uncompressed
    case snappy
    /// RFC 1952 gzip members (not raw zlib): what every Parquet reader expects for GZIP.
    case gzip(level: Int = 6)
    case zstd(level: Int = 3)
    case lz4Raw

    /// The codec recorded in `ColumnMetaData.codec`.
    public var codec: CompressionCodec {
        switch self {
        case .uncompressed: .uncompressed
        case .snappy: .snappy
        case .gzip: .gzip
        case .zstd: .zstd
        case .lz4Raw: .lz4Raw
        }
    }
}

/// A codec library call failed.
public struct CompressionError: Error, Equatable, CustomStringConvertible {
    public var codec: CompressionCodec
    public var message: String

    public init(codec: CompressionCodec, message: String) {
        self.codec = codec
        self.message = message
    }

    public var description: String { "\(codec) compression failed: \(message)" }
}

/// The codec as lakewriter's configuration spells it (`none`, `snappy`, `lz4_raw`), for messages.
extension CompressionCodec: CustomStringConvertible {
    public var description: String {
        switch self {
        case .uncompressed: "none"
        case .snappy: "snappy"
        case .gzip: "gzip"
        case .lzo: "lzo"
        case .brotli: "brotli"
        case .lz4: "lz4"
        case .zstd: "zstd"
        case .lz4Raw: "lz4_raw"
        }
    }
}
