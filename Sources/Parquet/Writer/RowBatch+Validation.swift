extension RowBatch {
    /// Checks that leaves sharing a group agree on that group's shape: projected onto
    /// their deepest common ancestor (entries that start a new instance of it, with the
    /// definition level capped at its level), two neighbouring leaves must give the same
    /// sequence. Otherwise readers would assemble different records from the columns.
    func validateSiblings() throws(ParquetError) {
        guard columns.count > 1 else { return }
        pairs: for i in 0..<(columns.count - 1) {
            let a = columns[i], b = columns[i + 1]
            let na = a.descriptor.nodes, nb = b.descriptor.nodes
            var common = 0
            while common < na.count - 1 && common < nb.count - 1 && na[common] == nb[common] { common += 1 }
            if common == 0 { continue }
            let k = common - 1
            let defCap = UInt8(a.descriptor.definitionLevelOfNode[k])
            let repCap = UInt8(na[0...k].filter { $0.repetition == .repeated }.count)
            if a.maxDef == 0 && a.maxRep == 0 && b.maxDef == 0 && b.maxRep == 0 { continue }
            var ia = 0, ib = 0, row = -1
            let la = a.levels, lb = b.levels
            while true {
                // Next entry of each column that starts a new instance of the ancestor.
                while ia < la, a.maxRep > 0, a.repetitionLevels[ia] > repCap { ia += 1 }
                while ib < lb, b.maxRep > 0, b.repetitionLevels[ib] > repCap { ib += 1 }
                if ia == la || ib == lb {
                    if ia == la && ib == lb { continue pairs }
                    break
                }
                let ra = a.maxRep > 0 ? a.repetitionLevels[ia] : 0
                let rb = b.maxRep > 0 ? b.repetitionLevels[ib] : 0
                let da = min(a.maxDef > 0 ? a.definitionLevels[ia] : 0, defCap)
                let db = min(b.maxDef > 0 ? b.definitionLevels[ib] : 0, defCap)
                if ra == 0 { row += 1 }
                if ra != rb || da != db {
                    throw ParquetError(.invalidLevels, column: b.descriptor.dottedPath, row: max(row, 0),
                                       message: "levels disagree with \(a.descriptor.dottedPath) about their common parent")
                }
                ia += 1; ib += 1
            }
            throw ParquetError(.invalidLevels, column: b.descriptor.dottedPath, row: max(row, 0),
                               message: "a different number of entries than \(a.descriptor.dottedPath) under their common parent")
        }
    }
}
