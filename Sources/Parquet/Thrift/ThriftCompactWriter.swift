/// Wire type nibbles of the Thrift compact protocol.
///
/// `booleanTrue`/`booleanFalse` double as the field type of a boolean field (the value
/// lives in the nibble) and `booleanTrue` is the element type written for `list<bool>`.
public enum ThriftCompactType: UInt8, Sendable {
    case stop = 0
    case booleanTrue = 1
    case booleanFalse = 2
    case byte = 3
    case i16 = 4
    case i32 = 5
    case i64 = 6
    case double = 7
    case binary = 8
    case list = 9
    case set = 10
    case map = 11
    case `struct` = 12

    /// Both bool nibbles: a bool field's wire type is its value.
    @inlinable public var isBool: Bool { self == .booleanTrue || self == .booleanFalse }
}

/// Serializes values with the Thrift compact protocol into a growable byte array.
///
/// Field ids are delta-encoded against the previous field of the same struct, so the
/// writer keeps the last field id of every open struct on a small stack:
/// `writeStructBegin()` pushes, `writeStructEnd()` writes the stop byte and pops.
/// The top-level value is itself a struct: call `writeStructBegin()` before its fields
/// (the generated-style `encode(into:)` methods of the metadata types do this).
public struct ThriftCompactWriter: Sendable {
    /// The encoded bytes so far.
    public var bytes: [UInt8]
    @usableFromInline var lastFieldId: Int16 = 0
    @usableFromInline var fieldIdStack: [Int16] = []

    public init(capacity: Int = 1024) {
        bytes = []
        bytes.reserveCapacity(capacity)
        fieldIdStack.reserveCapacity(8)
    }

    /// Continues writing at the end of `bytes` (e.g. a reused buffer).
    public init(appendingTo bytes: [UInt8]) {
        self.bytes = bytes
        fieldIdStack.reserveCapacity(8)
    }

    /// Empties the buffer but keeps its capacity, so one writer can encode many headers.
    public mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        lastFieldId = 0
        fieldIdStack.removeAll(keepingCapacity: true)
    }

    // MARK: Structs and fields

    @inlinable
    public mutating func writeStructBegin() {
        fieldIdStack.append(lastFieldId)
        lastFieldId = 0
    }

    @inlinable
    public mutating func writeStructEnd() {
        bytes.append(ThriftCompactType.stop.rawValue)
        lastFieldId = fieldIdStack.popLast() ?? 0
    }

    /// Short form `(delta << 4) | type` when the id grows by 1...15, otherwise the type
    /// byte followed by the id as a zigzag varint.
    @inlinable
    public mutating func writeFieldHeader(type: ThriftCompactType, id: Int16) {
        let delta = Int(id) - Int(lastFieldId)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            writeVarint(zigzag(Int64(id)))
        }
        lastFieldId = id
    }

    @inlinable
    public mutating func writeBoolField(_ id: Int16, _ value: Bool) {
        writeFieldHeader(type: value ? .booleanTrue : .booleanFalse, id: id)
    }

    @inlinable
    public mutating func writeByteField(_ id: Int16, _ value: Int8) {
        writeFieldHeader(type: .byte, id: id)
        bytes.append(UInt8(bitPattern: value))
    }

    @inlinable
    public mutating func writeI16Field(_ id: Int16, _ value: Int16) {
        writeFieldHeader(type: .i16, id: id)
        writeVarint(zigzag(Int64(value)))
    }

    @inlinable
    public mutating func writeI32Field(_ id: Int16, _ value: Int32) {
        writeFieldHeader(type: .i32, id: id)
        writeVarint(zigzag(Int64(value)))
    }

    @inlinable
    public mutating func writeI64Field(_ id: Int16, _ value: Int64) {
        writeFieldHeader(type: .i64, id: id)
        writeVarint(zigzag(value))
    }

    @inlinable
    public mutating func writeDoubleField(_ id: Int16, _ value: Double) {
        writeFieldHeader(type: .double, id: id)
        writeDouble(value)
    }

    @inlinable
    public mutating func writeBinaryField(_ id: Int16, _ value: [UInt8]) {
        writeFieldHeader(type: .binary, id: id)
        writeBinary(value)
    }

    @inlinable
    public mutating func writeStringField(_ id: Int16, _ value: String) {
        writeFieldHeader(type: .binary, id: id)
        writeString(value)
    }

    /// Writes the header of a struct-typed field and opens the nested struct.
    /// Close it with `writeStructEnd()`.
    @inlinable
    public mutating func writeStructFieldBegin(_ id: Int16) {
        writeFieldHeader(type: .struct, id: id)
        writeStructBegin()
    }

    /// An empty struct as a field (union members such as `StringType`, `TypeDefinedOrder`).
    @inlinable
    public mutating func writeEmptyStructField(_ id: Int16) {
        writeFieldHeader(type: .struct, id: id)
        bytes.append(ThriftCompactType.stop.rawValue)
    }

    // MARK: Lists

    /// `(count << 4) | elementType` for fewer than 15 elements, else `0xF0 | elementType`
    /// followed by the count as a varint.
    @inlinable
    public mutating func writeListHeader(elementType: ThriftCompactType, count: Int) {
        precondition(count >= 0 && count <= Int(Int32.max), "Thrift list too long")
        if count < 15 {
            bytes.append(UInt8(count) << 4 | elementType.rawValue)
        } else {
            bytes.append(0xF0 | elementType.rawValue)
            writeVarint(UInt64(count))
        }
    }

    @inlinable
    public mutating func writeListFieldHeader(_ id: Int16, elementType: ThriftCompactType, count: Int) {
        writeFieldHeader(type: .list, id: id)
        writeListHeader(elementType: elementType, count: count)
    }

    /// A `list<bool>`: element type 1, then one byte per element, 1 for true and 2 for false.
    ///
    /// This is what the C++, Java and Rust Thrift libraries write (and what arrow and
    /// parquet-java emit for `ColumnIndex.null_pages`); their readers treat any byte other
    /// than 1 as false, and arrow-rs before apache/thrift#3094 rejected anything but 1/2,
    /// so 1/2 is the encoding every reader accepts.
    public mutating func writeBoolListField(_ id: Int16, _ values: [Bool]) {
        writeListFieldHeader(id, elementType: .booleanTrue, count: values.count)
        for v in values { bytes.append(v ? 1 : 2) }
    }

    public mutating func writeI32ListField(_ id: Int16, _ values: [Int32]) {
        writeListFieldHeader(id, elementType: .i32, count: values.count)
        for v in values { writeVarint(zigzag(Int64(v))) }
    }

    public mutating func writeI64ListField(_ id: Int16, _ values: [Int64]) {
        writeListFieldHeader(id, elementType: .i64, count: values.count)
        for v in values { writeVarint(zigzag(v)) }
    }

    public mutating func writeBinaryListField(_ id: Int16, _ values: [[UInt8]]) {
        writeListFieldHeader(id, elementType: .binary, count: values.count)
        for v in values { writeBinary(v) }
    }

    public mutating func writeStringListField(_ id: Int16, _ values: [String]) {
        writeListFieldHeader(id, elementType: .binary, count: values.count)
        for v in values { writeString(v) }
    }

    // MARK: Raw values (list elements)

    @inlinable
    public mutating func writeI32(_ value: Int32) { writeVarint(zigzag(Int64(value))) }

    @inlinable
    public mutating func writeI64(_ value: Int64) { writeVarint(zigzag(value)) }

    @inlinable
    public mutating func writeDouble(_ value: Double) {
        withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) }
    }

    @inlinable
    public mutating func writeBinary(_ value: [UInt8]) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    @inlinable
    public mutating func writeBinary(_ value: UnsafeRawBufferPointer) {
        writeVarint(UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    @inlinable
    public mutating func writeString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            writeVarint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// ULEB128: seven bits per byte, high bit set on all but the last.
    @inlinable
    public mutating func writeVarint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(truncatingIfNeeded: v))
    }

    @inlinable
    func zigzag(_ v: Int64) -> UInt64 {
        UInt64(bitPattern: (v << 1) ^ (v >> 63))
    }
}

/// A value that has a Thrift compact encoding (every Parquet metadata struct).
public protocol ThriftCodable: Sendable, Equatable {
    /// Encodes the value as a complete struct (begin, fields, stop).
    func encode(into w: inout ThriftCompactWriter)
    /// Decodes one complete struct, skipping fields it does not know.
    init(from r: inout ThriftCompactReader) throws
}

extension ThriftCodable {
    /// The value's compact encoding as a fresh byte array.
    public func thriftBytes() -> [UInt8] {
        var w = ThriftCompactWriter(capacity: 256)
        encode(into: &w)
        return w.bytes
    }

    /// Decodes a value from the start of `bytes`.
    public init(thriftBytes bytes: [UInt8]) throws {
        var r = ThriftCompactReader(bytes)
        try self.init(from: &r)
    }
}
