import Parquet

/// The hot loop: walks tuples in one contiguous region of the stream and appends their
/// values to the column builders. Lives on the stack for one parse call; everything it
/// touches is a raw pointer, so there is no reference counting or exclusivity check per value.
struct Walker {
    let base: UnsafeRawPointer
    let count: Int
    /// Stream offset of `base[0]`, for error messages.
    let streamOffset: Int
    let nodes: UnsafeBufferPointer<DecodeNode>
    let kids: UnsafeBufferPointer<Int32>
    var cols: UnsafeMutableBufferPointer<ColumnBuilder>
    /// Text and json bytes were checked by the server (``PGConnection/deliversValidUTF8``).
    let trustsUTF8: Bool
    /// Numeric text is formatted here, reused across values.
    var scratch: [UInt8]
    var fault = RowFault()

    /// Days from 1970-01-01 to 2000-01-01, and microseconds.
    static let epochDays: Int32 = 10957
    static let epochMicros: Int64 = 946_684_800_000_000
    static let dayMicros: Int64 = 86_400_000_000

    // MARK: - Loads

    @inline(__always) func i16(_ p: Int) -> Int16 { Int16(bigEndian: base.loadUnaligned(fromByteOffset: p, as: Int16.self)) }
    @inline(__always) func u16(_ p: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt16.self)) }
    @inline(__always) func i32(_ p: Int) -> Int32 { Int32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: Int32.self)) }
    @inline(__always) func u32(_ p: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt32.self)) }
    @inline(__always) func i64(_ p: Int) -> Int64 { Int64(bigEndian: base.loadUnaligned(fromByteOffset: p, as: Int64.self)) }
    @inline(__always) func u64(_ p: Int) -> UInt64 { UInt64(bigEndian: base.loadUnaligned(fromByteOffset: p, as: UInt64.self)) }

    func malformed(_ message: String, _ p: Int) -> PostgresError {
        PostgresError.malformed(message, at: streamOffset + p)
    }

    // MARK: - Tuples

    /// Decodes rows from `from` until the data ends, a row is incomplete or refused, or the end marker.
    mutating func run(from: Int, roots: UnsafeBufferPointer<Int32>, ncols: Int) -> Outcome {
        var p = from
        var appended = 0
        while true {
            if p == count { return .rows(p, appended) }
            let rowStart = p
            guard count - p >= 2 else { return .needMore(p, appended, need: 2) }
            let fc = Int(i16(p))
            if fc == -1 { return .end(p + 2, appended) }
            guard fc == ncols else {
                return .failure(malformed("a tuple with \(fc) fields, the query has \(ncols)", p), appended)
            }
            p += 2
            let rowBase = cols[0].rowCount
            var f = 0
            while f < ncols {
                guard count - p >= 4 else {
                    takeBack(rowBase)
                    return .needMore(rowStart, appended, need: p + 4 - rowStart)
                }
                let len = Int(i32(p))
                p += 4
                let root = Int(roots[f])
                if len == -1 {
                    if nodes[root].optional {
                        nullTree(root, def: 0, rep: 0)
                        f += 1
                        continue
                    }
                    fault = RowFault(column: f, leaf: Int(nodes[root].leaf), reason: "NULL in a NOT NULL column")
                } else {
                    guard len >= 0 else {
                        takeBack(rowBase)
                        return .failure(malformed("negative field length \(len)", p - 4), appended)
                    }
                    guard count - p >= len else {
                        takeBack(rowBase)
                        return .needMore(rowStart, appended, need: p + len - rowStart)
                    }
                    let ok: Bool
                    do {
                        ok = try topLevel(root, p, len)
                    } catch {
                        takeBack(rowBase)
                        return .failure(error, appended)
                    }
                    p += len
                    if ok { f += 1; continue }
                    fault.column = f
                }
                // Refused: find the end of the row, then take it back.
                var g = f + 1
                while g < ncols {
                    guard count - p >= 4 else {
                        takeBack(rowBase)
                        return .needMore(rowStart, appended, need: p + 4 - rowStart)
                    }
                    let l = Int(i32(p))
                    p += 4
                    if l == -1 { g += 1; continue }
                    guard l >= 0 else {
                        takeBack(rowBase)
                        return .failure(malformed("negative field length \(l)", p - 4), appended)
                    }
                    guard count - p >= l else {
                        takeBack(rowBase)
                        return .needMore(rowStart, appended, need: p + l - rowStart)
                    }
                    p += l
                    g += 1
                }
                takeBack(rowBase)
                return .fault(rowStart, appended, rowEnd: p, fault)
            }
            appended += 1
        }
    }

    /// Removes the entries of a partly appended row.
    mutating func takeBack(_ rows: Int) {
        for i in cols.indices where cols[i].rowCount > rows { cols[i].truncate(toRows: rows) }
    }

    /// An absent value of node `n`: every leaf under it gets an entry at definition level `def`.
    @inline(__always)
    mutating func nullTree(_ n: Int, def: Int, rep: Int) {
        let node = nodes[n]
        var l = Int(node.leaf)
        let end = Int(node.leafEnd)
        while l < end {
            cols[l].appendNull(definitionLevel: def, repetitionLevel: rep)
            l += 1
        }
    }

    mutating func refuse(_ n: Int, _ reason: String) -> Bool {
        fault.leaf = Int(nodes[n].leaf)
        fault.reason = reason
        return false
    }

    // MARK: - Values

    /// A top-level value: the common flat kinds inline, the rest through ``value(_:_:_:def:rep:)``.
    @inline(__always)
    mutating func topLevel(_ n: Int, _ p: Int, _ len: Int) throws(PostgresError) -> Bool {
        let node = UnsafePointer(nodes.baseAddress! + n)
        let leaf = Int(node.pointee.leaf)
        switch node.pointee.kind {
        case .int4 where len == 4:
            cols[leaf].appendInt32(i32(p))
        case .int8 where len == 8:
            cols[leaf].appendInt64(i64(p))
        case .bytes:
            return appendBytes(n, leaf, p, len, rep: 0, checked: node.pointee.checksUTF8)
        default:
            return try value(n, p, len, def: 0, rep: 0)
        }
        return true
    }

    /// Appends the value of node `n` held in `p ..< p + len`; `def` is the definition level of
    /// its parent, `rep` the repetition level of its first entry. False when the row must be
    /// refused (``fault`` says why); throws on malformed bytes.
    mutating func value(_ n: Int, _ p: Int, _ len: Int, def: Int, rep: Int) throws(PostgresError) -> Bool {
        let node = UnsafePointer(nodes.baseAddress! + n)
        let leaf = Int(node.pointee.leaf)
        switch node.pointee.kind {
        case .bool:
            guard len == 1 else { throw malformed("bool of \(len) bytes", p) }
            cols[leaf].appendBool(base.load(fromByteOffset: p, as: UInt8.self) != 0, repetitionLevel: rep)
        case .int2:
            guard len == 2 else { throw malformed("int2 of \(len) bytes", p) }
            cols[leaf].appendInt32(Int32(i16(p)), repetitionLevel: rep)
        case .int4:
            guard len == 4 else { throw malformed("int4 of \(len) bytes", p) }
            cols[leaf].appendInt32(i32(p), repetitionLevel: rep)
        case .int8:
            guard len == 8 else { throw malformed("int8 of \(len) bytes", p) }
            cols[leaf].appendInt64(i64(p), repetitionLevel: rep)
        case .oid:
            guard len == 4 else { throw malformed("oid of \(len) bytes", p) }
            cols[leaf].appendInt64(Int64(u32(p)), repetitionLevel: rep)
        case .float4:
            guard len == 4 else { throw malformed("float4 of \(len) bytes", p) }
            cols[leaf].appendFloat(Float(bitPattern: u32(p)), repetitionLevel: rep)
        case .float8:
            guard len == 8 else { throw malformed("float8 of \(len) bytes", p) }
            cols[leaf].appendDouble(Double(bitPattern: u64(p)), repetitionLevel: rep)
        case .bytes:
            return appendBytes(n, leaf, p, len, rep: rep, checked: node.pointee.checksUTF8)
        case .jsonb:
            guard len >= 1 else { throw malformed("empty jsonb value", p) }
            let version = base.load(fromByteOffset: p, as: UInt8.self)
            guard version == 1 else { return refuse(n, "jsonb format version \(version) is not known") }
            return appendBytes(n, leaf, p + 1, len - 1, rep: rep, checked: true)
        case .uuid:
            guard len == 16 else { throw malformed("uuid of \(len) bytes", p) }
            cols[leaf].appendBytes(base + p, count: 16, repetitionLevel: rep)
        case .date:
            guard len == 4 else { throw malformed("date of \(len) bytes", p) }
            let v = i32(p)
            if v == Int32.max || v == Int32.min {
                // ±infinity as ±Int32.max days: what DuckDB reads as infinity and -infinity.
                cols[leaf].appendInt32(v == Int32.max ? Int32.max : -Int32.max, repetitionLevel: rep)
            } else {
                let (d, o) = v.addingReportingOverflow(Self.epochDays)
                if o || d >= Int32.max || d <= -Int32.max { return refuse(n, "date out of the Int32 days range") }
                cols[leaf].appendInt32(d, repetitionLevel: rep)
            }
        case .time:
            guard len == 8 else { throw malformed("time of \(len) bytes", p) }
            cols[leaf].appendInt64(i64(p), repetitionLevel: rep)
        case .timetz:
            guard len == 12 else { throw malformed("timetz of \(len) bytes", p) }
            // The zone is in seconds west of UTC: local + zone = UTC.
            var utc = i64(p) &+ Int64(i32(p + 8)) &* 1_000_000
            utc %= Self.dayMicros
            if utc < 0 { utc += Self.dayMicros }
            cols[leaf].appendInt64(utc, repetitionLevel: rep)
        case .timestamp:
            guard len == 8 else { throw malformed("timestamp of \(len) bytes", p) }
            let v = i64(p)
            if v == Int64.max || v == Int64.min {
                // ±infinity as ±Int64.max µs: what DuckDB reads as infinity and -infinity.
                cols[leaf].appendInt64(v == Int64.max ? Int64.max : -Int64.max, repetitionLevel: rep)
            } else {
                let (u, o) = v.addingReportingOverflow(Self.epochMicros)
                if o || u >= Int64.max || u <= -Int64.max {
                    return refuse(n, "timestamp beyond the Int64 microseconds since 1970")
                }
                cols[leaf].appendInt64(u, repetitionLevel: rep)
            }
        case .interval:
            guard len == 16 else { throw malformed("interval of \(len) bytes", p) }
            cols[leaf].appendInt32(i32(p + 12), repetitionLevel: rep)
            cols[leaf + 1].appendInt32(i32(p + 8), repetitionLevel: rep)
            cols[leaf + 2].appendInt64(i64(p), repetitionLevel: rep)
        case .decimal:
            return try decimal(n, node.pointee, p, len, rep: rep)
        case .numericText:
            try numericText(node.pointee, p, len, rep: rep)
        case .array:
            return try array(n, node.pointee, p, len, def: def, rep: rep)
        case .composite:
            return try composite(node.pointee, p, len, def: def, rep: rep)
        }
        return true
    }

    /// Appends the bytes of a text, json or bytea value; `checked`: a string column, whose value
    /// must be UTF-8 (refused otherwise), unless the server vouched for it (``trustsUTF8``).
    @inline(__always)
    mutating func appendBytes(_ n: Int, _ leaf: Int, _ p: Int, _ len: Int, rep: Int, checked: Bool) -> Bool {
        if trustsUTF8 {
            cols[leaf].appendBytes(knownValidUTF8: base + p, count: len, repetitionLevel: rep)
            return true
        }
        cols[leaf].appendBytes(base + p, count: len, repetitionLevel: rep)
        if checked && cols[leaf].hasError { return refuse(n, "not valid UTF-8") }
        return true
    }

    // MARK: - Nested

    mutating func array(_ n: Int, _ node: DecodeNode, _ p: Int, _ len: Int, def: Int, rep: Int) throws(PostgresError) -> Bool {
        guard len >= 12 else { throw malformed("array of \(len) bytes", p) }
        let ndim = Int(i32(p)), flags = i32(p + 4), elementOid = u32(p + 8)
        guard ndim >= 0 && ndim <= 6 else { throw malformed("array with \(ndim) dimensions", p) }
        guard flags == 0 || flags == 1 else { throw malformed("array null flag \(flags)", p + 4) }
        let present = def + (node.optional ? 1 : 0)
        if ndim == 0 {
            guard len == 12 else { throw malformed("empty array with trailing bytes", p + 12) }
            nullTree(n, def: present, rep: rep)  // an empty list
            return true
        }
        guard elementOid == node.elementOid else {
            throw malformed("array of element oid \(elementOid), the catalog says \(node.elementOid)", p + 8)
        }
        guard len >= 12 + 8 * ndim else { throw malformed("array dimensions cut short", p + 12) }
        if ndim > 1 { return refuse(n, "a \(ndim)-dimensional array cannot be stored as a list") }
        let items = Int(i32(p + 12))
        guard items >= 0 && items <= (len - 20) / 4 else { throw malformed("array of \(items) elements in \(len) bytes", p + 12) }
        if items == 0 {
            guard len == 20 else { throw malformed("empty array with trailing bytes", p + 20) }
            nullTree(n, def: present, rep: rep)
            return true
        }
        let element = Int(node.childStart)
        let end = p + len
        var q = p + 20
        var r = rep
        for _ in 0..<items {
            guard end - q >= 4 else { throw malformed("array element cut short", q) }
            let l = Int(i32(q))
            q += 4
            if l == -1 {
                nullTree(element, def: present + 1, rep: r)
            } else {
                guard l >= 0 && end - q >= l else { throw malformed("array element length \(l) exceeds the array", q - 4) }
                guard try value(element, q, l, def: present + 1, rep: r) else { return false }
                q += l
            }
            r = Int(node.repLevel)
        }
        guard q == end else { throw malformed("array value longer than its elements", q) }
        return true
    }

    mutating func composite(_ node: DecodeNode, _ p: Int, _ len: Int, def: Int, rep: Int) throws(PostgresError) -> Bool {
        guard len >= 4 else { throw malformed("composite of \(len) bytes", p) }
        let fields = Int(i32(p))
        guard fields == Int(node.childCount) else {
            throw malformed("composite with \(fields) fields, the catalog says \(node.childCount)", p)
        }
        let present = def + (node.optional ? 1 : 0)
        let end = p + len
        var q = p + 4
        for c in 0..<fields {
            let child = Int(kids[Int(node.childStart) + c])
            guard end - q >= 8 else { throw malformed("composite field cut short", q) }
            let oid = u32(q), l = Int(i32(q + 4))
            guard oid == nodes[child].wireOid else {
                throw malformed("composite field of oid \(oid), the catalog says \(nodes[child].wireOid)", q)
            }
            q += 8
            if l == -1 { nullTree(child, def: present, rep: rep); continue }
            guard l >= 0 && end - q >= l else { throw malformed("composite field length \(l) exceeds the value", q - 4) }
            guard try value(child, q, l, def: present, rep: rep) else { return false }
            q += l
        }
        guard q == end else { throw malformed("composite value longer than its fields", q) }
        return true
    }
}
