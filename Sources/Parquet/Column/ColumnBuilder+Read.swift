extension ColumnBuilder {
    /// Calls `body` with each row's value of a flat (top-level, not repeated) int32 or int64
    /// column, nil for a null: the backfill reads a batch's timestamp or date column this way
    /// to pick each row's Hive partition. Other columns call `body` with nil for every row.
    package func forEachFlatInteger(_ body: (Int64?) -> Void) {
        guard maxRep == 0, kind == Self.kInt64 || kind == Self.kInt32 else {
            for _ in 0..<rows { body(nil) }
            return
        }
        var v = 0
        let hasLevels = maxDef > 0
        for r in 0..<rows {
            if hasLevels && definitionLevels[r] != maxDef {
                body(nil)
                continue
            }
            body(kind == Self.kInt64 ? int64Values[v] : Int64(int32Values[v]))
            v += 1
        }
    }
}
