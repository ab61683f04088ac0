#if canImport(Glibc)
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a Parquet file's metadata could not be read.
public enum ParquetReadError: Error, Equatable, CustomStringConvertible {
    /// open/read/stat failed (`errno` given).
    case io(path: String, operation: String, errno: Int32)
    /// Shorter than the 12 bytes of two magics and a footer length.
    case fileTooSmall(size: Int)
    /// The first four bytes are not `PAR1`.
    case badHeaderMagic([UInt8])
    /// The last four bytes are not `PAR1` (`PARE` would be an encrypted footer).
    case badFooterMagic([UInt8])
    /// The footer length points outside the file.
    case badFooterLength(length: Int, fileSize: Int)
    /// The footer, a page header or an index is not valid Thrift.
    case invalidThrift(what: String, ThriftDecodingError)
    /// A structure's offset/length lies outside the file.
    case outOfRange(what: String, offset: Int64, length: Int64, fileSize: Int)
    /// The footer decodes but its counts do not fit together (a negative or overlong
    /// `num_children`, a schema nested past ``ParquetMetadataReader/maximumSchemaDepth``,
    /// a negative row or value count).
    case invalidFooter(String)

    public var description: String {
        switch self {
        case let .io(path, op, e):
            switch e {
            case ENOENT: "no such file: \(path)"
            case EACCES, EPERM: "permission denied: \(path)"
            case EISDIR: "\(path) is a directory"
            default: "\(op) \(path): \(String(cString: strerror(e)))"
            }
        case let .fileTooSmall(size): "not a Parquet file (only \(size) bytes)"
        case let .badHeaderMagic(b): "not a Parquet file (starts with \(Self.shown(b)), expected \"PAR1\")"
        case let .badFooterMagic(b):
            b == Array("PARE".utf8) ? "an encrypted Parquet file (ends with \"PARE\"): encrypted footers cannot be read"
                : "not a Parquet file or a truncated one (ends with \(Self.shown(b)), expected \"PAR1\")"
        case let .badFooterLength(l, s): "footer length \(l) does not fit a file of \(s) bytes"
        case let .invalidThrift(what, e): "invalid \(what): \(e)"
        case let .outOfRange(what, o, l, s): "\(what) at \(o) (+\(l)) lies outside the file of \(s) bytes"
        case let .invalidFooter(problem): "invalid footer: \(problem)"
        }
    }

    /// Bytes as quoted text: printable ASCII as is, `"` and `\` escaped, anything else as `\xNN`.
    static func shown(_ bytes: [UInt8]) -> String {
        var out = "\""
        for b in bytes {
            switch b {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): out += "\\" + String(UnicodeScalar(b))
            case 0x20...0x7E: out += String(UnicodeScalar(b))
            default:
                let hex = String(b, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out + "\""
    }
}

/// Reads a Parquet footer and the structures it points to (page index, bloom filters,
/// page headers) back into the metadata values. Used by tests and `lakewriter inspect`.
public enum ParquetMetadataReader {
    static let magic: [UInt8] = Array("PAR1".utf8)
    /// Deepest schema (groups within groups, the root not counted) a footer may declare.
    /// Thrift struct nesting is bounded separately (``ThriftCompactReader``, 64).
    public static let maximumSchemaDepth = 128

    /// Reads only the tail of the file (and the first four bytes), not the data.
    public static func read(path: String) throws -> FileMetaData {
        let file = try ParquetFileSource(path: path)
        return try readFooter(file)
    }

    public static func read(bytes: [UInt8]) throws -> FileMetaData {
        try readFooter(.bytes(bytes))
    }

    public static func readColumnIndex(path: String, chunk: ColumnChunk) throws -> ColumnIndex? {
        try readColumnIndex(ParquetFileSource(path: path), chunk)
    }

    public static func readColumnIndex(bytes: [UInt8], chunk: ColumnChunk) throws -> ColumnIndex? {
        try readColumnIndex(.bytes(bytes), chunk)
    }

    public static func readOffsetIndex(path: String, chunk: ColumnChunk) throws -> OffsetIndex? {
        try readOffsetIndex(ParquetFileSource(path: path), chunk)
    }

    public static func readOffsetIndex(bytes: [UInt8], chunk: ColumnChunk) throws -> OffsetIndex? {
        try readOffsetIndex(.bytes(bytes), chunk)
    }

    /// The chunk's split-block bloom filter, or nil when it has none.
    public static func readBloomFilter(path: String, chunk: ColumnChunk) throws -> SplitBlockBloomFilter? {
        try readBloomFilter(ParquetFileSource(path: path), chunk)
    }

    public static func readBloomFilter(bytes: [UInt8], chunk: ColumnChunk) throws -> SplitBlockBloomFilter? {
        try readBloomFilter(.bytes(bytes), chunk)
    }

    /// The page header at `offset` and its encoded length (the page data follows it).
    public static func readPageHeader(bytes: [UInt8], at offset: Int) throws -> (header: PageHeader, length: Int) {
        guard offset >= 0 && offset < bytes.count else {
            throw ParquetReadError.outOfRange(what: "page header", offset: Int64(offset), length: 0, fileSize: bytes.count)
        }
        var r = ThriftCompactReader(bytes, position: offset)
        do {
            let h = try PageHeader(from: &r)
            return (h, r.position - offset)
        } catch let e as ThriftDecodingError {
            throw ParquetReadError.invalidThrift(what: "page header at \(offset)", e)
        }
    }

    // MARK: Implementation

    static func readFooter(_ file: ParquetFileSource) throws -> FileMetaData {
        let size = file.size
        guard size >= 12 else { throw ParquetReadError.fileTooSmall(size: size) }
        let head = try file.read(offset: 0, length: 4)
        guard head == magic else { throw ParquetReadError.badHeaderMagic(head) }
        let tail = try file.read(offset: size - 8, length: 8)
        guard Array(tail[4..<8]) == magic else { throw ParquetReadError.badFooterMagic(Array(tail[4..<8])) }
        let length = Int(UInt32(tail[0]) | UInt32(tail[1]) << 8 | UInt32(tail[2]) << 16 | UInt32(tail[3]) << 24)
        guard length > 0 && length <= size - 12 else {
            throw ParquetReadError.badFooterLength(length: length, fileSize: size)
        }
        let footer = try file.read(offset: size - 8 - length, length: length)
        let meta = try decode(FileMetaData.self, footer, "footer")
        try validate(meta)
        return meta
    }

    /// Checks the counts of a decoded footer against each other: the schema tree
    /// (`num_children` neither negative nor past the elements that follow, every element
    /// consumed, at most ``maximumSchemaDepth`` deep) and the row and value counts.
    public static func validate(_ meta: FileMetaData) throws {
        func invalid(_ s: String) -> ParquetReadError { .invalidFooter(s) }
        let schema = meta.schema
        guard let root = schema.first else { throw invalid("the schema is empty") }
        // Children still expected by each open group, innermost last.
        var open: [Int] = []
        func enter(_ e: SchemaElement, at i: Int) throws {
            let n = Int(e.numChildren ?? 0)
            guard n >= 0 else { throw invalid("schema element \(i) (\(e.name)) has num_children \(n)") }
            guard n <= schema.count - i - 1 else {
                throw invalid("schema element \(i) (\(e.name)) has num_children \(n) but \(schema.count - i - 1) elements follow")
            }
            guard n > 0 else { return }
            guard open.count < maximumSchemaDepth else {
                throw invalid("schema nested deeper than \(maximumSchemaDepth) levels at element \(i) (\(e.name))")
            }
            open.append(n)
        }
        try enter(root, at: 0)
        var i = 1
        while let remaining = open.last {
            if remaining == 0 { open.removeLast(); continue }
            open[open.count - 1] = remaining - 1
            guard i < schema.count else {
                throw invalid("the schema ends inside a group: \(open.reduce(0, +) + 1) more elements expected")
            }
            try enter(schema[i], at: i)
            i += 1
        }
        guard i == schema.count else {
            throw invalid("\(schema.count - i) schema elements after the root's \(root.numChildren ?? 0) children")
        }
        guard meta.numRows >= 0 else { throw invalid("num_rows \(meta.numRows)") }
        for (g, rg) in meta.rowGroups.enumerated() {
            guard rg.numRows >= 0, rg.totalByteSize >= 0, (rg.totalCompressedSize ?? 0) >= 0 else {
                throw invalid("row group \(g) has num_rows \(rg.numRows), total_byte_size \(rg.totalByteSize)"
                              + ", total_compressed_size \(rg.totalCompressedSize.map(String.init) ?? "-")")
            }
            for (c, chunk) in rg.columns.enumerated() {
                guard let m = chunk.metaData else { continue }
                guard m.numValues >= 0, m.totalCompressedSize >= 0, m.totalUncompressedSize >= 0 else {
                    throw invalid("row group \(g) column \(c) has num_values \(m.numValues), total_compressed_size "
                                  + "\(m.totalCompressedSize), total_uncompressed_size \(m.totalUncompressedSize)")
                }
            }
        }
    }

    static func readColumnIndex(_ file: ParquetFileSource, _ chunk: ColumnChunk) throws -> ColumnIndex? {
        guard let offset = chunk.columnIndexOffset, let length = chunk.columnIndexLength else { return nil }
        let bytes = try file.read(checked: offset, Int64(length), "column index")
        return try decode(ColumnIndex.self, bytes, "column index")
    }

    static func readOffsetIndex(_ file: ParquetFileSource, _ chunk: ColumnChunk) throws -> OffsetIndex? {
        guard let offset = chunk.offsetIndexOffset, let length = chunk.offsetIndexLength else { return nil }
        let bytes = try file.read(checked: offset, Int64(length), "offset index")
        return try decode(OffsetIndex.self, bytes, "offset index")
    }

    static func readBloomFilter(_ file: ParquetFileSource, _ chunk: ColumnChunk) throws -> SplitBlockBloomFilter? {
        guard let meta = chunk.metaData, let offset = meta.bloomFilterOffset else { return nil }
        // Without bloom_filter_length (older writers) read enough for any header first.
        let guess = Int64(meta.bloomFilterLength ?? 256)
        let available = Int64(file.size) - offset
        var bytes = try file.read(checked: offset, min(guess, max(available, 0)), "bloom filter")
        var r = ThriftCompactReader(bytes)
        let header: BloomFilterHeader
        do { header = try BloomFilterHeader(from: &r) } catch let e as ThriftDecodingError {
            throw ParquetReadError.invalidThrift(what: "bloom filter header", e)
        }
        let headerLength = r.position
        guard header.numBytes >= 0 && Int(header.numBytes) <= SplitBlockBloomFilter.maximumBytes else {
            throw ParquetReadError.outOfRange(what: "bloom filter bitset", offset: offset, length: Int64(header.numBytes), fileSize: file.size)
        }
        let total = Int64(headerLength) + Int64(header.numBytes)
        if Int64(bytes.count) < total {
            bytes = try file.read(checked: offset, total, "bloom filter")
        }
        let bitset = Array(bytes[headerLength..<Int(total)])
        guard let filter = SplitBlockBloomFilter(bitset: bitset) else {
            throw ParquetReadError.outOfRange(what: "bloom filter bitset (\(header.numBytes) bytes, not a multiple of 32)",
                                              offset: offset, length: total, fileSize: file.size)
        }
        return filter
    }

    static func decode<T: ThriftCodable>(_: T.Type, _ bytes: [UInt8], _ what: String) throws -> T {
        do { return try T(thriftBytes: bytes) } catch let e as ThriftDecodingError {
            throw ParquetReadError.invalidThrift(what: what, e)
        }
    }
}

/// Random access to a whole in-memory file or an open file descriptor.
enum ParquetFileSource {
    case bytes([UInt8])
    case file(FileDescriptorBox)

    init(path: String) throws {
        self = .file(try FileDescriptorBox(path: path))
    }

    var size: Int {
        switch self {
        case .bytes(let b): b.count
        case .file(let f): f.size
        }
    }

    func read(checked offset: Int64, _ length: Int64, _ what: String) throws -> [UInt8] {
        guard offset >= 0, length >= 0, offset <= Int64(size), length <= Int64(size) - offset else {
            throw ParquetReadError.outOfRange(what: what, offset: offset, length: length, fileSize: size)
        }
        return try read(offset: Int(offset), length: Int(length))
    }

    func read(offset: Int, length: Int) throws -> [UInt8] {
        switch self {
        case .bytes(let b): return Array(b[offset..<offset + length])
        case .file(let f): return try f.read(offset: offset, length: length)
        }
    }
}

/// Owns a read-only descriptor, closed when the last reference goes away.
final class FileDescriptorBox {
    let fd: Int32
    let path: String
    let size: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw ParquetReadError.io(path: path, operation: "open", errno: errno) }
        var st = stat()
        guard fstat(fd, &st) == 0 else {
            let e = errno
            close(fd)
            throw ParquetReadError.io(path: path, operation: "fstat", errno: e)
        }
        self.fd = fd
        self.size = Int(st.st_size)
    }

    deinit { close(fd) }

    func read(offset: Int, length: Int) throws -> [UInt8] {
        try [UInt8](unsafeUninitializedCapacity: length) { buf, count in
            var done = 0
            while done < length {
                let n = pread(fd, buf.baseAddress! + done, length - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ParquetReadError.io(path: path, operation: "pread", errno: errno)
                }
                if n == 0 { throw ParquetReadError.outOfRange(what: "read", offset: Int64(offset), length: Int64(length), fileSize: size) }
                done += n
            }
            count = length
        }
    }
}
