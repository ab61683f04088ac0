extension ColumnBuilder {
    /// Drops every entry of the rows from `rowCount` on, so a reader that appends a row
    /// column by column can take the row back when one of its values turns out to be
    /// unusable (the PostgreSQL decoder sends such rows to a rejects file). Costs only the
    /// dropped entries: nothing has to be marked before a row is appended.
    ///
    /// An error recorded for a dropped row is forgotten; one recorded for an earlier row is kept.
    package mutating func truncate(toRows rowCount: Int) {
        guard rowCount < rows, rowCount >= 0 else { return }
        // Level index at which row `rowCount` starts.
        var start: Int
        if maxRep == 0 {
            start = rowCount
        } else {
            var remaining = rows - rowCount
            start = levels
            while remaining > 0 && start > 0 {
                start -= 1
                if repetitionLevels[start] == 0 { remaining -= 1 }
            }
        }
        // Values stored by the dropped entries: every entry at the maximum definition level
        // (in a required flat column every entry, placeholders after errors included).
        var dropped = levels - start
        if maxDef > 0 {
            dropped = 0
            for i in start..<levels where definitionLevels[i] == maxDef { dropped += 1 }
            definitionLevels.removeLast(levels - start)
        }
        if maxRep > 0 { repetitionLevels.removeLast(levels - start) }
        levels = start
        rows = rowCount
        switch kind {
        case Self.kBool: boolValues.removeLast(dropped)
        case Self.kInt32: int32Values.removeLast(dropped)
        case Self.kInt64: int64Values.removeLast(dropped)
        case Self.kFloat: floatValues.removeLast(dropped)
        case Self.kDouble: doubleValues.removeLast(dropped)
        case Self.kBytes:
            offsets.removeLast(dropped)
            bytes.removeLast(bytes.count - offsets[offsets.count - 1])
        default: bytes.removeLast(dropped * fixedLength)
        }
        if let e = firstError, (e.row ?? 0) >= rowCount { firstError = nil }
        while let last = failedRowList.last, last >= rowCount { failedRowList.removeLast() }
    }
}

extension ColumnBuilder {
    /// Whether an invalid append was recorded (what ``error`` returns, without copying it):
    /// cheap enough to check after every value on a hot path.
    @inlinable
    package var hasError: Bool {
        if case .none = firstError { return false }
        return true
    }
}

extension RowBatch {
    /// Drops the rows from `rowCount` on in every column (see ``ColumnBuilder/truncate(toRows:)``).
    package mutating func truncate(toRows rowCount: Int) {
        for i in columns.indices { columns[i].truncate(toRows: rowCount) }
    }
}
