import LakeModel
import LakeOutput
import LakeDecoding
import Foundation
import Parquet

/// What `lakewriter inspect` shows of a Parquet file, read from its footer only.
public struct InspectReport: Sendable {
    /// One schema element (group or leaf), depth-first.
    public struct SchemaNode: Sendable {
        /// Dotted path from the root (`lines.list.element.sku`).
        public var path: String
        public var depth: Int
        public var repetition: String
        /// Physical type for leaves (`INT64`, `FIXED_LEN_BYTE_ARRAY(16)`), `group` otherwise.
        public var physical: String
        /// Logical type (`TIMESTAMP(MICROS, UTC)`, `DECIMAL(12,2)`, `LIST`…), empty when none.
        public var logical: String
        public var isLeaf: Bool
    }

    /// One column chunk of a row group.
    public struct Chunk: Sendable {
        public var path: String
        public var codec: String
        public var encodings: [String]
        public var compressedBytes: Int64
        public var uncompressedBytes: Int64
        public var values: Int64
        public var nullCount: Int64?
        /// Decoded for display by type; nil when the chunk has no min/max.
        public var min: String?
        public var max: String?
    }

    /// One row group and its column chunks.
    public struct RowGroupInfo: Sendable {
        public var rows: Int64
        public var compressedBytes: Int64
        public var uncompressedBytes: Int64
        public var columns: [Chunk]
    }

    public var path: String
    public var fileBytes: Int64
    public var createdBy: String?
    public var rows: Int64
    public var version: Int32
    public var schema: [SchemaNode]
    public var rowGroups: [RowGroupInfo]
    public var keyValueMetadata: [(key: String, value: String)]
}

/// Builds an ``InspectReport`` with the Parquet footer reader.
public enum Inspector {
    public static func inspect(path: String, displayPath: String? = nil) throws -> InspectReport {
        let meta = try ParquetMetadataReader.read(path: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        return report(meta, path: displayPath ?? path, fileBytes: size)
    }

    public static func report(_ meta: FileMetaData, path: String, fileBytes: Int64) -> InspectReport {
        // Walk the flattened schema (depth-first with child counts) into paths, keeping each leaf's element.
        var nodes: [InspectReport.SchemaNode] = []
        var leaves: [String: SchemaElement] = [:]
        var index = 1
        func walk(prefix: String, depth: Int, count: Int) {
            for _ in 0..<count {
                guard index < meta.schema.count else { return }
                let e = meta.schema[index]
                index += 1
                let path = prefix.isEmpty ? e.name : "\(prefix).\(e.name)"
                let children = Int(e.numChildren ?? 0)
                let isLeaf = e.type != nil && children == 0
                nodes.append(.init(path: path, depth: depth, repetition: repetitionName(e.repetitionType),
                                   physical: isLeaf ? physicalName(e) : "group", logical: logicalName(e), isLeaf: isLeaf))
                if isLeaf { leaves[path] = e } else { walk(prefix: path, depth: depth + 1, count: children) }
            }
        }
        if let root = meta.schema.first { walk(prefix: "", depth: 0, count: Int(root.numChildren ?? 0)) }

        let groups = meta.rowGroups.map { rg in
            InspectReport.RowGroupInfo(
                rows: rg.numRows,
                compressedBytes: rg.totalCompressedSize ?? rg.columns.reduce(0) { $0 + ($1.metaData?.totalCompressedSize ?? 0) },
                uncompressedBytes: rg.totalByteSize,
                columns: rg.columns.compactMap { c -> InspectReport.Chunk? in
                    guard let m = c.metaData else { return nil }
                    let path = m.pathInSchema.joined(separator: ".")
                    let element = leaves[path]
                    let stats = m.statistics
                    let minBytes = stats?.minValue ?? stats?.min
                    let maxBytes = stats?.maxValue ?? stats?.max
                    return .init(path: path, codec: codecName(m.codec), encodings: m.encodings.map(encodingName),
                                 compressedBytes: m.totalCompressedSize, uncompressedBytes: m.totalUncompressedSize,
                                 values: m.numValues, nullCount: stats?.nullCount,
                                 min: minBytes.map { display($0, element) }, max: maxBytes.map { display($0, element) })
                })
        }
        return InspectReport(path: path, fileBytes: fileBytes, createdBy: meta.createdBy, rows: meta.numRows,
                             version: meta.version, schema: nodes, rowGroups: groups,
                             keyValueMetadata: (meta.keyValueMetadata ?? []).map { ($0.key, $0.value ?? "") })
    }

    static func repetitionName(_ r: FieldRepetitionType?) -> String {
        switch r {
        case .required: "required"
        case .optional: "optional"
        case .repeated: "repeated"
        case nil: ""
        }
    }

    static func physicalName(_ e: SchemaElement) -> String {
        switch e.type {
        case .boolean: "BOOLEAN"
        case .int32: "INT32"
        case .int64: "INT64"
        case .int96: "INT96"
        case .float: "FLOAT"
        case .double: "DOUBLE"
        case .byteArray: "BYTE_ARRAY"
        case .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY(\(e.typeLength ?? 0))"
        case nil: "group"
        }
    }

    static func unitName(_ u: TimeUnit) -> String {
        switch u {
        case .millis: "MILLIS"
        case .micros: "MICROS"
        case .nanos: "NANOS"
        }
    }

    static func logicalName(_ e: SchemaElement) -> String {
        if let l = e.logicalType {
            switch l {
            case .string: return "STRING"
            case .map: return "MAP"
            case .list: return "LIST"
            case .enum: return "ENUM"
            case .decimal(let s, let p): return "DECIMAL(\(p),\(s))"
            case .date: return "DATE"
            case .time(let utc, let u): return "TIME(\(unitName(u))\(utc ? ", UTC" : ""))"
            case .timestamp(let utc, let u): return "TIMESTAMP(\(unitName(u))\(utc ? ", UTC" : ""))"
            case .integer(let bits, let signed): return "\(signed ? "INT" : "UINT")(\(bits))"
            case .unknown: return "UNKNOWN"
            case .json: return "JSON"
            case .bson: return "BSON"
            case .uuid: return "UUID"
            case .float16: return "FLOAT16"
            }
        }
        if let c = e.convertedType {
            switch c {
            case .utf8: return "STRING"
            case .decimal: return "DECIMAL(\(e.precision ?? 0),\(e.scale ?? 0))"
            default: return "\(c)".uppercased()
            }
        }
        return ""
    }

    static func codecName(_ c: CompressionCodec) -> String {
        switch c {
        case .uncompressed: "UNCOMPRESSED"
        case .snappy: "SNAPPY"
        case .gzip: "GZIP"
        case .lzo: "LZO"
        case .brotli: "BROTLI"
        case .lz4: "LZ4"
        case .zstd: "ZSTD"
        case .lz4Raw: "LZ4_RAW"
        }
    }

    static func encodingName(_ e: Encoding) -> String {
        switch e {
        case .plain: "PLAIN"
        case .plainDictionary: "PLAIN_DICTIONARY"
        case .rle: "RLE"
        case .bitPacked: "BIT_PACKED"
        case .deltaBinaryPacked: "DELTA_BINARY_PACKED"
        case .deltaLengthByteArray: "DELTA_LENGTH_BYTE_ARRAY"
        case .deltaByteArray: "DELTA_BYTE_ARRAY"
        case .rleDictionary: "RLE_DICTIONARY"
        case .byteStreamSplit: "BYTE_STREAM_SPLIT"
        }
    }

    /// A statistics value as text, decoded by the column's physical and logical type.
    static func display(_ b: [UInt8], _ e: SchemaElement?) -> String {
        guard let e, let type = e.type else { return hex(b) }
        func le<T: FixedWidthInteger>(_: T.Type) -> T? {
            guard b.count == MemoryLayout<T>.size else { return nil }
            return b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        let logical = e.logicalType
        switch type {
        case .boolean: return b.first.map { $0 != 0 ? "true" : "false" } ?? hex(b)
        case .int32:
            guard let v = le(Int32.self) else { return hex(b) }
            switch logical {
            case .date: return formatDate(Int(v))
            case .decimal(let s, _): return formatDecimal(Int128(v), scale: Int(s))
            case .integer(_, false): return String(UInt32(bitPattern: v))
            case .time(_, let u): return formatTime(Int64(v), unit: u)
            default:
                if e.convertedType == .date { return formatDate(Int(v)) }
                if e.convertedType == .decimal { return formatDecimal(Int128(v), scale: Int(e.scale ?? 0)) }
                return String(v)
            }
        case .int64:
            guard let v = le(Int64.self) else { return hex(b) }
            switch logical {
            case .timestamp(let utc, let u): return formatTimestamp(v, unit: u, utc: utc)
            case .time(_, let u): return formatTime(v, unit: u)
            case .decimal(let s, _): return formatDecimal(Int128(v), scale: Int(s))
            case .integer(_, false): return String(UInt64(bitPattern: v))
            default:
                if e.convertedType == .decimal { return formatDecimal(Int128(v), scale: Int(e.scale ?? 0)) }
                return String(v)
            }
        case .float:
            guard let v = le(UInt32.self) else { return hex(b) }
            return "\(Float(bitPattern: v))"
        case .double:
            guard let v = le(UInt64.self) else { return hex(b) }
            return "\(Double(bitPattern: v))"
        case .byteArray, .fixedLenByteArray:
            switch logical {
            case .uuid where b.count == 16: return formatUUID(b)
            case .decimal(let s, _):
                var v: Int128 = b.first.map { $0 & 0x80 != 0 ? -1 : 0 } ?? 0
                for x in b { v = v << 8 | Int128(x) }
                return formatDecimal(v, scale: Int(s))
            case .string, .json, .enum:
                return String(decoding: b, as: UTF8.self)
            default:
                if e.convertedType == .utf8 || e.convertedType == .json { return String(decoding: b, as: UTF8.self) }
                return hex(b)
            }
        case .int96:
            return hex(b)
        }
    }

    static func hex(_ b: [UInt8]) -> String {
        "0x" + b.map { String($0, radix: 16).leftPad(2) }.joined()
    }

    static func formatDate(_ days: Int) -> String {
        let (y, m, d) = CivilCalendar.civilFromDays(days)
        return "\(String(y).leftPad(4))-\(String(m).leftPad(2))-\(String(d).leftPad(2))"
    }

    static func perSecond(_ u: TimeUnit) -> Int64 {
        switch u {
        case .millis: 1000
        case .micros: 1_000_000
        case .nanos: 1_000_000_000
        }
    }

    static func fraction(_ sub: Int64, _ u: TimeUnit) -> String {
        let digits = u == .millis ? 3 : u == .micros ? 6 : 9
        return sub == 0 ? "" : "." + String(sub).leftPad(digits)
    }

    static func formatTime(_ v: Int64, unit: TimeUnit) -> String {
        let ps = perSecond(unit)
        let secs = v / ps
        let sub = v % ps
        return "\(String(secs / 3600).leftPad(2)):\(String(secs / 60 % 60).leftPad(2)):\(String(secs % 60).leftPad(2))" + fraction(sub, unit)
    }

    static func formatTimestamp(_ v: Int64, unit: TimeUnit, utc: Bool) -> String {
        let ps = perSecond(unit)
        var secs = v / ps
        var sub = v % ps
        if sub < 0 { sub += ps; secs -= 1 }
        var days = secs / 86_400
        var tod = secs % 86_400
        if tod < 0 { tod += 86_400; days -= 1 }
        return formatDate(Int(days)) + "T" + formatTime(tod * ps + sub, unit: unit) + (utc ? "Z" : "")
    }

    static func formatDecimal(_ v: Int128, scale: Int) -> String {
        let negative = v < 0
        var digits = String(negative ? (0 - v).magnitude : v.magnitude)
        if scale > 0 {
            digits = digits.leftPad(scale + 1)
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
        }
        return (negative ? "-" : "") + digits
    }

    static func formatUUID(_ b: [UInt8]) -> String {
        let h = b.map { String($0, radix: 16).leftPad(2) }.joined()
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }
}

extension InspectReport {
    /// The human-readable form.
    public var text: String {
        var out = "file: \(path) (\(fileBytes) bytes)\n"
        out += "created_by: \(createdBy ?? "-")\n"
        out += "rows: \(rows), row groups: \(rowGroups.count), format version: \(version)\n"
        out += "schema:\n"
        for n in schema {
            let indent = String(repeating: "  ", count: n.depth + 1)
            let name = n.path.split(separator: ".").last.map(String.init) ?? n.path
            var line = "\(indent)\(n.repetition) \(n.physical) \(name)"
            if !n.logical.isEmpty { line += " (\(n.logical))" }
            out += line + "\n"
        }
        for (i, g) in rowGroups.enumerated() {
            out += "row group \(i): \(g.rows) rows, \(g.compressedBytes) bytes compressed, \(g.uncompressedBytes) uncompressed\n"
            for c in g.columns {
                out += "  \(c.path): \(c.codec) [\(c.encodings.joined(separator: ", "))] \(c.compressedBytes)/\(c.uncompressedBytes) bytes, \(c.values) values"
                if let n = c.nullCount { out += ", nulls \(n)" }
                if let mn = c.min, let mx = c.max { out += ", min \(mn), max \(mx)" }
                out += "\n"
            }
        }
        if !keyValueMetadata.isEmpty {
            out += "key-value metadata:\n"
            for (k, v) in keyValueMetadata { out += "  \(k) = \(v)\n" }
        }
        return out
    }

    /// The `--json` form: one object, keys in a stable order.
    public var json: String {
        func q(_ s: String) -> String { JSONText.quoted(s) }
        func opt(_ s: String?) -> String { s.map(q) ?? "null" }
        var out = "{\"path\":\(q(path)),\"file_bytes\":\(fileBytes),\"created_by\":\(opt(createdBy)),\"num_rows\":\(rows),"
        out += "\"format_version\":\(version),\"schema\":["
        out += schema.map {
            "{\"path\":\(q($0.path)),\"repetition\":\(q($0.repetition)),\"physical_type\":\(q($0.physical)),\"logical_type\":\(q($0.logical))}"
        }.joined(separator: ",")
        out += "],\"row_groups\":["
        out += rowGroups.map { g in
            "{\"num_rows\":\(g.rows),\"compressed_bytes\":\(g.compressedBytes),\"uncompressed_bytes\":\(g.uncompressedBytes),\"columns\":["
                + g.columns.map { c in
                    "{\"path\":\(q(c.path)),\"compression\":\(q(c.codec)),\"encodings\":[\(c.encodings.map(q).joined(separator: ","))],"
                        + "\"compressed_bytes\":\(c.compressedBytes),\"uncompressed_bytes\":\(c.uncompressedBytes),\"num_values\":\(c.values),"
                        + "\"null_count\":\(c.nullCount.map(String.init) ?? "null"),\"min\":\(opt(c.min)),\"max\":\(opt(c.max))}"
                }.joined(separator: ",") + "]}"
        }.joined(separator: ",")
        out += "],\"key_value_metadata\":{"
        out += keyValueMetadata.map { "\(q($0.key)):\(q($0.value))" }.joined(separator: ",")
        out += "}}"
        return out
    }
}
