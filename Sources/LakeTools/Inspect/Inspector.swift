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
        /// Column chunks in the row group, listed or not.
        public var totalColumns: Int
    }

    public var path: String
    public var fileBytes: Int64
    public var createdBy: String?
    public var rows: Int64
    public var version: Int32
    /// At most ``Inspector/Limits/schemaElements`` elements; `schemaOmitted` more are not listed.
    public var schema: [SchemaNode]
    public var rowGroups: [RowGroupInfo]
    public var keyValueMetadata: [(key: String, value: String)]
    /// Schema elements, row groups and key-value entries past the listing limits.
    public var schemaOmitted = 0
    public var rowGroupsOmitted = 0
    public var keyValueOmitted = 0
}

extension InspectReport.RowGroupInfo {
    /// Column chunks past ``Inspector/Limits/columnsPerRowGroup`` (not listed).
    public var columnsOmitted: Int { totalColumns - columns.count }
}

/// Builds an ``InspectReport`` with the Parquet footer reader.
public enum Inspector {
    /// Bounds on what a report lists, whatever the footer holds: the rest is counted
    /// (`… N more` in the text form, `*_omitted` in JSON).
    public enum Limits {
        public static let schemaElements = 1000
        public static let rowGroups = 100
        public static let columnsPerRowGroup = 1000
        public static let keyValueEntries = 100
        /// Longest min/max or key-value value in the text form, in characters.
        public static let textValue = 200
    }

    /// Reads the footer (which ``ParquetMetadataReader`` validates: counts, schema depth) and reports it.
    public static func inspect(path: String, displayPath: String? = nil) throws -> InspectReport {
        let meta = try ParquetMetadataReader.read(path: path)
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        return report(meta, path: displayPath ?? path, fileBytes: size)
    }

    public static func report(_ meta: FileMetaData, path: String, fileBytes: Int64) -> InspectReport {
        // Walk the flattened schema (depth-first with child counts) without recursion, so no
        // footer can exhaust the stack; negative counts count as none and the walk stops at
        // the last element. Leaves are kept in order: the n-th column chunk is the n-th leaf.
        var nodes: [InspectReport.SchemaNode] = []
        var leaves: [SchemaElement] = []
        var walked = 0
        // Open groups: their path and the children still to come.
        var open: [(path: String, remaining: Int)] = [("", max(0, Int(meta.schema.first?.numChildren ?? 0)))]
        var index = 1
        while let top = open.last, index < meta.schema.count {
            if top.remaining == 0 { open.removeLast(); continue }
            open[open.count - 1].remaining -= 1
            let e = meta.schema[index]
            index += 1
            let children = max(0, Int(e.numChildren ?? 0))
            let isLeaf = e.type != nil && children == 0
            let depth = open.count - 1
            walked += 1
            // Paths are built for listed nodes (and their ancestors) only.
            let listed = nodes.count < Limits.schemaElements
            let path = listed ? (top.path.isEmpty ? e.name : "\(top.path).\(e.name)") : ""
            if listed {
                nodes.append(.init(path: path, depth: depth, repetition: repetitionName(e.repetitionType),
                                   physical: isLeaf ? physicalName(e) : "group", logical: logicalName(e), isLeaf: isLeaf))
            }
            if isLeaf { leaves.append(e) } else if children > 0 { open.append((path, children)) }
        }

        let groups = meta.rowGroups.prefix(Limits.rowGroups).map { rg in
            InspectReport.RowGroupInfo(
                rows: rg.numRows,
                compressedBytes: rg.totalCompressedSize ?? rg.columns.reduce(0) { $0 &+ ($1.metaData?.totalCompressedSize ?? 0) },
                uncompressedBytes: rg.totalByteSize,
                columns: rg.columns.prefix(Limits.columnsPerRowGroup).enumerated().compactMap { i, c -> InspectReport.Chunk? in
                    guard let m = c.metaData else { return nil }
                    let path = m.pathInSchema.joined(separator: ".")
                    let element = i < leaves.count && leaves[i].name == m.pathInSchema.last ? leaves[i] : nil
                    let stats = m.statistics
                    let minBytes = stats?.minValue ?? stats?.min
                    let maxBytes = stats?.maxValue ?? stats?.max
                    return .init(path: path, codec: codecName(m.codec), encodings: m.encodings.map(encodingName),
                                 compressedBytes: m.totalCompressedSize, uncompressedBytes: m.totalUncompressedSize,
                                 values: m.numValues, nullCount: stats?.nullCount,
                                 min: minBytes.map { display($0, element) }, max: maxBytes.map { display($0, element) })
                },
                totalColumns: rg.columns.count)
        }
        let kv = meta.keyValueMetadata ?? []
        var report = InspectReport(path: path, fileBytes: fileBytes, createdBy: meta.createdBy, rows: meta.numRows,
                                   version: meta.version, schema: nodes, rowGroups: Array(groups),
                                   keyValueMetadata: kv.prefix(Limits.keyValueEntries).map { ($0.key, $0.value ?? "") })
        report.schemaOmitted = walked - nodes.count
        report.rowGroupsOmitted = meta.rowGroups.count - groups.count
        report.keyValueOmitted = kv.count - report.keyValueMetadata.count
        return report
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
                guard b.count <= 16 else { return hex(b) }
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

    static func formatDate(_ days: Int) -> String { ValueText.date(days: days) }

    static func perSecond(_ u: TimeUnit) -> Int64 {
        switch u {
        case .millis: 1000
        case .micros: 1_000_000
        case .nanos: 1_000_000_000
        }
    }

    static func digits(_ u: TimeUnit) -> Int { u == .millis ? 3 : u == .micros ? 6 : 9 }

    static func formatTime(_ v: Int64, unit: TimeUnit) -> String {
        ValueText.time(v, perSecond: perSecond(unit), digits: digits(unit))
    }

    static func formatTimestamp(_ v: Int64, unit: TimeUnit, utc: Bool) -> String {
        ValueText.timestamp(v, perSecond: perSecond(unit), digits: digits(unit), utc: utc)
    }

    static func formatDecimal(_ v: Int128, scale: Int) -> String { ValueText.decimal(v, scale: scale) }

    static func formatUUID(_ b: [UInt8]) -> String { ValueText.uuid(b) }
}

extension InspectReport {
    /// The human-readable form: lists as bounded as the report, long values cut at
    /// ``Inspector/Limits/textValue`` characters.
    public var text: String {
        func cut(_ s: String) -> String {
            let limit = Inspector.Limits.textValue
            guard s.utf8.count > limit else { return s }
            let head = s.prefix(limit)
            return head.count < s.count ? "\(head)… (\(s.utf8.count) bytes)" : s
        }
        var out = "file: \(cut(path)) (\(fileBytes) bytes)\n"
        out += "created_by: \(cut(createdBy ?? "-"))\n"
        out += "rows: \(rows), row groups: \(rowGroups.count + rowGroupsOmitted), format version: \(version)\n"
        out += "schema:\n"
        for n in schema {
            let indent = String(repeating: "  ", count: n.depth + 1)
            let name = n.path.split(separator: ".").last.map(String.init) ?? n.path
            var line = "\(indent)\(n.repetition) \(n.physical) \(cut(name))"
            if !n.logical.isEmpty { line += " (\(n.logical))" }
            out += line + "\n"
        }
        if schemaOmitted > 0 { out += "  … \(schemaOmitted) more schema elements\n" }
        for (i, g) in rowGroups.enumerated() {
            out += "row group \(i): \(g.rows) rows, \(g.compressedBytes) bytes compressed, \(g.uncompressedBytes) uncompressed\n"
            for c in g.columns {
                out += "  \(cut(c.path)): \(c.codec) [\(c.encodings.prefix(16).joined(separator: ", "))\(c.encodings.count > 16 ? ", …" : "")]"
                    + " \(c.compressedBytes)/\(c.uncompressedBytes) bytes, \(c.values) values"
                if let n = c.nullCount { out += ", nulls \(n)" }
                if let mn = c.min, let mx = c.max { out += ", min \(cut(mn)), max \(cut(mx))" }
                out += "\n"
            }
            if g.columnsOmitted > 0 { out += "  … \(g.columnsOmitted) more columns\n" }
        }
        if rowGroupsOmitted > 0 { out += "… \(rowGroupsOmitted) more row groups\n" }
        if !keyValueMetadata.isEmpty {
            out += "key-value metadata:\n"
            for (k, v) in keyValueMetadata { out += "  \(cut(k)) = \(cut(v))\n" }
            if keyValueOmitted > 0 { out += "  … \(keyValueOmitted) more entries\n" }
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
        out += "}"
        // Present only when a listing limit cut something.
        if schemaOmitted > 0 { out += ",\"schema_omitted\":\(schemaOmitted)" }
        if rowGroupsOmitted > 0 { out += ",\"row_groups_omitted\":\(rowGroupsOmitted)" }
        let columnsOmitted = rowGroups.reduce(0) { $0 + $1.columnsOmitted }
        if columnsOmitted > 0 { out += ",\"columns_omitted\":\(columnsOmitted)" }
        if keyValueOmitted > 0 { out += ",\"key_value_omitted\":\(keyValueOmitted)" }
        out += "}"
        return out
    }
}
