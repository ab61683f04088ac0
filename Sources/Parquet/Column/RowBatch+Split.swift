extension RowBatch {
    /// A batch over `columns`, builders made for `schema`'s leaf columns in order.
    init(schema: ParquetSchema, builtColumns columns: [ColumnBuilder]) {
        self.schema = schema
        self.columns = columns
    }

    /// Moves the rows of this batch into one batch per distinct key: `keys[i]` is row i's key
    /// (keys.count == rowCount). Returns the batches with their key, in order of each key's first row;
    /// within a batch rows keep their order. Works for every column shape: flat, optional, nested structs,
    /// lists, maps, lists of structs (definition/repetition levels copied per row).
    ///
    /// Each run of consecutive rows with the same key is copied buffer by buffer in one go
    /// (levels, typed values, bytes; byte-array offsets shifted), into buffers reserved to their
    /// exact size; a column's levels are walked once to find where the runs start. A batch whose
    /// rows all have one key is returned as it is (its buffers shared, nothing copied); an
    /// empty batch gives no batches.
    ///
    /// A value error recorded for a row (``ColumnBuilder/error``) goes with the row, its row index
    /// moved to the row's place in its new batch, so the writer still rejects that batch, and only
    /// that one. Every column must hold `keys.count` rows (as ``validate()`` checks).
    package func split(byRowKeys keys: [Int]) -> [(key: Int, batch: RowBatch)] {
        let n = rowCount
        precondition(keys.count == n, "split(byRowKeys:) needs one key per row: \(keys.count) keys for \(n) rows")
        for c in columns {
            precondition(c.rows == n, "split(byRowKeys:): column \(c.descriptor.dottedPath) has \(c.rows) rows, not \(n)")
        }
        guard n > 0 else { return [] }

        // Runs of consecutive rows with one key: their first rows (then `n`) and their group.
        var runStarts: [Int] = []
        var runGroup: [Int] = []
        var groupKeys: [Int] = []
        var groupRows: [Int] = []
        var lookup: [Int: Int] = [:]  // used once there are more than a few groups
        let linearLimit = 8
        keys.withUnsafeBufferPointer { k in
            var i = 0
            while i < n {
                let key = k[i]
                var j = i &+ 1
                while j < n && k[j] == key { j &+= 1 }
                var g: Int
                if groupKeys.count <= linearLimit {
                    g = groupKeys.firstIndex(of: key) ?? -1
                } else {
                    g = lookup[key] ?? -1
                }
                if g < 0 {
                    g = groupKeys.count
                    groupKeys.append(key)
                    groupRows.append(0)
                    if groupKeys.count == linearLimit + 1 {
                        for (index, k) in groupKeys.enumerated() { lookup[k] = index }
                    } else if groupKeys.count > linearLimit + 1 {
                        lookup[key] = g
                    }
                }
                runStarts.append(i)
                runGroup.append(g)
                groupRows[g] &+= j &- i
                i = j
            }
        }
        if groupKeys.count == 1 { return [(key: groupKeys[0], batch: self)] }
        runStarts.append(n)

        let groups = groupKeys.count, runs = runGroup.count
        var parts = [[ColumnBuilder]](repeating: [], count: groups)
        for g in 0..<groups { parts[g].reserveCapacity(columns.count) }
        var levelAt: [Int] = [], valueAt: [Int] = []
        var groupLevels = [Int](repeating: 0, count: groups)
        var groupValues = [Int](repeating: 0, count: groups)
        var groupBytes = [Int](repeating: 0, count: groups)

        for c in columns {
            runStarts.withUnsafeBufferPointer { c.entryPositions(ofRows: $0, levelAt: &levelAt, valueAt: &valueAt) }
            for g in 0..<groups { groupLevels[g] = 0; groupValues[g] = 0; groupBytes[g] = 0 }
            let storesBytes = c.kind == ColumnBuilder.kBytes || c.kind == ColumnBuilder.kFixed
            for r in 0..<runs {
                let g = runGroup[r]
                groupLevels[g] &+= levelAt[r + 1] &- levelAt[r]
                groupValues[g] &+= valueAt[r + 1] &- valueAt[r]
                if storesBytes { groupBytes[g] &+= c.byteCount(ofValues: valueAt[r]..<valueAt[r + 1]) }
            }
            var built: [ColumnBuilder] = []
            built.reserveCapacity(groups)
            for g in 0..<groups {
                var b = c.emptyCopy()
                b.reserveMore(levels: groupLevels[g], values: groupValues[g], bytes: groupBytes[g])
                built.append(b)
            }
            var errorRow = -1
            if let e = c.firstError {
                if let r = e.row, r >= 0, r < n { errorRow = r } else { built[0].adoptError(e, row: e.row) }
            }
            for r in 0..<runs {
                let g = runGroup[r], first = runStarts[r], end = runStarts[r + 1]
                if errorRow >= first && errorRow < end, let e = c.firstError {
                    built[g].adoptError(e, row: built[g].rows + (errorRow - first))
                }
                built[g].adoptFailedRows(of: c, first..<end, at: built[g].rows)
                built[g].appendEntries(of: c, levels: levelAt[r]..<levelAt[r + 1], values: valueAt[r]..<valueAt[r + 1],
                                       rows: end - first)
            }
            for (g, b) in built.enumerated() { parts[g].append(b) }
        }

        var out: [(key: Int, batch: RowBatch)] = []
        out.reserveCapacity(groups)
        for g in 0..<groups {
            out.append((key: groupKeys[g], batch: RowBatch(schema: schema, builtColumns: parts[g])))
        }
        return out
    }

    /// Appends rows `range` of `other` (same schema) to self.
    ///
    /// Copies each column's entries of those rows slice by slice (buffers grow geometrically,
    /// so consecutive ranges appended one after another cost no more than the rows copied, plus
    /// a walk of `other`'s levels up to `range.upperBound` to find the rows). An error recorded
    /// for one of the rows comes along, its row index moved, unless self already has one.
    package mutating func append(rowsOf other: RowBatch, _ range: Range<Int>) {
        precondition(columns.count == other.columns.count, "append(rowsOf:): the batch was made for another schema")
        precondition(range.lowerBound >= 0 && range.upperBound <= other.rowCount,
                     "append(rowsOf:): rows \(range) outside 0..<\(other.rowCount)")
        guard !range.isEmpty else { return }
        var levelAt: [Int] = [], valueAt: [Int] = []
        let bounds = [range.lowerBound, range.upperBound]
        for i in columns.indices {
            let o = other.columns[i]
            precondition(columns[i].hasSameLayout(as: o), "append(rowsOf:): the batch was made for another schema")
            precondition(o.rows >= range.upperBound,
                         "append(rowsOf:): column \(o.descriptor.dottedPath) has \(o.rows) rows, fewer than \(range.upperBound)")
            bounds.withUnsafeBufferPointer { o.entryPositions(ofRows: $0, levelAt: &levelAt, valueAt: &valueAt) }
            if let e = o.firstError, let r = e.row, range.contains(r) {
                columns[i].adoptError(e, row: columns[i].rows + (r - range.lowerBound))
            }
            columns[i].adoptFailedRows(of: o, range, at: columns[i].rows)
            columns[i].appendEntries(of: o, levels: levelAt[0]..<levelAt[1], values: valueAt[0]..<valueAt[1],
                                     rows: range.count)
        }
    }
}
