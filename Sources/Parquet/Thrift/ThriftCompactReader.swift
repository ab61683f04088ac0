/// Why a Thrift compact buffer could not be decoded.
public struct ThriftDecodingError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, independent of where.
    public enum Code: Equatable, Sendable {
        /// The buffer ended inside a value.
        case truncated
        /// A varint longer than its type allows.
        case malformedVarint
        /// A type nibble that is not a compact type.
        case invalidType(UInt8)
        /// A field arrived with a wire type other than the one the struct declares.
        case unexpectedType(field: Int16, got: UInt8)
        /// A required field was missing.
        case missingField
        /// An enum value not known to this reader.
        case unknownEnumValue(Int32)
        /// A union with no member this reader knows.
        case emptyUnion
        /// A negative length or count.
        case negativeLength
        /// Nesting deeper than the reader allows (hostile input).
        case tooDeep
    }

    public var code: Code
    /// The Thrift struct and field being decoded, e.g. `ColumnMetaData.num_values`.
    public var context: String
    /// Byte offset in the buffer where the problem was found.
    public var offset: Int

    public init(_ code: Code, context: String, offset: Int) {
        self.code = code
        self.context = context
        self.offset = offset
    }

    public var description: String { "Thrift decoding failed at byte \(offset) (\(context)): \(code)" }
}

/// Reads Thrift compact values from a byte array, tracking field-id deltas per struct.
///
/// Unknown fields of any type (including nested structs, lists and maps) are skipped
/// with `skip(_:)`, so files written by newer writers decode.
public struct ThriftCompactReader: Sendable {
    public let bytes: [UInt8]
    /// Index of the next byte to read.
    public var position: Int
    var lastFieldId: Int16 = 0
    var fieldIdStack: [Int16] = []
    /// Value of the bool field whose header was just read (bools live in the type nibble).
    var pendingBool: Bool?

    static let maxDepth = 64

    public init(_ bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
        fieldIdStack.reserveCapacity(8)
    }

    func error(_ code: ThriftDecodingError.Code, _ context: String) -> ThriftDecodingError {
        ThriftDecodingError(code, context: context, offset: position)
    }

    // MARK: Structs and fields

    public mutating func readStructBegin() throws {
        if fieldIdStack.count >= Self.maxDepth { throw error(.tooDeep, "struct") }
        fieldIdStack.append(lastFieldId)
        lastFieldId = 0
    }

    public mutating func readStructEnd() {
        lastFieldId = fieldIdStack.popLast() ?? 0
    }

    /// The next field's wire type and id, or nil at the struct's stop byte.
    public mutating func readFieldHeader() throws -> (type: ThriftCompactType, id: Int16)? {
        let b = try readByte()
        if b == 0 { return nil }
        guard let type = ThriftCompactType(rawValue: b & 0x0F) else { throw error(.invalidType(b & 0x0F), "field header") }
        let delta = Int16(b >> 4)
        let id: Int16
        if delta != 0 {
            id = lastFieldId &+ delta
        } else {
            id = Int16(truncatingIfNeeded: try readZigzag())
        }
        lastFieldId = id
        switch type {
        case .booleanTrue: pendingBool = true
        case .booleanFalse: pendingBool = false
        default: pendingBool = nil
        }
        return (type, id)
    }

    // MARK: Values

    @inlinable
    public mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else { throw ThriftDecodingError(.truncated, context: "byte", offset: position) }
        let b = bytes[position]
        position += 1
        return b
    }

    public mutating func readVarint() throws -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let b = try readByte()
            if shift == 63 && b > 1 { throw error(.malformedVarint, "varint") }
            result |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return result }
            shift += 7
            if shift > 63 { throw error(.malformedVarint, "varint") }
        }
    }

    public mutating func readZigzag() throws -> Int64 {
        let u = try readVarint()
        return Int64(bitPattern: (u >> 1) ^ (0 &- (u & 1)))
    }

    public mutating func readI16() throws -> Int16 {
        let v = try readZigzag()
        guard let r = Int16(exactly: v) else { throw error(.malformedVarint, "i16") }
        return r
    }

    public mutating func readI32() throws -> Int32 {
        let v = try readZigzag()
        guard let r = Int32(exactly: v) else { throw error(.malformedVarint, "i32") }
        return r
    }

    public mutating func readI64() throws -> Int64 { try readZigzag() }

    public mutating func readI8() throws -> Int8 { Int8(bitPattern: try readByte()) }

    public mutating func readDouble() throws -> Double {
        guard bytes.count - position >= 8 else { throw error(.truncated, "double") }
        var bits: UInt64 = 0
        for i in 0..<8 { bits |= UInt64(bytes[position + i]) << (8 * UInt64(i)) }
        position += 8
        return Double(bitPattern: bits)
    }

    public mutating func readBinary() throws -> [UInt8] {
        let n = try readLength("binary")
        guard bytes.count - position >= n else { throw error(.truncated, "binary") }
        let out = Array(bytes[position..<position + n])
        position += n
        return out
    }

    /// Strings are not validated as UTF-8 (a bad byte becomes U+FFFD): metadata from
    /// other writers should never make a file unreadable.
    public mutating func readString() throws -> String {
        let n = try readLength("string")
        guard bytes.count - position >= n else { throw error(.truncated, "string") }
        let s = String(decoding: bytes[position..<position + n], as: UTF8.self)
        position += n
        return s
    }

    /// The value of a bool field whose header was just read.
    public mutating func readBoolField() throws -> Bool {
        guard let v = pendingBool else { throw error(.invalidType(0), "bool field") }
        pendingBool = nil
        return v
    }

    /// A bool list element: 1 is true; 0 and 2 (both seen in the wild) are false.
    public mutating func readBoolElement() throws -> Bool {
        try readByte() == 1
    }

    public mutating func readListHeader() throws -> (elementType: ThriftCompactType, count: Int) {
        let b = try readByte()
        guard let type = ThriftCompactType(rawValue: b & 0x0F) else { throw error(.invalidType(b & 0x0F), "list header") }
        var count = Int(b >> 4)
        if count == 15 { count = try readLength("list size") }
        // Every element takes at least one byte, except empty structs can't be shorter either.
        guard count <= bytes.count - position else { throw error(.truncated, "list of \(count)") }
        return (type == .booleanFalse ? .booleanTrue : type, count)
    }

    mutating func readLength(_ what: String) throws -> Int {
        let v = try readVarint()
        guard v <= UInt64(Int32.max) else { throw error(.negativeLength, what) }
        return Int(v)
    }

    // MARK: Skipping

    /// Skips one value of the given wire type (for a bool field, nothing: the value was in
    /// the header).
    public mutating func skip(_ type: ThriftCompactType) throws {
        try skip(type, inList: false, depth: 0)
    }

    mutating func skip(_ type: ThriftCompactType, inList: Bool, depth: Int) throws {
        if depth > Self.maxDepth { throw error(.tooDeep, "skip") }
        switch type {
        case .stop: throw error(.invalidType(0), "skip")
        case .booleanTrue, .booleanFalse:
            if inList { _ = try readByte() }
        case .byte: _ = try readByte()
        case .i16, .i32, .i64: _ = try readVarint()
        case .double:
            guard bytes.count - position >= 8 else { throw error(.truncated, "double") }
            position += 8
        case .binary:
            let n = try readLength("binary")
            guard bytes.count - position >= n else { throw error(.truncated, "binary") }
            position += n
        case .list, .set:
            let (et, n) = try readListHeader()
            for _ in 0..<n { try skip(et, inList: true, depth: depth + 1) }
        case .map:
            let n = try readLength("map size")
            // Every key and value takes at least a byte.
            guard n <= (bytes.count - position) / 2 else { throw error(.truncated, "map of \(n)") }
            if n > 0 {
                let kv = try readByte()
                guard let kt = ThriftCompactType(rawValue: kv >> 4),
                      let vt = ThriftCompactType(rawValue: kv & 0x0F) else { throw error(.invalidType(kv), "map") }
                for _ in 0..<n {
                    try skip(kt, inList: true, depth: depth + 1)
                    try skip(vt, inList: true, depth: depth + 1)
                }
            }
        case .struct:
            try readStructBegin()
            while let (ft, _) = try readFieldHeader() {
                try skip(ft, inList: false, depth: depth + 1)
            }
            readStructEnd()
        }
    }

    // MARK: Helpers for decoders

    /// Checks a field's wire type against the declared one.
    @inlinable
    public func expect(_ got: ThriftCompactType, _ want: ThriftCompactType, field: Int16, _ context: @autoclosure () -> String) throws {
        let ok = got == want || (want == .booleanTrue && got == .booleanFalse)
        if !ok { throw ThriftDecodingError(.unexpectedType(field: field, got: got.rawValue), context: context(), offset: position) }
    }

    /// Reads a list whose elements are decoded by `element`.
    public mutating func readList<T>(_ elementType: ThriftCompactType, _ context: String,
                                     _ element: (inout ThriftCompactReader) throws -> T) throws -> [T] {
        let (et, n) = try readListHeader()
        guard et == elementType || n == 0 else {
            throw error(.unexpectedType(field: -1, got: et.rawValue), context)
        }
        var out: [T] = []
        // The count is bounded by the bytes left, not by what they decode to: reserve a bounded amount.
        out.reserveCapacity(min(n, 1024))
        for _ in 0..<n { out.append(try element(&self)) }
        return out
    }

    public func missing(_ context: String) -> ThriftDecodingError {
        error(.missingField, context)
    }
}
