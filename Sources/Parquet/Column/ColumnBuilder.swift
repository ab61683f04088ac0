/// Collects the values and levels of one leaf column for a ``RowBatch``.
///
/// Values live in contiguous typed buffers (`[Int64]`, one byte buffer plus
/// offsets for byte arrays), so appends are cheap and allocate nothing once the
/// buffers have grown. Only non-null values are stored; nulls exist as
/// definition levels.
///
/// Flat columns (top-level, not in a list or map) only need `appendX(_:)` and
/// `appendNull()`. Columns inside optional structs, lists or maps take explicit
/// levels: `appendX(_:repetitionLevel:)` records a present value (definition
/// level = ``ColumnDescriptor/maxDefinitionLevel``) and
/// `appendNull(definitionLevel:repetitionLevel:)` records an absent value,
/// a null/empty list or a null parent. Example for
/// `.optional("tags", .list(.optional("element", .string)))` (max def 3, max rep 1):
///
/// ```swift
/// col.appendNull(definitionLevel: 0, repetitionLevel: 0)   // row: tags = null
/// col.appendNull(definitionLevel: 1, repetitionLevel: 0)   // row: tags = []
/// col.appendString("a", repetitionLevel: 0)                // row: tags = ["a", null, "b"]
/// col.appendNull(definitionLevel: 2, repetitionLevel: 1)
/// col.appendString("b", repetitionLevel: 1)
/// ```
///
/// A value that does not fit the column (out of range, decimal over its precision,
/// invalid UTF-8, null in a required column, wrong append for the type) is not
/// stored silently: the builder remembers the first such error with its row,
/// and ``ParquetWriter/write(_:)`` throws it without writing anything of the batch.
public struct ColumnBuilder: Sendable {
    public internal(set) var descriptor: ColumnDescriptor

    // Storage kinds, compared on every append (cheaper than the enum with payload).
    @usableFromInline static let kBool: UInt8 = 0, kInt32: UInt8 = 1, kInt64: UInt8 = 2, kFloat: UInt8 = 3,
        kDouble: UInt8 = 4, kBytes: UInt8 = 5, kFixed: UInt8 = 6

    @usableFromInline let kind: UInt8
    @usableFromInline let fixedLength: Int
    @usableFromInline let maxDef: UInt8
    @usableFromInline let maxRep: UInt8
    @usableFromInline let validatesUTF8: Bool
    /// Inclusive bounds for integer values (logical range or decimal precision).
    @usableFromInline let lowerBound: Int64
    @usableFromInline let upperBound: Int64
    @usableFromInline let boundsCode: ParquetError.Code
    @usableFromInline let isUnsigned: Bool
    @usableFromInline let decimalLimit: Int128

    @usableFromInline var rows: Int = 0
    @usableFromInline var levels: Int = 0
    /// Number of rows started in this column.
    public var rowCount: Int { rows }
    /// Number of level entries (values plus nulls, including empty/null lists).
    public var levelCount: Int { levels }

    @usableFromInline var definitionLevels: [UInt8] = []
    @usableFromInline var repetitionLevels: [UInt8] = []
    @usableFromInline var int32Values: [Int32] = []
    @usableFromInline var int64Values: [Int64] = []
    @usableFromInline var floatValues: [Float] = []
    @usableFromInline var doubleValues: [Double] = []
    @usableFromInline var boolValues: [Bool] = []
    /// Byte-array and fixed-length values back to back.
    @usableFromInline var bytes: [UInt8] = []
    /// Byte arrays: value i spans `offsets[i] ..< offsets[i + 1]`.
    @usableFromInline var offsets: [Int] = []
    @usableFromInline var firstError: ParquetError?
    /// Every row whose append failed, ascending (``error`` is only the first): what a caller
    /// needs to take the offending rows out and write the rest. At most
    /// ``maxFailedRows``; past that ``failedRowsOverflowed`` is set.
    @usableFromInline var failedRowList: [Int] = []
    @usableFromInline var failedRowsOverflow = false
    public static let maxFailedRows = 100_000

    public init(_ descriptor: ColumnDescriptor) {
        self.descriptor = descriptor
        switch descriptor.storage {
        case .boolean: kind = Self.kBool; fixedLength = 0
        case .int32: kind = Self.kInt32; fixedLength = 0
        case .int64: kind = Self.kInt64; fixedLength = 0
        case .float: kind = Self.kFloat; fixedLength = 0
        case .double: kind = Self.kDouble; fixedLength = 0
        case .byteArray: kind = Self.kBytes; fixedLength = 0
        case .fixedLenByteArray(let n): kind = Self.kFixed; fixedLength = n
        }
        maxDef = UInt8(descriptor.maxDefinitionLevel)
        maxRep = UInt8(descriptor.maxRepetitionLevel)
        var lo = Int64.min, hi = Int64.max, code = ParquetError.Code.valueOutOfRange, unsigned = false
        var limit = Int128.max
        switch descriptor.type {
        case .int8: lo = -128; hi = 127
        case .int16: lo = -32768; hi = 32767
        case .int32, .date: lo = Int64(Int32.min); hi = Int64(Int32.max)
        case .uint8: lo = 0; hi = 255; unsigned = true
        case .uint16: lo = 0; hi = 65535; unsigned = true
        case .uint32: lo = 0; hi = Int64(UInt32.max); unsigned = true
        case .uint64: lo = 0; unsigned = true
        case .time(.millis, _): lo = Int64(Int32.min); hi = Int64(Int32.max)
        case .decimal(let p, _):
            var m: Int128 = 1
            for _ in 0..<p { m *= 10 }
            limit = m - 1
            code = .decimalOverflow
            if p <= 18 { hi = Int64(limit); lo = -hi }
        default: break
        }
        lowerBound = lo; upperBound = hi; boundsCode = code; isUnsigned = unsigned; decimalLimit = limit
        switch descriptor.type {
        case .string, .json, .enumeration: validatesUTF8 = true
        default: validatesUTF8 = false
        }
        if kind == Self.kBytes { offsets = [0] }
    }

    /// Number of non-null values stored.
    public var valueCount: Int {
        switch kind {
        case Self.kBool: return boolValues.count
        case Self.kInt32: return int32Values.count
        case Self.kInt64: return int64Values.count
        case Self.kFloat: return floatValues.count
        case Self.kDouble: return doubleValues.count
        case Self.kBytes: return offsets.count - 1
        default: return fixedLength == 0 ? 0 : bytes.count / fixedLength
        }
    }

    /// Bytes of the values and levels held (what the column would take written plain and
    /// uncompressed, roughly): a base for estimating the encoded size.
    public var byteCount: Int {
        definitionLevels.count + repetitionLevels.count + int32Values.count * 4 + int64Values.count * 8
            + floatValues.count * 4 + doubleValues.count * 8 + boolValues.count + bytes.count + offsets.count * 4
    }

    /// Bytes allocated for the values and levels (capacity, not count): the memory the column holds.
    public var allocatedBytes: Int {
        definitionLevels.capacity + repetitionLevels.capacity + int32Values.capacity * 4
            + int64Values.capacity * 8 + floatValues.capacity * 4 + doubleValues.capacity * 8
            + boolValues.capacity + bytes.capacity + offsets.capacity * MemoryLayout<Int>.stride
    }

    /// Empties the builder, keeping its capacity for the next batch.
    public mutating func removeAll() {
        rows = 0; levels = 0
        definitionLevels.removeAll(keepingCapacity: true)
        repetitionLevels.removeAll(keepingCapacity: true)
        int32Values.removeAll(keepingCapacity: true)
        int64Values.removeAll(keepingCapacity: true)
        floatValues.removeAll(keepingCapacity: true)
        doubleValues.removeAll(keepingCapacity: true)
        boolValues.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        if kind == Self.kBytes { offsets.append(0) }
        firstError = nil
        failedRowList.removeAll()
        failedRowsOverflow = false
    }

    /// Reserves room for `values` values (and levels) and, for byte arrays, `bytes` bytes.
    public mutating func reserveCapacity(values: Int, bytes byteCount: Int = 0) {
        if maxDef > 0 { definitionLevels.reserveCapacity(values) }
        if maxRep > 0 { repetitionLevels.reserveCapacity(values) }
        switch kind {
        case Self.kBool: boolValues.reserveCapacity(values)
        case Self.kInt32: int32Values.reserveCapacity(values)
        case Self.kInt64: int64Values.reserveCapacity(values)
        case Self.kFloat: floatValues.reserveCapacity(values)
        case Self.kDouble: doubleValues.reserveCapacity(values)
        case Self.kBytes: offsets.reserveCapacity(values + 1); bytes.reserveCapacity(byteCount)
        default: bytes.reserveCapacity(values * fixedLength)
        }
    }

    /// The first invalid append, if any (also thrown by `ParquetWriter.write`).
    public var error: ParquetError? { firstError }
    /// The rows whose append failed (see ``error`` for the first reason).
    public var failedRows: [Int] { failedRowList }
    /// More rows failed than ``maxFailedRows``: ``failedRows`` is incomplete.
    public var failedRowsOverflowed: Bool { failedRowsOverflow }

    // MARK: - Levels

    @inlinable @inline(__always)
    mutating func pushPresent(_ rep: Int) {
        if maxDef > 0 { definitionLevels.append(maxDef) }
        if maxRep > 0 {
            repetitionLevels.append(UInt8(truncatingIfNeeded: rep))
            if rep == 0 { rows &+= 1 }
            if rep > Int(maxRep) || rep < 0 { invalidLevels(rep: rep, def: Int(maxDef)) }
        } else {
            rows &+= 1
        }
        levels &+= 1
    }

    @usableFromInline
    mutating func invalidLevels(rep: Int, def: Int) {
        fail(.invalidLevels, "definition level \(def) / repetition level \(rep) outside 0...\(maxDef) / 0...\(maxRep)")
    }

    @usableFromInline
    mutating func fail(_ code: ParquetError.Code, _ message: String) {
        let row = Swift.max(rowCount - 1, 0)
        if firstError == nil {
            firstError = ParquetError(code, column: descriptor.dottedPath, row: row, message: message)
        }
        noteFailedRow(row)
    }

    @usableFromInline
    mutating func noteFailedRow(_ row: Int) {
        if let last = failedRowList.last, last >= row { return }
        if failedRowList.count < Self.maxFailedRows { failedRowList.append(row) } else { failedRowsOverflow = true }
    }

    /// Records an absent value for a flat column (definition level `maxDefinitionLevel - 1`,
    /// i.e. the leaf itself is null). A null in a required column is an error.
    @inlinable
    public mutating func appendNull() {
        if maxDef == 0 {
            rows &+= 1; levels &+= 1
            fail(.nullInRequiredColumn, "null given for a required column")
            appendPlaceholder()
            return
        }
        appendNull(definitionLevel: Int(maxDef) - 1, repetitionLevel: 0)
    }

    /// Records an absent value: `definitionLevel` counts the optional/repeated nodes
    /// that are present (must be below ``ColumnDescriptor/maxDefinitionLevel``);
    /// `repetitionLevel` 0 starts a new row.
    @inlinable
    public mutating func appendNull(definitionLevel: Int, repetitionLevel: Int = 0) {
        if maxDef > 0 { definitionLevels.append(UInt8(truncatingIfNeeded: definitionLevel)) }
        if maxRep > 0 { repetitionLevels.append(UInt8(truncatingIfNeeded: repetitionLevel)) }
        if repetitionLevel == 0 { rows &+= 1 }
        levels &+= 1
        if definitionLevel >= Int(maxDef) || definitionLevel < 0 {
            if maxDef == 0 || definitionLevel == Int(maxDef) {
                fail(.nullInRequiredColumn, "null given for a required column")
            } else {
                invalidLevels(rep: repetitionLevel, def: definitionLevel)
            }
            if maxDef > 0 { definitionLevels[definitionLevels.count - 1] = 0 }
        }
        if repetitionLevel > Int(maxRep) || repetitionLevel < 0 || (maxRep == 0 && repetitionLevel != 0) {
            invalidLevels(rep: repetitionLevel, def: definitionLevel)
        }
    }

    /// Keeps values and levels aligned after an error (the batch is rejected anyway).
    @usableFromInline
    mutating func appendPlaceholder() {
        switch kind {
        case Self.kBool: boolValues.append(false)
        case Self.kInt32: int32Values.append(0)
        case Self.kInt64: int64Values.append(0)
        case Self.kFloat: floatValues.append(0)
        case Self.kDouble: doubleValues.append(0)
        case Self.kBytes: offsets.append(bytes.count)
        default: bytes.append(contentsOf: repeatElement(0, count: fixedLength))
        }
    }

    // MARK: - Values

    /// Appends a boolean (BOOLEAN columns).
    @inlinable
    public mutating func appendBool(_ v: Bool, repetitionLevel: Int = 0) {
        pushPresent(repetitionLevel)
        if kind == Self.kBool { boolValues.append(v) } else { wrongAppend("Bool") }
    }

    /// Appends an integer to any integer-backed column (INT32/INT64 storage: integers,
    /// date, time, timestamp, decimal unscaled values), checking the logical range.
    @inlinable
    public mutating func appendInt64(_ v: Int64, repetitionLevel: Int = 0) {
        pushPresent(repetitionLevel)
        if kind == Self.kInt64 {
            if v < lowerBound || v > upperBound { outOfRange(v) }
            int64Values.append(v)
        } else if kind == Self.kInt32 {
            if v < lowerBound || v > upperBound { outOfRange(v) }
            int32Values.append(Int32(truncatingIfNeeded: v))
        } else if kind == Self.kFixed && decimalLimit != Int128.max {
            appendDecimalFixed(Int128(v))
        } else {
            wrongAppend("Int64")
        }
    }

    /// Appends an unsigned 64-bit integer (UINT64 columns, or any integer column in range).
    @inlinable
    public mutating func appendUInt64(_ v: UInt64, repetitionLevel: Int = 0) {
        if kind == Self.kInt64 && isUnsigned {
            pushPresent(repetitionLevel)
            int64Values.append(Int64(bitPattern: v))
        } else if kind == Self.kFixed && decimalLimit != Int128.max {
            // A decimal column (decimal(20,0) holds every uint64): the value is the unscaled integer.
            appendDecimal(unscaled: Int128(v), repetitionLevel: repetitionLevel)
        } else if v > UInt64(Int64.max) {
            pushPresent(repetitionLevel)
            outOfRange(Int64.max)
            appendPlaceholder()
        } else {
            appendInt64(Int64(v), repetitionLevel: repetitionLevel)
        }
    }

    /// Appends an INT32-backed value (same checks as ``appendInt64(_:repetitionLevel:)``).
    @inlinable
    public mutating func appendInt32(_ v: Int32, repetitionLevel: Int = 0) {
        if kind == Self.kInt32 {
            pushPresent(repetitionLevel)
            let w = Int64(v)
            if w < lowerBound || w > upperBound { outOfRange(w) }
            int32Values.append(v)
        } else {
            appendInt64(Int64(v), repetitionLevel: repetitionLevel)
        }
    }

    /// Appends the unscaled value of a decimal (any precision up to 38), checking the precision.
    @inlinable
    public mutating func appendDecimal(unscaled v: Int128, repetitionLevel: Int = 0) {
        if kind == Self.kFixed && decimalLimit != Int128.max {
            pushPresent(repetitionLevel)
            appendDecimalFixed(v)
        } else if v >= Int128(Int64.min) && v <= Int128(Int64.max) {
            appendInt64(Int64(v), repetitionLevel: repetitionLevel)
        } else {
            pushPresent(repetitionLevel)
            fail(boundsCode == .decimalOverflow ? .decimalOverflow : .valueOutOfRange, "\(v) does not fit")
            appendPlaceholder()
        }
    }

    @usableFromInline
    mutating func appendDecimalFixed(_ v: Int128) {
        if v > decimalLimit || v < -decimalLimit {
            fail(.decimalOverflow, "unscaled value \(v) exceeds the precision")
        }
        // Big-endian two's complement, sign-extended to the column width.
        let n = fixedLength
        var be = v.bigEndian
        withUnsafeBytes(of: &be) { raw in
            let start = 16 - n
            if start >= 0 {
                bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[start...]))
            } else {
                bytes.append(contentsOf: repeatElement(v < 0 ? 0xFF : 0, count: -start))
                bytes.append(contentsOf: raw)
            }
        }
    }

    @inlinable
    public mutating func appendFloat(_ v: Float, repetitionLevel: Int = 0) {
        if kind == Self.kFloat {
            pushPresent(repetitionLevel)
            floatValues.append(v)
        } else {
            appendDouble(Double(v), repetitionLevel: repetitionLevel)
        }
    }

    @inlinable
    public mutating func appendDouble(_ v: Double, repetitionLevel: Int = 0) {
        pushPresent(repetitionLevel)
        if kind == Self.kDouble {
            doubleValues.append(v)
        } else if kind == Self.kFloat {
            floatValues.append(Float(v))
        } else {
            wrongAppend("Double")
        }
    }

    /// Appends a byte-array value (BYTE_ARRAY: binary, string, json, enum) or a
    /// fixed-length value of exactly the column's length. STRING/JSON/ENUM values are
    /// checked to be valid UTF-8.
    @inlinable
    public mutating func appendBytes(_ v: UnsafeRawBufferPointer, repetitionLevel: Int = 0) {
        pushPresent(repetitionLevel)
        if kind == Self.kBytes {
            if validatesUTF8 && !UTF8Validation.isValid(v) {
                fail(.invalidUTF8, "\(v.count)-byte value is not valid UTF-8")
            }
            appendByteArrayValue(v.baseAddress, v.count)
        } else if kind == Self.kFixed {
            if v.count != fixedLength {
                fail(.valueOutOfRange, "\(v.count) bytes given for a \(fixedLength)-byte column")
                appendPlaceholder()
            } else {
                if let p = v.baseAddress { bytes.appendBytes(from: p, count: v.count) }
            }
        } else {
            wrongAppend("bytes")
        }
    }

    /// Appends `count` bytes the caller knows to be valid UTF-8 (text a PostgreSQL server
    /// checked, say): as ``appendBytes(_:count:repetitionLevel:)`` without the validation.
    @inlinable
    public mutating func appendBytes(knownValidUTF8 pointer: UnsafeRawPointer, count: Int, repetitionLevel: Int = 0) {
        if kind == Self.kBytes {
            pushPresent(repetitionLevel)
            appendByteArrayValue(pointer, count)
        } else {
            appendBytes(UnsafeRawBufferPointer(start: pointer, count: count), repetitionLevel: repetitionLevel)
        }
    }

    /// The value bytes and end offset of a BYTE_ARRAY value (its levels are pushed already).
    @inlinable @inline(__always)
    mutating func appendByteArrayValue(_ pointer: UnsafeRawPointer?, _ count: Int) {
        if let pointer, count > 0 { bytes.appendBytes(from: pointer, count: count) }
        offsets.append(bytes.count)
    }

    /// Appends `count` bytes at `pointer` (see ``appendBytes(_:repetitionLevel:)``).
    @inlinable
    public mutating func appendBytes(_ pointer: UnsafeRawPointer, count: Int, repetitionLevel: Int = 0) {
        appendBytes(UnsafeRawBufferPointer(start: pointer, count: count), repetitionLevel: repetitionLevel)
    }

    /// Appends a fixed-length value (FIXED_LEN_BYTE_ARRAY: uuid, fixed binary, big-endian decimal bytes).
    @inlinable
    public mutating func appendFixed(_ v: UnsafeRawBufferPointer, repetitionLevel: Int = 0) {
        appendBytes(v, repetitionLevel: repetitionLevel)
    }

    /// Appends a string (convenience; prefer ``appendBytes(_:repetitionLevel:)`` on hot paths).
    @inlinable
    public mutating func appendString(_ s: String, repetitionLevel: Int = 0) {
        var s = s
        s.withUTF8 { appendBytes(UnsafeRawBufferPointer($0), repetitionLevel: repetitionLevel) }
    }

    /// Appends a byte array given as `[UInt8]` (convenience).
    @inlinable
    public mutating func appendBytes(_ v: [UInt8], repetitionLevel: Int = 0) {
        v.withUnsafeBytes { appendBytes($0, repetitionLevel: repetitionLevel) }
    }

    @usableFromInline
    mutating func wrongAppend(_ what: String) {
        fail(.wrongAppend, "\(what) appended to a \(descriptor.storage) column")
        appendPlaceholder()
    }

    @usableFromInline
    mutating func outOfRange(_ v: Int64) {
        fail(boundsCode, "\(v) outside \(lowerBound)...\(upperBound)")
    }
}
