import LakeModel
import Parquet

/// The decoding tree of one list, struct or map column: which leaf columns of the batch each
/// part feeds and the Dremel levels it writes.
final class NestedNode {
    enum Kind {
        case leaf(ScalarSpec, leaf: Int, type: ColumnType)
        case list(NestedNode)
        case structure(KeyTable, [NestedNode])
        /// Key leaf column and the value node.
        case map(keyLeaf: Int, NestedNode)
    }

    let kind: Kind
    let name: String
    let nullable: Bool
    /// Definition level when this node is present.
    let def: Int
    /// For lists and maps: the repetition level of their entries.
    let rep: Int
    /// Every leaf column under this node (to write nulls).
    let leaves: [Int]
    /// Per struct field: the row generation that last saw it (duplicate and missing detection).
    var seen: [UInt32] = []
    var generation: UInt32 = 0

    init(kind: Kind, name: String, nullable: Bool, def: Int, rep: Int, leaves: [Int]) {
        self.kind = kind
        self.name = name
        self.nullable = nullable
        self.def = def
        self.rep = rep
        self.leaves = leaves
        if case .structure(_, let children) = kind { seen = Array(repeating: 0, count: children.count) }
    }

    /// Builds the tree for `field`, numbering leaves from `nextLeaf` in schema order.
    static func build(_ field: ColumnField, parentDef: Int, parentRep: Int, nextLeaf: inout Int) -> NestedNode {
        let def = parentDef + (field.nullable ? 1 : 0)
        switch field.type {
        case .list(let element):
            let child = build(element, parentDef: def + 1, parentRep: parentRep + 1, nextLeaf: &nextLeaf)
            return NestedNode(kind: .list(child), name: field.name, nullable: field.nullable, def: def, rep: parentRep + 1,
                              leaves: child.leaves)
        case .map(let value):
            let keyLeaf = nextLeaf
            nextLeaf += 1
            let child = build(value, parentDef: def + 1, parentRep: parentRep + 1, nextLeaf: &nextLeaf)
            return NestedNode(kind: .map(keyLeaf: keyLeaf, child), name: field.name, nullable: field.nullable, def: def,
                              rep: parentRep + 1, leaves: [keyLeaf] + child.leaves)
        case .structure(let fields):
            var children: [NestedNode] = []
            for f in fields { children.append(build(f, parentDef: def, parentRep: parentRep, nextLeaf: &nextLeaf)) }
            let table = KeyTable(fields.map(\.name))
            return NestedNode(kind: .structure(table, children), name: field.name, nullable: field.nullable, def: def,
                              rep: parentRep, leaves: children.flatMap(\.leaves))
        default:
            let leaf = nextLeaf
            nextLeaf += 1
            return NestedNode(kind: .leaf(ScalarSpec(field.type)!, leaf: leaf, type: field.type), name: field.name, nullable: field.nullable,
                              def: def, rep: parentRep, leaves: [leaf])
        }
    }
}

/// One step of the field path reported in errors (`lines[2].qty`).
enum PathStep {
    case name(String)
    case index(Int)
    case key
}

/// Decodes a nested value twice: a dry run that validates the whole value (so a bad row is
/// rejected before anything is appended), then a committing run into the column builders.
struct NestedDecoder {
    let arena: ScratchBuffer
    let scratch: ScratchBuffer
    var path: [PathStep] = []

    init(arena: ScratchBuffer, scratch: ScratchBuffer) {
        self.arena = arena
        self.scratch = scratch
        path.reserveCapacity(16)
    }

    struct Failure: Error {
        var reason: DecodeError.Reason
        var message: String
        var path: [PathStep]
        var text: String
    }

    /// The offending text runs from `from` (default: the scanner position) to the scanner position,
    /// or, when nothing was read yet, over the whole value there.
    func fail(_ reason: DecodeError.Reason, _ message: String, _ s: JSONScanner, from: UnsafePointer<UInt8>? = nil) -> Failure {
        var start = from ?? s.p
        var end = s.p
        if end <= start {
            var w = s
            w.p = start
            _ = w.peek()
            start = w.p
            var t = s
            t.p = start
            if (try? t.skipValue()) != nil { end = t.p } else { end = start + min(s.end - start, DecodeError.maxTextLength + 1) }
        }
        let span = UnsafeRawBufferPointer(start: start, count: end - start)
        return Failure(reason: reason, message: message, path: path, text: DecodeError.cut(span))
    }

    /// Writes nulls for `node` and everything under it.
    @inline(__always)
    static func appendNull(_ node: NestedNode, def: Int, rep: Int, batch: inout RowBatch) {
        for leaf in node.leaves { batch.columns[leaf].appendNull(definitionLevel: def, repetitionLevel: rep) }
    }

    /// Decodes the value at the scanner into `node`. `parentDef` is the definition level of the
    /// parent (written when this node is null); `rep` the repetition level of the first entry.
    mutating func decode(_ node: NestedNode, _ s: inout JSONScanner, parentDef: Int, rep: Int, commit: Bool,
                         batch: inout RowBatch) throws {
        let c = s.peek()
        let valueStart = s.p
        if c == UInt8(ascii: "n") {
            guard try s.readLiteral() == -1 else { throw fail(.syntax, "unexpected literal", s, from: valueStart) }
            guard node.nullable else { throw fail(.required, "null in a required field", s, from: valueStart) }
            if commit { Self.appendNull(node, def: parentDef, rep: rep, batch: &batch) }
            return
        }
        switch node.kind {
        case .leaf(let spec, let leaf, let type):
            var v = ScalarValue()
            try scalar(spec, type, &s, &v)
            if commit { EntityDecoder.append(spec, v, arena: arena, rep: rep, to: &batch.columns[leaf]) }
        case .list(let element):
            guard c == UInt8(ascii: "[") else { throw fail(.type, "expected an array", s, from: valueStart) }
            s.p += 1
            if s.isEmptyContainer(close: UInt8(ascii: "]")) {
                if commit { Self.appendNull(node, def: node.def, rep: rep, batch: &batch) }
                return
            }
            var index = 0
            var r = rep
            repeat {
                path.append(.index(index))
                try decode(element, &s, parentDef: node.def + 1, rep: r, commit: commit, batch: &batch)
                path.removeLast()
                r = node.rep
                index += 1
            } while try s.nextSeparator(close: UInt8(ascii: "]"))
        case .map(let keyLeaf, let value):
            guard c == UInt8(ascii: "{") else { throw fail(.type, "expected an object", s, from: valueStart) }
            s.p += 1
            if s.isEmptyContainer(close: UInt8(ascii: "}")) {
                if commit { Self.appendNull(node, def: node.def, rep: rep, batch: &batch) }
                return
            }
            var r = rep
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { throw fail(.syntax, "expected a member name", s) }
                var nonASCII = false
                let key = try s.readString(scratch, nonASCII: &nonASCII)
                if nonASCII, !ValueParsers.isValidUTF8(key) { throw fail(.encoding, "invalid UTF-8 in a map key", s) }
                if commit {
                    batch.columns[keyLeaf].appendBytes(key, repetitionLevel: r)
                }
                try s.expect(UInt8(ascii: ":"), ":")
                path.append(.key)
                try decode(value, &s, parentDef: node.def + 1, rep: r, commit: commit, batch: &batch)
                path.removeLast()
                r = node.rep
            } while try s.nextSeparator(close: UInt8(ascii: "}"))
        case .structure(let table, let children):
            guard c == UInt8(ascii: "{") else { throw fail(.type, "expected an object", s, from: valueStart) }
            s.p += 1
            node.generation &+= 1
            let gen = node.generation
            if !s.isEmptyContainer(close: UInt8(ascii: "}")) {
                var hint = 0
                repeat {
                    guard s.peek() == UInt8(ascii: "\"") else { throw fail(.syntax, "expected a member name", s) }
                    var nonASCII = false
                    let key = try s.readString(scratch, nonASCII: &nonASCII)
                    try s.expect(UInt8(ascii: ":"), ":")
                    let i = table.lookup(key, hint: &hint)
                    if i < 0 {
                        try s.skipValue()
                        continue
                    }
                    if node.seen[i] == gen {
                        throw fail(.duplicateField, "field appears twice", s)
                    }
                    node.seen[i] = gen
                    path.append(.name(children[i].name))
                    try decode(children[i], &s, parentDef: node.def, rep: rep, commit: commit, batch: &batch)
                    path.removeLast()
                } while try s.nextSeparator(close: UInt8(ascii: "}"))
            }
            for (i, child) in children.enumerated() where node.seen[i] != gen {
                guard child.nullable else {
                    path.append(.name(child.name))
                    defer { path.removeLast() }
                    throw fail(.required, "required field is missing", s, from: valueStart)
                }
                if commit { Self.appendNull(child, def: node.def, rep: rep, batch: &batch) }
            }
        }
    }

    mutating func scalar(_ spec: ScalarSpec, _ type: ColumnType, _ s: inout JSONScanner, _ v: inout ScalarValue) throws {
        let start = s.p
        let token = try EntityDecoder.readToken(&s, scratch: scratch)
        if spec.kind == .json {
            let raw = UnsafeRawBufferPointer(start: start, count: s.p - start)
            guard ValueParsers.isValidUTF8(raw) else { throw fail(.encoding, "not valid UTF-8", s, from: start) }
            ScalarConversion.setBytes(raw, &v)
            return
        }
        do throws(ScalarProblem) {
            try ScalarConversion.convert(spec, token, arena: arena, into: &v)
        } catch {
            throw fail(error.reason, error.message(for: type), s, from: start)
        }
        EntityDecoder.persistScratch(token, &v, scratch: scratch, arena: arena)
    }

    /// Runs `decode`, turning any syntax error into a ``Failure`` at the current path.
    mutating func run(_ node: NestedNode, _ s: inout JSONScanner, parentDef: Int, rep: Int, commit: Bool,
                      batch: inout RowBatch) throws(Failure) {
        path.removeAll(keepingCapacity: true)
        do {
            try decode(node, &s, parentDef: parentDef, rep: rep, commit: commit, batch: &batch)
        } catch let e as Failure {
            throw e
        } catch let e as JSONSyntaxError {
            throw fail(.syntax, e.reason, s)
        } catch {
            throw fail(.syntax, "\(error)", s)
        }
    }
}

extension [PathStep] {
    func dotted(prefix: String) -> String {
        var out = prefix
        for step in self {
            switch step {
            case .name(let n): out += "." + n
            case .index(let i): out += "[\(i)]"
            case .key: out += ".value"
            }
        }
        return out
    }
}
