import Parquet

/// How the decoder reads one node of a column's type tree: flattened into an array so the
/// hot loop follows indices, not references.
struct DecodeNode {
    enum Kind: UInt8 {
        case bool, int2, int4, int8, oid, float4, float8
        case decimal, numericText
        /// Bytes stored as they come (text, varchar, bpchar, name, citext, enum, json, bytea, casts).
        case bytes
        case jsonb, uuid, date, time, timetz, timestamp, interval
        case array, composite
    }

    var kind: Kind
    var optional: Bool
    /// Leaf columns under this node: `leaf ..< leafEnd`.
    var leaf: Int32
    var leafEnd: Int32
    /// Composite: children are `childIndex[childStart ..< childStart + childCount]`; array: the element node is `childStart`.
    var childStart: Int32 = 0
    var childCount: Int32 = 0
    /// The oid this node carries on the wire inside a composite (attribute type) or, for an
    /// array node, the element oid every array value names.
    var wireOid: UInt32 = 0
    var elementOid: UInt32 = 0
    /// Repetition level of an array's entries after the first.
    var repLevel: Int32 = 0
    /// decimal: scale and precision, and the largest unscaled magnitude.
    var scale: Int32 = 0
    var precision: Int32 = 0
    var limit: Int128 = 0
    /// Column checks UTF-8 (string, json): a refused value is a per-row error.
    var checksUTF8 = false
}

/// The plan's arrays copied once into memory of their own, so the hot loop reaches them
/// through plain pointers (no array retain, uniqueness or exclusivity checks per buffer).
final class DecodePlanStorage: @unchecked Sendable {
    // Immutable after init: shared read-only by copies of the decoder.
    let nodes: UnsafeMutableBufferPointer<DecodeNode>
    let kids: UnsafeMutableBufferPointer<Int32>
    let roots: UnsafeMutableBufferPointer<Int32>

    init(_ plan: DecodePlan) {
        func copy<T>(_ a: [T]) -> UnsafeMutableBufferPointer<T> {
            let b = UnsafeMutableBufferPointer<T>.allocate(capacity: max(a.count, 1))
            _ = b.initialize(from: a)
            return UnsafeMutableBufferPointer(rebasing: b[0..<a.count])
        }
        nodes = copy(plan.nodes)
        kids = copy(plan.childIndex)
        roots = copy(plan.roots)
    }

    deinit {
        for b in [UnsafeMutableRawPointer(nodes.baseAddress), UnsafeMutableRawPointer(kids.baseAddress),
                  UnsafeMutableRawPointer(roots.baseAddress)] {
            b?.deallocate()
        }
    }
}

/// The flattened decode trees of all top-level columns.
struct DecodePlan {
    var nodes: [DecodeNode] = []
    var childIndex: [Int32] = []
    /// Node index of each top-level column.
    var roots: [Int32] = []

    init(_ mapping: SourceMapping) throws(PostgresError) {
        var leaf = 0
        let columns = mapping.schema.columns
        for c in mapping.columns {
            let root = try build(c.wireType, optional: !c.column.isNotNull, def: 0, repDepth: 0, wireOid: c.column.typeOid,
                                 leaf: &leaf, columns: columns, name: c.column.name)
            roots.append(root)
        }
        guard leaf == columns.count else {
            throw PostgresError(.unsupported, step: "plan", message: "decode plan has \(leaf) leaves, the schema \(columns.count)")
        }
    }

    private mutating func build(_ type: PGType, optional: Bool, def: Int, repDepth: Int, wireOid: UInt32,
                                leaf: inout Int, columns: [ColumnDescriptor], name: String) throws(PostgresError) -> Int32 {
        let present = def + (optional ? 1 : 0)
        func scalar(_ kind: DecodeNode.Kind) throws(PostgresError) -> DecodeNode {
            guard leaf < columns.count, columns[leaf].maxDefinitionLevel == present,
                  columns[leaf].maxRepetitionLevel == repDepth else {
                throw PostgresError(.unsupported, step: "plan", message: "column \(name): schema levels disagree with the type")
            }
            var n = DecodeNode(kind: kind, optional: optional, leaf: Int32(leaf), leafEnd: Int32(leaf + 1))
            n.wireOid = wireOid
            switch columns[leaf].type {
            case .string, .json, .enumeration: n.checksUTF8 = true
            default: break
            }
            leaf += 1
            return n
        }
        let node: DecodeNode
        switch type {
        case .bool: node = try scalar(.bool)
        case .int2: node = try scalar(.int2)
        case .int4: node = try scalar(.int4)
        case .int8: node = try scalar(.int8)
        case .oid: node = try scalar(.oid)
        case .float4: node = try scalar(.float4)
        case .float8: node = try scalar(.float8)
        case .numeric(let p, let s):
            if let d = PGType.decimalShape(precision: p, scale: s) {
                var n = try scalar(.decimal)
                n.scale = Int32(d.scale); n.precision = Int32(d.precision)
                var m: Int128 = 1
                for _ in 0..<d.precision { m *= 10 }
                n.limit = m - 1
                node = n
            } else {
                node = try scalar(.numericText)
            }
        case .text, .enumeration, .other, .json, .bytea: node = try scalar(.bytes)
        case .jsonb: node = try scalar(.jsonb)
        case .uuid: node = try scalar(.uuid)
        case .date: node = try scalar(.date)
        case .time: node = try scalar(.time)
        case .timetz: node = try scalar(.timetz)
        case .timestamp, .timestamptz: node = try scalar(.timestamp)
        case .interval:
            let first = leaf
            for _ in 0..<3 {
                guard leaf < columns.count, columns[leaf].maxDefinitionLevel == present else {
                    throw PostgresError(.unsupported, step: "plan", message: "column \(name): interval levels disagree")
                }
                leaf += 1
            }
            var n = DecodeNode(kind: .interval, optional: optional, leaf: Int32(first), leafEnd: Int32(leaf))
            n.wireOid = wireOid
            node = n
        case .array(let element, let elementOid):
            let first = leaf
            let e = try build(element, optional: true, def: present + 1, repDepth: repDepth + 1, wireOid: elementOid,
                              leaf: &leaf, columns: columns, name: name)
            var n = DecodeNode(kind: .array, optional: optional, leaf: Int32(first), leafEnd: Int32(leaf))
            n.childStart = e; n.childCount = 1
            n.wireOid = wireOid; n.elementOid = elementOid
            n.repLevel = Int32(repDepth + 1)
            node = n
        case .composite(_, let fields):
            let first = leaf
            var kids: [Int32] = []
            for f in fields {
                kids.append(try build(f.type, optional: true, def: present, repDepth: repDepth, wireOid: f.typeOid,
                                      leaf: &leaf, columns: columns, name: name))
            }
            var n = DecodeNode(kind: .composite, optional: optional, leaf: Int32(first), leafEnd: Int32(leaf))
            n.childStart = Int32(childIndex.count); n.childCount = Int32(kids.count)
            n.wireOid = wireOid
            childIndex.append(contentsOf: kids)
            node = n
        }
        nodes.append(node)
        return Int32(nodes.count - 1)
    }
}
