import Parquet

/// Where pass 1 of ``Walker/runColumnar(from:roots:ncols:index:)`` records each field of the rows
/// of one pass (start and length, -1 for NULL), and the definition levels pass 2 hands to the
/// column builders. Owned by the decoder, reused for every region.
final class RowIndex: @unchecked Sendable {
    /// Rows decoded per columnar pass.
    let rowsPerPass: Int
    /// `2 * ncols` Int32s per row: start and length of each field.
    let fields: UnsafeMutablePointer<Int32>
    /// One definition level per row of a pass.
    let levels: UnsafeMutablePointer<UInt8>
    /// Fewer whole rows than this in a region go row by row.
    let minRows: Int
    /// How each top-level column is filled, worked out at the first pass (the builders of every
    /// batch of a decoder have the same schema): asking a builder each pass would copy it.
    var plans: [BulkPlan] = []

    struct BulkPlan {
        /// nil: value by value.
        var storage: ColumnBuilder.BulkStorage?
        /// The wire length every value must have (0: any).
        var wire: Int
        var maxDefinitionLevel: Int
    }

    init(columns ncols: Int, minRows: Int) {
        self.minRows = max(1, minRows)
        // At most 4,096 rows and 1 MiB of field positions per pass, at least one row.
        rowsPerPass = max(1, min(4096, (1 << 17) / max(ncols, 1)))
        fields = .allocate(capacity: 2 * max(ncols, 1) * rowsPerPass)
        levels = .allocate(capacity: rowsPerPass)
    }

    deinit {
        fields.deallocate()
        levels.deallocate()
    }
}

extension Outcome {
    /// The same outcome with `k` more rows appended before it.
    func adding(_ k: Int) -> Outcome {
        switch self {
        case .rows(let p, let a): .rows(p, a + k)
        case .end(let p, let a): .end(p, a + k)
        case .needMore(let p, let a, let need): .needMore(p, a + k, need: need)
        case .fault(let p, let a, let rowEnd, let f): .fault(p, a + k, rowEnd: rowEnd, f)
        case .failure(let e, let a): .failure(e, a + k)
        }
    }
}

extension Walker {
    /// Decodes the region as ``run(from:roots:ncols:)`` does, with the same outcome, but a
    /// column at a time: pass 1 walks up to ``RowIndex/rowsPerPass`` whole rows and records
    /// where each field's bytes are (every length bounds-checked), pass 2 converts each column's
    /// values of those rows in one tight loop and hands them to its builder in one bulk append
    /// (flat columns of fixed-width, uuid, text and jsonb types; other columns value by value).
    ///
    /// Anything unusual goes row by row, where the row-wise walker reports it exactly: the rows
    /// after the last whole row of the region (end marker, a row cut off, a malformed row),
    /// and a pass in which any value is refused, malformed or NULL in a NOT NULL column (the
    /// pass is taken back whole and redone by ``run(from:roots:ncols:)``).
    mutating func runColumnar(from: Int, roots: UnsafeBufferPointer<Int32>, ncols: Int, index: RowIndex) -> Outcome {
        guard ncols > 0, count <= Int(Int32.max) else { return run(from: from, roots: roots, ncols: ncols) }
        var p = from
        var appended = 0
        let maxRows = index.rowsPerPass
        let table = index.fields
        while true {
            let start = p
            var n = 0
            scan: while n < maxRows {
                guard count - p >= 2, Int(i16(p)) == ncols else { break }
                var q = p + 2
                let row = table + 2 * ncols * n
                var f = 0
                while f < ncols {
                    guard count - q >= 4 else { break scan }
                    let len = Int(i32(q))
                    q += 4
                    if len == -1 {
                        row[2 * f] = 0
                        row[2 * f + 1] = -1
                    } else {
                        guard len >= 0, count - q >= len else { break scan }
                        row[2 * f] = Int32(truncatingIfNeeded: q)
                        row[2 * f + 1] = Int32(truncatingIfNeeded: len)
                        q += len
                    }
                    f += 1
                }
                p = q
                n += 1
            }
            if n < index.minRows { return run(from: start, roots: roots, ncols: ncols).adding(appended) }
            if index.plans.isEmpty { index.plans = (0..<ncols).map { bulkPlan(root: Int(roots[$0])) } }
            let rowBase = cols[0].rowCount
            var f = 0
            while f < ncols {
                guard fillColumn(f, root: Int(roots[f]), rows: n, ncols: ncols, index: index) else {
                    takeBack(rowBase)
                    return run(from: start, roots: roots, ncols: ncols).adding(appended)
                }
                f += 1
            }
            appended += n
            if p == count { return .rows(p, appended) }
        }
    }

    /// How the column of top-level node `root` is filled: in bulk (the storage its builder takes
    /// unchecked, the wire length of its values) or value by value.
    func bulkPlan(root: Int) -> RowIndex.BulkPlan {
        let node = nodes[root]
        let leaf = Int(node.leaf)
        let column = cols[leaf]
        // Fixed wire length of the kinds taken in bulk (0: any length), and the storage they go to.
        let wire: Int, storage: ColumnBuilder.BulkStorage?
        var integers: ClosedRange<Int64>? = nil
        switch node.kind {
        case .bool: (wire, storage) = (1, .boolean)
        case .int2: (wire, storage, integers) = (2, .int32, Int64(Int16.min)...Int64(Int16.max))
        case .int4: (wire, storage, integers) = (4, .int32, Int64(Int32.min)...Int64(Int32.max))
        case .date: (wire, storage, integers) = (4, .int32, Int64(Int32.min)...Int64(Int32.max))
        case .int8, .time, .timestamp: (wire, storage, integers) = (8, .int64, Int64.min...Int64.max)
        case .float4: (wire, storage) = (4, .float)
        case .float8: (wire, storage) = (8, .double)
        case .uuid: (wire, storage) = (16, .fixed(16))
        case .bytes, .jsonb:
            (wire, storage) = (0, trustsUTF8 || !column.checksUTF8 ? .byteArray : nil)
        case .decimal where node.precision <= 18:
            let limit = Int64(node.limit)
            (wire, storage, integers) = (0, column.descriptor.storage == .int32 ? .int32 : .int64, -limit...limit)
        default: (wire, storage) = (0, nil)
        }
        let maxDef = column.descriptor.maxDefinitionLevel
        guard let storage, node.leafEnd == node.leaf + 1, column.takesBulk(storage, integersIn: integers) else {
            return RowIndex.BulkPlan(storage: nil, wire: 0, maxDefinitionLevel: maxDef)
        }
        return RowIndex.BulkPlan(storage: storage, wire: wire, maxDefinitionLevel: maxDef)
    }

    /// Pass 2 for top-level column `f` over the `n` rows of the pass; false when the pass must
    /// go row by row (nothing is reported: the row-wise walker finds the same thing again).
    mutating func fillColumn(_ f: Int, root: Int, rows n: Int, ncols: Int, index: RowIndex) -> Bool {
        let node = nodes[root]
        let leaf = Int(node.leaf)
        let stride = 2 * ncols
        let starts = UnsafePointer(index.fields + 2 * f)
        let lens = UnsafePointer(index.fields + 2 * f + 1)
        let plan = index.plans[f]
        guard let storage = plan.storage else {
            return fillValueByValue(root, rows: n, starts: starts, lens: lens, stride: stride)
        }
        let wire = plan.wire, maxDef = plan.maxDefinitionLevel
        // Levels, the values' total length, and every check a value of this kind can fail.
        let levels = index.levels
        var present = 0, byteCount = 0
        for r in 0..<n {
            let len = Int(lens[r * stride])
            if len < 0 {
                levels[r] = 0
                continue
            }
            levels[r] = 1
            present += 1
            if wire > 0 {
                guard len == wire else { return false }
            }
            let p = Int(starts[r * stride])
            switch node.kind {
            case .date:
                let v = i32(p)
                if v != Int32.max && v != Int32.min {
                    let (d, o) = v.addingReportingOverflow(Self.epochDays)
                    if o || d >= Int32.max || d <= -Int32.max { return false }
                }
            case .timestamp:
                let v = i64(p)
                if v != Int64.max && v != Int64.min {
                    let (u, o) = v.addingReportingOverflow(Self.epochMicros)
                    if o || u >= Int64.max || u <= -Int64.max { return false }
                }
            case .jsonb:
                guard len >= 1, base.load(fromByteOffset: p, as: UInt8.self) == 1 else { return false }
                byteCount += len - 1
            case .bytes:
                byteCount += len
            default: break
            }
        }
        if present < n {
            // A NULL in a NOT NULL column, or in a required Parquet column: row by row.
            guard node.optional, maxDef == 1 else { return false }
        }
        let levelRuns = maxDef == 1 ? UnsafeBufferPointer(start: UnsafePointer(levels), count: n) : nil
        let kind = node.kind
        let b = base
        @inline(__always) func be16(_ p: Int) -> Int16 { Int16(bigEndian: b.loadUnaligned(fromByteOffset: p, as: Int16.self)) }
        @inline(__always) func be32(_ p: Int) -> UInt32 { UInt32(bigEndian: b.loadUnaligned(fromByteOffset: p, as: UInt32.self)) }
        @inline(__always) func be64(_ p: Int) -> UInt64 { UInt64(bigEndian: b.loadUnaligned(fromByteOffset: p, as: UInt64.self)) }
        // Each present row's start, in order (`body` runs once per value).
        @inline(__always) func forEachValue(_ body: (Int, Int) -> Void) {
            var r = 0
            while r < n {
                let len = Int(lens[r * stride])
                if len >= 0 { body(Int(starts[r * stride]), len) }
                r += 1
            }
        }
        switch storage {
        case .boolean:
            cols[leaf].appendBulkBool(rows: n, present: present, levels: levelRuns) { out in
                var k = 0
                forEachValue { p, _ in out[k] = b.load(fromByteOffset: p, as: UInt8.self) != 0; k += 1 }
            }
        case .int32 where kind == .decimal, .int64 where kind == .decimal:
            // Decimals are converted while they are stored: one that needs the row-wise walker
            // (NaN, more digits than fit 16, digits beyond the scale, over the precision) marks
            // the pass, which is then taken back and redone row by row.
            var usable = true
            let scale = Int(node.scale), limit = UInt64(node.limit)
            if storage == .int32 {
                cols[leaf].appendBulkInt32(rows: n, present: present, levels: levelRuns) { out in
                    var k = 0
                    forEachValue { p, len in
                        let v = shortDecimal(p, len, scale: scale, limit: limit)
                        if v == nil { usable = false }
                        out[k] = Int32(truncatingIfNeeded: v ?? 0)
                        k += 1
                    }
                }
            } else {
                cols[leaf].appendBulkInt64(rows: n, present: present, levels: levelRuns) { out in
                    var k = 0
                    forEachValue { p, len in
                        let v = shortDecimal(p, len, scale: scale, limit: limit)
                        if v == nil { usable = false }
                        out[k] = v ?? 0
                        k += 1
                    }
                }
            }
            return usable
        case .int32:
            cols[leaf].appendBulkInt32(rows: n, present: present, levels: levelRuns) { out in
                var k = 0
                switch kind {
                case .int2: forEachValue { p, _ in out[k] = Int32(be16(p)); k += 1 }
                case .date:
                    forEachValue { p, _ in
                        let v = Int32(bitPattern: be32(p))
                        out[k] = v == Int32.max ? Int32.max : (v == Int32.min ? -Int32.max : v &+ Self.epochDays)
                        k += 1
                    }
                default: forEachValue { p, _ in out[k] = Int32(bitPattern: be32(p)); k += 1 }
                }
            }
        case .int64:
            cols[leaf].appendBulkInt64(rows: n, present: present, levels: levelRuns) { out in
                var k = 0
                if kind == .timestamp {
                    forEachValue { p, _ in
                        let v = Int64(bitPattern: be64(p))
                        out[k] = v == Int64.max ? Int64.max : (v == Int64.min ? -Int64.max : v &+ Self.epochMicros)
                        k += 1
                    }
                } else {
                    forEachValue { p, _ in out[k] = Int64(bitPattern: be64(p)); k += 1 }
                }
            }
        case .float:
            cols[leaf].appendBulkFloat(rows: n, present: present, levels: levelRuns) { out in
                var k = 0
                forEachValue { p, _ in out[k] = Float(bitPattern: be32(p)); k += 1 }
            }
        case .double:
            cols[leaf].appendBulkDouble(rows: n, present: present, levels: levelRuns) { out in
                var k = 0
                forEachValue { p, _ in out[k] = Double(bitPattern: be64(p)); k += 1 }
            }
        case .fixed:
            cols[leaf].appendBulkFixed(rows: n, present: present, levels: levelRuns) { out in
                var o = out
                forEachValue { p, _ in
                    let src = b + p
                    UnsafeMutableRawPointer(o).storeBytes(of: src.loadUnaligned(as: UInt64.self), as: UInt64.self)
                    UnsafeMutableRawPointer(o + 8).storeBytes(of: src.loadUnaligned(fromByteOffset: 8, as: UInt64.self), as: UInt64.self)
                    o += 16
                }
            }
        case .byteArray:
            let skip = kind == .jsonb ? 1 : 0
            cols[leaf].appendBulkByteArray(rows: n, present: present, byteCount: byteCount, levels: levelRuns) { data, ends, start in
                var k = 0, at = 0
                forEachValue { p, len in
                    let m = len - skip
                    if m > 0 { copyShort(to: UnsafeMutableRawPointer(data! + at), from: b + p + skip, count: m) }
                    at += m
                    ends[k] = start + at
                    k += 1
                }
            }
        }
        return true
    }

    /// The unscaled value of a numeric of at most 16 digits at `scale`, as ``decimal(_:_:_:_:rep:)``
    /// computes it; nil for anything else (that walker then decides: refuse, or more digits).
    @inline(__always)
    func shortDecimal(_ p: Int, _ len: Int, scale: Int, limit: UInt64) -> Int64? {
        guard len >= 8 else { return nil }
        let ndigits = Int(i16(p)), weight = Int(i16(p + 2)), sign = u16(p + 4), dscale = i16(p + 6)
        guard ndigits <= 4, ndigits >= 0, len == 8 + 2 * ndigits, dscale >= 0,
              sign == Self.signPositive || sign == Self.signNegative else { return nil }
        if ndigits == 0 { return 0 }
        var acc: UInt64 = 0
        var q = p + 8
        for _ in 0..<ndigits {
            let d = u16(q)
            guard d < 10000 else { return nil }
            acc = acc &* 10000 &+ UInt64(d)
            q += 2
        }
        var e = 4 * (weight - ndigits + 1) + scale
        if e < 0 {
            guard e >= -19 else { return nil }
            var div: UInt64 = 1
            while e < 0 { div &*= 10; e += 1 }
            guard acc % div == 0 else { return nil }
            acc /= div
        }
        while e > 0 && acc != 0 {
            let (m, o) = acc.multipliedReportingOverflow(by: 10)
            guard !o else { return nil }
            acc = m
            e -= 1
        }
        guard acc <= limit else { return nil }
        return sign == Self.signNegative ? -Int64(acc) : Int64(acc)
    }

    /// Pass 2 for a column not taken in bulk: its values of the pass one by one, as the row-wise
    /// walker appends them (the builders' own checks apply).
    mutating func fillValueByValue(_ root: Int, rows n: Int, starts: UnsafePointer<Int32>, lens: UnsafePointer<Int32>,
                                   stride: Int) -> Bool {
        let optional = nodes[root].optional
        var r = 0
        while r < n {
            let len = Int(lens[r * stride])
            if len < 0 {
                guard optional else { return false }
                nullTree(root, def: 0, rep: 0)
            } else {
                do {
                    guard try topLevel(root, Int(starts[r * stride]), len) else { return false }
                } catch {
                    return false
                }
            }
            r += 1
        }
        return true
    }
}
