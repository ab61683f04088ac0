/// How a leaf column's values are stored (the Parquet physical type).
public enum ColumnStorage: Sendable, Hashable {
    case boolean, int32, int64, float, double, byteArray
    case fixedLenByteArray(Int)
}

/// One leaf column of a schema: its path, levels and storage.
///
/// Levels follow the Dremel encoding: the definition level counts how many
/// optional or repeated nodes on the path are present; the repetition level
/// says at which repeated node a new entry starts (0 = a new row).
public struct ColumnDescriptor: Sendable, Hashable {
    /// Repetition of one node on the path from the root to the leaf.
    public enum Repetition: Sendable, Hashable { case required, optional, repeated }

    /// One node on the path (groups and the leaf itself), with its repetition.
    public struct PathNode: Sendable, Hashable {
        public var name: String
        public var repetition: Repetition
    }

    /// Names from the top-level field down to the leaf (`["tags", "list", "element"]`).
    public let path: [String]
    public let nodes: [PathNode]
    /// The leaf's type as given in the schema.
    public let type: ParquetType
    public let storage: ColumnStorage
    /// Position among the schema's leaf columns.
    public let index: Int
    public let maxDefinitionLevel: Int
    public let maxRepetitionLevel: Int
    /// Definition level at which each node on the path becomes present (required nodes
    /// share their parent's level).
    public let definitionLevelOfNode: [Int]

    public var dottedPath: String { path.joined(separator: ".") }
    public var name: String { path.last ?? "" }

    init(path: [String], nodes: [PathNode], type: ParquetType, storage: ColumnStorage, index: Int) {
        self.path = path
        self.nodes = nodes
        self.type = type
        self.storage = storage
        self.index = index
        var d = 0, r = 0
        var levels: [Int] = []
        for n in nodes {
            switch n.repetition {
            case .required: break
            case .optional: d += 1
            case .repeated: d += 1; r += 1
            }
            levels.append(d)
        }
        self.maxDefinitionLevel = d
        self.maxRepetitionLevel = r
        self.definitionLevelOfNode = levels
    }

    /// Bytes of a FIXED_LEN_BYTE_ARRAY decimal of this precision (smallest n with 10^p - 1 < 2^(8n-1)).
    static func decimalByteWidth(precision: Int) -> Int {
        var n = 1
        while true {
            // 8n-1 bits hold magnitudes up to 2^(8n-1)-1; compare digits: log10(2^(8n-1)) >= p
            let digits = Double(8 * n - 1) * 0.30102999566398119521
            if digits >= Double(precision) { return n }
            n += 1
        }
    }

    static func storage(for type: ParquetType, column: String) throws(ParquetError) -> ColumnStorage {
        switch type {
        case .boolean: return .boolean
        case .int8, .int16, .int32, .uint8, .uint16, .uint32, .date: return .int32
        case .int64, .uint64: return .int64
        case .float: return .float
        case .double: return .double
        case .binary, .string, .json, .enumeration: return .byteArray
        case .fixedBinary(let n):
            guard n > 0 else { throw ParquetError(.invalidSchema, column: column, message: "fixed length must be > 0") }
            return .fixedLenByteArray(n)
        case .uuid: return .fixedLenByteArray(16)
        case .time(let unit, _): return unit == .millis ? .int32 : .int64
        case .timestamp: return .int64
        case .decimal(let p, let s):
            guard (1...38).contains(p), (0...p).contains(s) else {
                throw ParquetError(.invalidSchema, column: column,
                                   message: "decimal(\(p),\(s)) needs 1 <= precision <= 38 and 0 <= scale <= precision")
            }
            if p <= 9 { return .int32 }
            if p <= 18 { return .int64 }
            return .fixedLenByteArray(decimalByteWidth(precision: p))
        case .list, .structure, .map:
            throw ParquetError(.invalidSchema, column: column, message: "group used as a leaf")
        }
    }
}
