import Parquet

/// Reads a classic checkpoint back into a ``DeltaState``: the footer through the Parquet
/// module's metadata reader, then a small page reader for the leaves a state needs (data pages
/// v1 and v2, PLAIN and dictionary encodings, RLE/bit-packed levels, any codec the module
/// decompresses) and a record assembly for one level of structs, lists and maps.
///
/// Every offset, length and count comes from the file and is checked before use: a damaged or
/// hostile checkpoint throws, never traps (fuzzed by `DeltaCheckpointReaderTests`).
package enum DeltaCheckpointReader {
    package struct Failure: Error, CustomStringConvertible {
        package var message: String
        package var description: String { "checkpoint: \(message)" }
    }

    /// The most bytes, pages and level entries read: bounds on what a file can make us allocate.
    package static let maxFileBytes = 1 << 31
    package static let maxLevels = 100_000_000

    /// The leaves a state needs, by top-level action.
    static let leaves: [[String]] = [
        ["add", "path"], ["add", "partitionValues", "key_value", "key"], ["add", "partitionValues", "key_value", "value"],
        ["add", "size"], ["add", "modificationTime"], ["add", "dataChange"], ["add", "stats"],
        ["remove", "path"], ["remove", "deletionTimestamp"], ["remove", "dataChange"], ["remove", "extendedFileMetadata"],
        ["remove", "partitionValues", "key_value", "key"], ["remove", "partitionValues", "key_value", "value"], ["remove", "size"],
        ["metaData", "id"], ["metaData", "name"], ["metaData", "description"], ["metaData", "format", "provider"],
        ["metaData", "format", "options", "key_value", "key"], ["metaData", "format", "options", "key_value", "value"],
        ["metaData", "schemaString"], ["metaData", "partitionColumns", "list", "element"],
        ["metaData", "configuration", "key_value", "key"], ["metaData", "configuration", "key_value", "value"],
        ["metaData", "createdTime"],
        ["protocol", "minReaderVersion"], ["protocol", "minWriterVersion"],
        ["protocol", "readerFeatures", "list", "element"], ["protocol", "writerFeatures", "list", "element"],
        ["txn", "appId"], ["txn", "version"], ["txn", "lastUpdated"],
    ]

    package static func state(_ bytes: [UInt8]) throws -> DeltaState {
        guard bytes.count <= maxFileBytes else { throw Failure(message: "\(bytes.count) bytes, more than \(maxFileBytes)") }
        let meta: FileMetaData
        do { meta = try ParquetMetadataReader.read(bytes: bytes) } catch { throw Failure(message: "footer: \(error)") }
        guard meta.numRows >= 0, meta.numRows <= Int64(maxLevels) else { throw Failure(message: "\(meta.numRows) rows") }
        let rows = Int(meta.numRows)
        // Leaf paths in schema order with their levels.
        let columns = try leafColumns(meta.schema)
        var trees = [[String: JSONValue]](repeating: [:], count: rows)
        var present = [Set<String>](repeating: [], count: rows)
        for path in leaves {
            guard let ci = columns.firstIndex(where: { $0.path == path }) else { continue }
            let col = columns[ci]
            var rowBase = 0
            for rg in meta.rowGroups {
                guard ci < rg.columns.count, let cm = rg.columns[ci].metaData else { throw Failure(message: "row group without column \(path.joined(separator: "."))") }
                let rgRows = Int(clamping: rg.numRows)
                guard rgRows >= 0, rowBase + rgRows <= rows else { throw Failure(message: "row groups hold more rows than the file") }
                let data = try readChunk(bytes, cm, col)
                try assemble(data, col, rows: rowBase..<(rowBase + rgRows), into: &trees, present: &present)
                rowBase += rgRows
            }
        }
        var state = DeltaState()
        for r in 0..<rows {
            for (action, value) in trees[r] where present[r].contains(action) {
                state.apply([.object([action: finish(value)])])
            }
        }
        return state
    }

    // MARK: - Schema

    struct Leaf {
        var path: [String]
        var type: PhysicalType
        var maxDef: Int
        var maxRep: Int
        /// Definition level at which each path node is present (for optional/repeated nodes).
        var defAt: [Int]
        var repeatedNode: Int?
    }

    static func leafColumns(_ schema: [SchemaElement]) throws -> [Leaf] {
        var out: [Leaf] = []
        var i = 1
        func walk(_ path: [String], def: Int, rep: Int, defAt: [Int], repeated: Int?) throws {
            guard i < schema.count else { throw Failure(message: "schema ends early") }
            let e = schema[i]
            i += 1
            var d = def, r = rep, rn = repeated
            switch e.repetitionType {
            case .optional: d += 1
            case .repeated: d += 1; r += 1; if rn == nil { rn = path.count }
            default: break
            }
            let p = path + [e.name]
            let da = defAt + [d]
            let children = Int(e.numChildren ?? 0)
            guard children >= 0, children <= schema.count - i else { throw Failure(message: "bad numChildren at \(p.joined(separator: "."))") }
            if children == 0 {
                guard let t = e.type else { throw Failure(message: "leaf \(p.joined(separator: ".")) without a type") }
                out.append(Leaf(path: p, type: t, maxDef: d, maxRep: r, defAt: da, repeatedNode: rn))
            } else {
                guard p.count < 16 else { throw Failure(message: "schema nested deeper than 16") }
                for _ in 0..<children { try walk(p, def: d, rep: r, defAt: da, repeated: rn) }
            }
        }
        let top = Int(schema.first?.numChildren ?? 0)
        guard top >= 0, top < schema.count else { throw Failure(message: "bad root") }
        for _ in 0..<top { try walk([], def: 0, rep: 0, defAt: [], repeated: nil) }
        return out
    }

    // MARK: - Pages

    struct ChunkData {
        var defs: [Int] = []
        var reps: [Int] = []
        var values: [JSONValue] = []

        /// One page's levels (a column without repetition or definition has them all 0).
        mutating func append(reps r: [Int], defs d: [Int], count n: Int, _ col: Leaf) {
            reps += col.maxRep > 0 ? r : [Int](repeating: 0, count: n)
            defs += col.maxDef > 0 ? d : [Int](repeating: 0, count: n)
        }
    }

    struct Cursor {
        let bytes: [UInt8]
        var p: Int
        let end: Int
        mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
            guard n >= 0, n <= end - p else { throw Failure(message: "value past the end of its page") }
            defer { p += n }
            return bytes[p..<(p + n)]
        }
        mutating func u32() throws -> Int {
            let b = try take(4)
            return Int(b[b.startIndex]) | Int(b[b.startIndex + 1]) << 8 | Int(b[b.startIndex + 2]) << 16 | Int(b[b.startIndex + 3]) << 24
        }
        mutating func uleb() throws -> Int {
            var v = 0, shift = 0
            while true {
                guard p < end, shift < 35 else { throw Failure(message: "bad varint") }
                let b = bytes[p]; p += 1
                v |= Int(b & 0x7f) << shift
                if b & 0x80 == 0 { return v }
                shift += 7
            }
        }
    }

    static func bitWidth(_ max: Int) -> Int { max == 0 ? 0 : Int.bitWidth - max.leadingZeroBitCount }

    /// The RLE/bit-packed hybrid: `count` values of `width` bits.
    static func hybrid(_ c: inout Cursor, width: Int, count: Int, into out: inout [Int]) throws {
        var left = count
        while left > 0 {
            let header = try c.uleb()
            if header & 1 == 0 {
                let run = header >> 1
                guard run > 0, run <= left else { throw Failure(message: "RLE run of \(run) past \(left) values") }
                let b = try c.take((width + 7) / 8)
                var v = 0
                for (k, x) in b.enumerated() { v |= Int(x) << (8 * k) }
                out.append(contentsOf: repeatElement(v, count: run))
                left -= run
            } else {
                let groups = header >> 1
                guard groups > 0, groups <= (left + 7) / 8 + 1 else { throw Failure(message: "bit-packed run past its values") }
                let b = try c.take(groups * width)
                let n = min(groups * 8, left)
                for k in 0..<n {
                    var v = 0
                    for bit in 0..<width {
                        let at = k * width + bit
                        if b[b.startIndex + at / 8] >> (at % 8) & 1 == 1 { v |= 1 << bit }
                    }
                    out.append(v)
                }
                left -= n
            }
        }
    }

    static func plain(_ c: inout Cursor, _ type: PhysicalType, count: Int, into out: inout [JSONValue]) throws {
        switch type {
        case .byteArray:
            for _ in 0..<count {
                let n = try c.u32()
                out.append(.string(String(decoding: try c.take(n), as: UTF8.self)))
            }
        case .int32:
            for _ in 0..<count { out.append(.number(String(Int32(truncatingIfNeeded: try c.u32())))) }
        case .int64:
            for _ in 0..<count {
                let b = try c.take(8)
                var v: UInt64 = 0
                for (k, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(k)) }
                out.append(.number(String(Int64(bitPattern: v))))
            }
        case .boolean:
            let b = try c.take((count + 7) / 8)
            for k in 0..<count { out.append(.bool(b[b.startIndex + k / 8] >> (k % 8) & 1 == 1)) }
        default:
            throw Failure(message: "unsupported value type \(type)")
        }
    }

    static func readChunk(_ bytes: [UInt8], _ cm: ColumnMetaData, _ col: Leaf) throws -> ChunkData {
        var out = ChunkData()
        let start = Int(clamping: cm.dictionaryPageOffset ?? cm.dataPageOffset)
        let total = Int(clamping: cm.totalCompressedSize)
        guard start >= 0, total >= 0, start <= bytes.count, total <= bytes.count - start else {
            throw Failure(message: "column chunk \(col.path.joined(separator: ".")) outside the file")
        }
        let end = start + total
        var at = start
        var dictionary: [JSONValue] = []
        var valuesLeft = Int(clamping: cm.numValues)
        guard valuesLeft >= 0, valuesLeft <= maxLevels else { throw Failure(message: "\(valuesLeft) values") }
        while at < end && valuesLeft > 0 {
            let (header, headerLength): (PageHeader, Int)
            do { (header, headerLength) = try ParquetMetadataReader.readPageHeader(bytes: Array(bytes[at..<end]), at: 0) } catch {
                throw Failure(message: "page header: \(error)")
            }
            let size = Int(header.compressedPageSize)
            let body = at + headerLength
            guard size >= 0, headerLength > 0, body <= end, size <= end - body else { throw Failure(message: "page outside its chunk") }
            let uncompressedSize = Int(header.uncompressedPageSize)
            guard uncompressedSize >= 0, uncompressedSize <= 1 << 30 else { throw Failure(message: "page of \(uncompressedSize) bytes") }
            at = body + size
            func inflate(_ from: Int, _ count: Int, _ uncompressed: Int) throws -> [UInt8] {
                if cm.codec == .uncompressed { return Array(bytes[from..<(from + count)]) }
                let raw = Array(bytes[from..<(from + count)])
                let r = try raw.withUnsafeBytes { try Compressor.decompress($0, codec: cm.codec, uncompressedSize: uncompressed) }
                guard r.count == uncompressed else { throw Failure(message: "page decompressed to \(r.count) bytes, not \(uncompressed)") }
                return r
            }
            switch header.type {
            case .dictionaryPage:
                guard let dh = header.dictionaryPageHeader else { throw Failure(message: "dictionary page without header") }
                let n = Int(dh.numValues)
                guard n >= 0, n <= uncompressedSize else { throw Failure(message: "dictionary of \(n) values") }
                let page = try inflate(body, size, uncompressedSize)
                var c = Cursor(bytes: page, p: 0, end: page.count)
                try plain(&c, col.type, count: n, into: &dictionary)
            case .dataPage:
                guard let dh = header.dataPageHeader else { throw Failure(message: "data page without header") }
                let n = Int(dh.numValues)
                guard n >= 0, n <= valuesLeft else { throw Failure(message: "page of \(n) values past the chunk's") }
                let page = try inflate(body, size, uncompressedSize)
                var c = Cursor(bytes: page, p: 0, end: page.count)
                var reps: [Int] = [], defs: [Int] = []
                if col.maxRep > 0 {
                    let len = try c.u32()
                    guard len <= c.end - c.p else { throw Failure(message: "levels past the page") }
                    var sub = Cursor(bytes: page, p: c.p, end: c.p + len)
                    try hybrid(&sub, width: bitWidth(col.maxRep), count: n, into: &reps)
                    c.p += len
                }
                if col.maxDef > 0 {
                    let len = try c.u32()
                    guard len <= c.end - c.p else { throw Failure(message: "levels past the page") }
                    var sub = Cursor(bytes: page, p: c.p, end: c.p + len)
                    try hybrid(&sub, width: bitWidth(col.maxDef), count: n, into: &defs)
                    c.p += len
                }
                try values(&c, dh.encoding, col, defs: defs, count: n, dictionary: dictionary, into: &out.values)
                out.append(reps: reps, defs: defs, count: n, col)
                valuesLeft -= n
            case .dataPageV2:
                guard let dh = header.dataPageHeaderV2 else { throw Failure(message: "data page v2 without header") }
                let n = Int(dh.numValues)
                let rl = Int(dh.repetitionLevelsByteLength), dl = Int(dh.definitionLevelsByteLength)
                guard n >= 0, n <= valuesLeft, rl >= 0, dl >= 0, rl + dl <= size else { throw Failure(message: "bad data page v2 header") }
                var reps: [Int] = [], defs: [Int] = []
                var rc = Cursor(bytes: bytes, p: body, end: body + rl)
                if col.maxRep > 0 { try hybrid(&rc, width: bitWidth(col.maxRep), count: n, into: &reps) }
                var dc = Cursor(bytes: bytes, p: body + rl, end: body + rl + dl)
                if col.maxDef > 0 { try hybrid(&dc, width: bitWidth(col.maxDef), count: n, into: &defs) }
                let rest = (dh.isCompressed ?? true) ? try inflate(body + rl + dl, size - rl - dl, uncompressedSize - rl - dl)
                    : Array(bytes[(body + rl + dl)..<(body + size)])
                var c = Cursor(bytes: rest, p: 0, end: rest.count)
                try values(&c, dh.encoding, col, defs: defs, count: n, dictionary: dictionary, into: &out.values)
                out.append(reps: reps, defs: defs, count: n, col)
                valuesLeft -= n
            default:
                continue
            }
        }
        return out
    }

    static func values(_ c: inout Cursor, _ encoding: Encoding, _ col: Leaf, defs: [Int], count: Int,
                       dictionary: [JSONValue], into out: inout [JSONValue]) throws {
        let present = col.maxDef == 0 ? count : defs.reduce(0) { $0 + ($1 == col.maxDef ? 1 : 0) }
        switch encoding {
        case .plain:
            try plain(&c, col.type, count: present, into: &out)
        case .plainDictionary, .rleDictionary:
            guard present > 0 else { return }
            let width = Int(try c.take(1).first!)
            guard width <= 32 else { throw Failure(message: "dictionary index width \(width)") }
            var idx: [Int] = []
            try hybrid(&c, width: width, count: present, into: &idx)
            for i in idx {
                guard i >= 0, i < dictionary.count else { throw Failure(message: "dictionary index \(i) of \(dictionary.count)") }
                out.append(dictionary[i])
            }
        case .rle where col.type == .boolean:
            _ = try c.u32()
            var bits: [Int] = []
            try hybrid(&c, width: 1, count: present, into: &bits)
            out += bits.map { .bool($0 == 1) }
        default:
            throw Failure(message: "unsupported encoding \(encoding) of \(col.path.joined(separator: "."))")
        }
    }

    // MARK: - Assembly

    /// Puts the leaf's values into each row's tree of objects; lists and map entries are collected
    /// as arrays under `[]` markers and turned into arrays and objects by ``finish(_:)``.
    static func assemble(_ d: ChunkData, _ col: Leaf, rows: Range<Int>, into trees: inout [[String: JSONValue]],
                         present: inout [Set<String>]) throws {
        var e = 0, v = 0
        var row = rows.lowerBound - 1
        let n = d.defs.count
        guard d.reps.count == n else { throw Failure(message: "levels disagree") }
        while e < n {
            guard d.reps[e] == 0 else { throw Failure(message: "a row starts with repetition level \(d.reps[e])") }
            row += 1
            guard row < rows.upperBound else { throw Failure(message: "more rows in \(col.path.joined(separator: ".")) than its row group") }
            // The entries of this row.
            var end = e + 1
            while end < n && d.reps[end] > 0 { end += 1 }
            let top = col.path[0]
            if d.defs[e] >= col.defAt[0] { present[row].insert(top) }
            var items: [JSONValue] = []
            var containerDepth = -1
            for k in e..<end {
                let def = d.defs[k]
                var value: JSONValue = .null
                if def == col.maxDef {
                    guard v < d.values.count else { throw Failure(message: "fewer values than levels in \(col.path.joined(separator: "."))") }
                    value = d.values[v]
                    v += 1
                }
                if let r = col.repeatedNode {
                    containerDepth = r - 1
                    if def >= col.defAt[r] { items.append(value) }
                } else {
                    items.append(value)
                }
            }
            let def0 = d.defs[e]
            // Deepest present node on the path (for the first entry).
            var tree = trees[row][top] ?? .object([:])
            if def0 >= col.defAt[0] {
                insert(&tree, path: Array(col.path.dropFirst()), defAt: Array(col.defAt.dropFirst()), def: def0,
                       leafValue: col.repeatedNode == nil ? items.first ?? .null : .array(items),
                       containerDepth: containerDepth - 1)
                trees[row][top] = tree
            }
            e = end
        }
    }

    /// Inserts under `tree` along `path`; a node whose level is not reached becomes null; at the
    /// container (list or map) depth the collected array is stored under the container's name
    /// with the leaf name appended (`partitionValues[]key`).
    static func insert(_ tree: inout JSONValue, path: [String], defAt: [Int], def: Int, leafValue: JSONValue, containerDepth: Int) {
        guard case .object(var m) = tree, let name = path.first else { return }
        if containerDepth == 0 {
            // path: [container, key_value|list, leaf]
            if def < defAt[0] { m[name] = .null } else { m[name + "[]" + (path.last ?? "")] = leafValue; if m[name] == nil { m[name] = .object([:]) } }
            tree = .object(m)
            return
        }
        if path.count == 1 {
            m[name] = def >= defAt[0] ? leafValue : .null
            tree = .object(m)
            return
        }
        if def < defAt[0] {
            m[name] = .null
        } else {
            var child = m[name] ?? .object([:])
            if case .null = child { child = .object([:]) }
            insert(&child, path: Array(path.dropFirst()), defAt: Array(defAt.dropFirst()), def: def, leafValue: leafValue,
                   containerDepth: containerDepth - 1)
            m[name] = child
        }
        tree = .object(m)
    }

    /// Turns the collected `name[]key` / `name[]value` arrays into maps and `name[]element` into lists.
    static func finish(_ v: JSONValue) -> JSONValue {
        guard case .object(let m) = v else { return v }
        var out: [String: JSONValue] = [:]
        for (k, x) in m where !k.contains("[]") { out[k] = finish(x) }
        for (k, x) in m where k.hasSuffix("[]key") {
            let name = String(k.dropLast(5))
            let keys = x.array ?? [], values = m[name + "[]value"]?.array ?? []
            var obj: [String: JSONValue] = [:]
            for (i, key) in keys.enumerated() { if let s = key.string { obj[s] = i < values.count ? values[i] : .null } }
            out[name] = .object(obj)
        }
        for (k, x) in m where k.hasSuffix("[]element") {
            out[String(k.dropLast(9))] = x
        }
        return .object(out)
    }
}
