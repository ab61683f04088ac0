extension ColumnBuilder {
    /// The same column with no entries and no storage (nothing is allocated, nothing copied).
    func emptyCopy() -> ColumnBuilder {
        var c = self
        c.rows = 0; c.levels = 0
        c.definitionLevels = []
        c.repetitionLevels = []
        c.int32Values = []
        c.int64Values = []
        c.floatValues = []
        c.doubleValues = []
        c.boolValues = []
        c.bytes = []
        c.offsets = kind == Self.kBytes ? [0] : []
        c.firstError = nil
        c.failedRowList = []
        c.failedRowsOverflow = false
        return c
    }

    /// True when `other` stores its entries the same way (same kind, width and levels), so
    /// entries can be copied from one to the other.
    func hasSameLayout(as other: ColumnBuilder) -> Bool {
        kind == other.kind && fixedLength == other.fixedLength && maxDef == other.maxDef && maxRep == other.maxRep
    }

    /// Reserves exactly `levels` more level entries, `values` more values and, for byte
    /// arrays, `bytes` more bytes (for a builder filled once, not grown repeatedly).
    mutating func reserveMore(levels levelCount: Int, values: Int, bytes byteCount: Int) {
        if maxDef > 0 { definitionLevels.reserveCapacity(definitionLevels.count + levelCount) }
        if maxRep > 0 { repetitionLevels.reserveCapacity(repetitionLevels.count + levelCount) }
        switch kind {
        case Self.kBool: boolValues.reserveCapacity(boolValues.count + values)
        case Self.kInt32: int32Values.reserveCapacity(int32Values.count + values)
        case Self.kInt64: int64Values.reserveCapacity(int64Values.count + values)
        case Self.kFloat: floatValues.reserveCapacity(floatValues.count + values)
        case Self.kDouble: doubleValues.reserveCapacity(doubleValues.count + values)
        case Self.kBytes:
            offsets.reserveCapacity(offsets.count + values)
            bytes.reserveCapacity(bytes.count + byteCount)
        default: bytes.reserveCapacity(bytes.count + byteCount)
        }
    }

    /// Bytes held by the values `values` (byte arrays and fixed-length values; 0 otherwise).
    func byteCount(ofValues values: Range<Int>) -> Int {
        switch kind {
        case Self.kBytes: return offsets[values.upperBound] - offsets[values.lowerBound]
        case Self.kFixed: return values.count * fixedLength
        default: return 0
        }
    }

    /// The level and value index at which each row of `rowStarts` starts (ascending, each in
    /// `0...rowCount`; `rowCount` gives the end), written to `levelAt` and `valueAt`.
    ///
    /// One pass over the levels, as the writer's row slicing does: in a repeated column row r > 0
    /// starts at the (r+1)-th entry with repetition level 0; values are the entries at the
    /// maximum definition level (every entry in a required flat column). Value indexes are
    /// clamped to the values held, so a batch left misaligned by an error cannot trap here
    /// (it is rejected by the writer anyway).
    func entryPositions(ofRows rowStarts: UnsafeBufferPointer<Int>, levelAt: inout [Int], valueAt: inout [Int]) {
        levelAt.removeAll(keepingCapacity: true)
        valueAt.removeAll(keepingCapacity: true)
        levelAt.reserveCapacity(rowStarts.count)
        valueAt.reserveCapacity(rowStarts.count)
        let valueLimit = valueCount
        let md = maxDef
        if maxRep == 0 {
            if md == 0 {
                for s in rowStarts { levelAt.append(s); valueAt.append(Swift.min(s, valueLimit)) }
                return
            }
            definitionLevels.withUnsafeBufferPointer { d in
                var l = 0, v = 0
                for s in rowStarts {
                    while l < s { v &+= d[l] == md ? 1 : 0; l &+= 1 }
                    levelAt.append(s); valueAt.append(Swift.min(v, valueLimit))
                }
            }
            return
        }
        // A repeated column always has definition levels (a repeated node adds one).
        repetitionLevels.withUnsafeBufferPointer { r in
            definitionLevels.withUnsafeBufferPointer { d in
                let n = r.count
                var l = 0, v = 0, seen = 0
                for s in rowStarts {
                    if s > 0 {
                        while l < n {
                            if r[l] == 0 {
                                if seen == s { break }
                                seen &+= 1
                            }
                            v &+= d[l] == md ? 1 : 0
                            l &+= 1
                        }
                    }
                    levelAt.append(l); valueAt.append(Swift.min(v, valueLimit))
                }
            }
        }
    }

    /// Appends the entries `levelRange` (values `valueRange`, rows `rowCount`) of `other`, a
    /// builder of the same layout, copying each buffer's slice in one go.
    mutating func appendEntries(of other: ColumnBuilder, levels levelRange: Range<Int>, values valueRange: Range<Int>,
                                rows rowCount: Int) {
        if maxDef > 0 { definitionLevels.append(contentsOf: other.definitionLevels[levelRange]) }
        if maxRep > 0 { repetitionLevels.append(contentsOf: other.repetitionLevels[levelRange]) }
        switch kind {
        case Self.kBool: boolValues.append(contentsOf: other.boolValues[valueRange])
        case Self.kInt32: int32Values.append(contentsOf: other.int32Values[valueRange])
        case Self.kInt64: int64Values.append(contentsOf: other.int64Values[valueRange])
        case Self.kFloat: floatValues.append(contentsOf: other.floatValues[valueRange])
        case Self.kDouble: doubleValues.append(contentsOf: other.doubleValues[valueRange])
        case Self.kBytes:
            let b0 = other.offsets[valueRange.lowerBound], b1 = other.offsets[valueRange.upperBound]
            let shift = bytes.count &- b0
            bytes.append(contentsOf: other.bytes[b0..<b1])
            offsets.append(contentsOf: other.offsets[(valueRange.lowerBound + 1)..<(valueRange.upperBound + 1)]
                .lazy.map { $0 &+ shift })
        default:
            bytes.append(contentsOf: other.bytes[(valueRange.lowerBound * fixedLength)..<(valueRange.upperBound * fixedLength)])
        }
        rows &+= rowCount
        levels &+= levelRange.count
    }

    /// Brings along the failed rows of `other` in `sourceRows`, placed from row `at` of self.
    mutating func adoptFailedRows(of other: ColumnBuilder, _ sourceRows: Range<Int>, at: Int) {
        if other.failedRowsOverflow { failedRowsOverflow = true }
        guard !other.failedRowList.isEmpty else { return }
        for r in other.failedRowList where sourceRows.contains(r) { noteFailedRow(at + (r - sourceRows.lowerBound)) }
    }

    /// Takes `error` (one of a source builder's, its row moved to `row` of this builder) unless
    /// this builder already has one.
    mutating func adoptError(_ error: ParquetError, row: Int?) {
        if let row { noteFailedRow(row) }
        guard firstError == nil else { return }
        var e = error
        e.row = row
        firstError = e
    }
}
