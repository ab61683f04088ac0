/// Thrift `BloomFilterAlgorithm` union (only the split-block algorithm exists).
public enum BloomFilterAlgorithm: Sendable, Equatable, Hashable {
    case block
}

/// Thrift `BloomFilterHash` union (only xxHash64 exists).
public enum BloomFilterHash: Sendable, Equatable, Hashable {
    case xxhash
}

/// Thrift `BloomFilterCompression` union (only uncompressed exists).
public enum BloomFilterCompression: Sendable, Equatable, Hashable {
    case uncompressed
}

/// Thrift `BloomFilterHeader`: precedes a bloom filter's bitset in the file.
public struct BloomFilterHeader: ThriftCodable {
    /// Size of the bitset that follows the header.
    public var numBytes: Int32
    public var algorithm: BloomFilterAlgorithm
    public var hash: BloomFilterHash
    public var compression: BloomFilterCompression

    public init(numBytes: Int32, algorithm: BloomFilterAlgorithm = .block, hash: BloomFilterHash = .xxhash,
                compression: BloomFilterCompression = .uncompressed) {
        self.numBytes = numBytes
        self.algorithm = algorithm
        self.hash = hash
        self.compression = compression
    }

    public func encode(into w: inout ThriftCompactWriter) {
        w.writeStructBegin()
        w.writeI32Field(1, numBytes)
        // Each union is a struct holding its one (empty-struct) member as field 1.
        for id: Int16 in 2...4 {
            w.writeStructFieldBegin(id)
            w.writeEmptyStructField(1)
            w.writeStructEnd()
        }
        w.writeStructEnd()
    }

    public init(from r: inout ThriftCompactReader) throws {
        var numBytes: Int32?
        var seen: Set<Int16> = []
        try r.readStructBegin()
        while let (t, id) = try r.readFieldHeader() {
            switch id {
            case 1 where t == .i32: numBytes = try r.readI32()
            case 2 where t == .struct, 3 where t == .struct, 4 where t == .struct:
                // The union must hold member 1; anything else is an algorithm we cannot use.
                try r.readStructBegin()
                var member: Int16?
                while let (mt, mid) = try r.readFieldHeader() {
                    if mt == .struct { member = mid }
                    try r.skip(mt)
                }
                r.readStructEnd()
                guard member == 1 else { throw r.error(.emptyUnion, "BloomFilterHeader field \(id)") }
                seen.insert(id)
            default: try r.skip(t)
            }
        }
        r.readStructEnd()
        guard let numBytes else { throw r.missing("BloomFilterHeader.numBytes") }
        guard seen.count == 3 else { throw r.missing("BloomFilterHeader.algorithm/hash/compression") }
        self.numBytes = numBytes
        self.algorithm = .block
        self.hash = .xxhash
        self.compression = .uncompressed
    }
}
