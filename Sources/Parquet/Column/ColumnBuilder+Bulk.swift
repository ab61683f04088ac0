/// Bulk appends: a run of rows of one flat column in one step (the PostgreSQL decoder fills a
/// column at a time). One capacity check per run instead of two or three array appends per
/// value; the values go straight into the storage through a raw buffer.
///
/// No value is checked here: these are for callers that checked every value against the column
/// already (``takesBulk(_:integersIn:)`` says which columns need no check beyond the storage
/// type). Levels: `levels[i]` is 1 for a present value, 0 for a null, for each row of the run;
/// nil when every row is present (the only choice for a required column).
extension ColumnBuilder {
    /// Storage kinds a bulk append writes.
    package enum BulkStorage: Equatable, Sendable {
        case boolean, int32, int64, float, double, byteArray
        case fixed(Int)
    }

    /// Whether this column takes bulk appends of `storage`: flat (no repetition, definition
    /// level at most 1), stored as `storage`, and, for integers, holding every value of
    /// `integers` (no narrower logical range or precision to check).
    package func takesBulk(_ storage: BulkStorage, integersIn integers: ClosedRange<Int64>? = nil) -> Bool {
        guard maxRep == 0, maxDef <= 1 else { return false }
        switch (storage, kind) {
        case (.boolean, Self.kBool), (.float, Self.kFloat), (.double, Self.kDouble): return true
        case (.int32, Self.kInt32), (.int64, Self.kInt64):
            guard let r = integers else { return false }
            return lowerBound <= r.lowerBound && upperBound >= r.upperBound
        case (.byteArray, Self.kBytes): return true
        case (.fixed(let n), Self.kFixed): return n == fixedLength && decimalLimit == Int128.max
        default: return false
        }
    }

    /// Whether string values appended to this column are checked to be UTF-8.
    package var checksUTF8: Bool { validatesUTF8 }

    @inlinable @inline(__always)
    mutating func pushBulkLevels(rows n: Int, levels runLevels: UnsafeBufferPointer<UInt8>?) {
        if maxDef > 0 {
            if let runLevels {
                definitionLevels.append(contentsOf: runLevels)
            } else {
                definitionLevels.append(contentsOf: repeatElement(maxDef, count: n))
            }
        }
        rows &+= n
        self.levels &+= n
    }

    @inlinable @inline(__always)
    static func fillTail<T>(_ a: inout [T], _ n: Int, _ fill: (UnsafeMutablePointer<T>) -> Void) {
        guard n > 0 else { return }
        a.append(addingCapacity: n) { span in
            span.withUnsafeMutableBufferPointer { buf, initialized in
                fill(buf.baseAddress!)
                initialized = n
            }
        }
    }

    /// `rows` entries, `present` of them values into `values` (a column stored as `expected`):
    /// `fill` must initialize exactly `present` of them.
    @inlinable @inline(__always)
    mutating func appendBulk<T>(_ values: WritableKeyPath<ColumnBuilder, [T]>, _ expected: UInt8, rows n: Int, present: Int,
                                levels: UnsafeBufferPointer<UInt8>?, _ fill: (UnsafeMutablePointer<T>) -> Void) {
        precondition(kind == expected && maxRep == 0)
        pushBulkLevels(rows: n, levels: levels)
        Self.fillTail(&self[keyPath: values], present, fill)
    }

    @inlinable
    package mutating func appendBulkInt32(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                          _ fill: (UnsafeMutablePointer<Int32>) -> Void) {
        appendBulk(\.int32Values, Self.kInt32, rows: n, present: present, levels: levels, fill)
    }
    @inlinable
    package mutating func appendBulkInt64(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                          _ fill: (UnsafeMutablePointer<Int64>) -> Void) {
        appendBulk(\.int64Values, Self.kInt64, rows: n, present: present, levels: levels, fill)
    }
    @inlinable
    package mutating func appendBulkFloat(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                          _ fill: (UnsafeMutablePointer<Float>) -> Void) {
        appendBulk(\.floatValues, Self.kFloat, rows: n, present: present, levels: levels, fill)
    }
    @inlinable
    package mutating func appendBulkDouble(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                           _ fill: (UnsafeMutablePointer<Double>) -> Void) {
        appendBulk(\.doubleValues, Self.kDouble, rows: n, present: present, levels: levels, fill)
    }
    @inlinable
    package mutating func appendBulkBool(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                         _ fill: (UnsafeMutablePointer<Bool>) -> Void) {
        appendBulk(\.boolValues, Self.kBool, rows: n, present: present, levels: levels, fill)
    }

    /// Fixed-length values: `fill` writes `present * fixedLength` bytes.
    @inlinable
    package mutating func appendBulkFixed(rows n: Int, present: Int, levels: UnsafeBufferPointer<UInt8>?,
                                          _ fill: (UnsafeMutablePointer<UInt8>) -> Void) {
        appendBulk(\.bytes, Self.kFixed, rows: n, present: present * fixedLength, levels: levels, fill)
    }

    /// Byte arrays: `fill` gets room for `byteCount` bytes, room for the `present` end offsets,
    /// and the offset its first value starts at; it writes every value's bytes back to back and,
    /// for each, the offset where it ends (the start plus the bytes written so far).
    @inlinable
    package mutating func appendBulkByteArray(rows n: Int, present: Int, byteCount: Int, levels: UnsafeBufferPointer<UInt8>?,
                                              _ fill: (UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<Int>, Int) -> Void) {
        precondition(kind == Self.kBytes && maxRep == 0)
        pushBulkLevels(rows: n, levels: levels)
        guard present > 0 else { return }
        let start = bytes.count
        // The offsets move out while the bytes are appended: both are written in one pass.
        var ends: [Int] = []
        swap(&ends, &offsets)
        defer { swap(&ends, &offsets) }
        if byteCount > 0 {
            bytes.append(addingCapacity: byteCount) { span in
                span.withUnsafeMutableBufferPointer { buf, initialized in
                    let data = buf.baseAddress!
                    Self.fillTail(&ends, present) { off in fill(data, off, start) }
                    initialized = byteCount
                }
            }
        } else {
            Self.fillTail(&ends, present) { off in fill(nil, off, start) }
        }
    }
}
