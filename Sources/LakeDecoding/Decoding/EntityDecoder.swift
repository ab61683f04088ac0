import LakeModel
import Parquet
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// **LakeDecoding** — payloads (JSON objects or flat string fields) decoded straight into
/// column buffers by the rules of the configuration, plus schema evolution.
///
/// Turns event payloads of one entity into rows of a Parquet ``RowBatch``, straight from the
/// bytes: a JSON object (`payload: json:FIELD`, and `convert`) or flat string fields
/// (`payload: fields`).
///
/// A row is decoded in two steps: every value is parsed and checked into a per-column staging
/// slot, and only when the whole row is valid are the values appended to the column builders.
/// A rejected row therefore leaves the batch untouched. Not thread-safe: use one decoder per
/// thread (they are cheap); the batches they fill can be written by anyone.
public final class EntityDecoder {
    public let entity: EntityConfig
    public let schema: EntitySchema
    public let parquetSchema: ParquetSchema

    struct Column {
        var name: String
        var type: ColumnType
        /// Dotted source path, for error messages.
        var sourcePath: String
        var nullable: Bool
        var spec: ScalarSpec?
        var nested: NestedNode?
        var leaf: Int
    }

    /// One level of the payload's key space: each key leads to a column, deeper keys (`source: a.b`), or both.
    final class Navigation {
        let table: KeyTable
        let column: [Int]
        let child: [Navigation?]
        /// Dotted path of this object in the payload (empty for the payload itself).
        let path: String
        init(table: KeyTable, column: [Int], child: [Navigation?], path: String) {
            self.table = table
            self.column = column
            self.child = child
            self.path = path
        }
    }

    struct Staged {
        var generation: UInt32 = 0
        var isNull = false
        var value = ScalarValue()
        var raw: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    let columns: [Column]
    // Hot-path copies of the columns' plain data, read through pointers without reference counting.
    private let specs: UnsafeMutablePointer<ScalarSpec>
    private let nestedFlags: UnsafeMutablePointer<Bool>
    /// `payload: fields` with `empty_as_null`: columns whose empty value is null (not string or binary).
    private let emptyIsNull: UnsafeMutablePointer<Bool>
    private let leaves: UnsafeMutablePointer<Int>
    let root: Navigation
    private let staged: UnsafeMutablePointer<Staged>
    /// Row counter marking which staging slots belong to the current row (a pointer: no exclusivity checks).
    private let generationBox: UnsafeMutablePointer<UInt32> = {
        let p = UnsafeMutablePointer<UInt32>.allocate(capacity: 1)
        p.initialize(to: 0)
        return p
    }()
    private var generation: UInt32 {
        @inline(__always) get { generationBox.pointee }
        @inline(__always) set { generationBox.pointee = newValue }
    }
    let arena = ScratchBuffer(capacity: 1 << 16)
    let scratch = ScratchBuffer(capacity: 1 << 12)
    private let extra = ScratchBuffer(capacity: 1 << 12)
    private var nested: NestedDecoder
    private let extraLeaf: Int
    private let streamIDLeaf: Int
    private let requiredColumns: [Int]
    private let policy: UnknownFieldsPolicy
    private let isFieldsPayload: Bool
    private let ignoredFields: KeyTable
    /// Never appended to: nested values are validated against it before the real commit.
    private var dryRunBatch: RowBatch
    /// Index of the entity's time column among `columns`, or -1.
    private let timeColumn: Int
    /// True between a successful stage and its commit: a failed or already committed row is never appended.
    private var hasStagedRow = false
    /// Indexes among `columns` of the entity's `partition_by` columns, in order.
    private let partitionColumns: [Int]
    /// True when the entity has `partition_by` columns.
    public var hasPartitionColumns: Bool { !partitionColumns.isEmpty }

    /// - Parameters:
    ///   - schema: the file schema (declared plus evolved columns); default: the declared columns.
    ///   - ignoring: entry fields that are never columns nor unknown (the route field) in `fields` mode.
    public init(entity: EntityConfig, schema: EntitySchema? = nil, ignoring: [String] = []) throws(ParquetError) {
        self.entity = entity
        let schema = schema ?? EntitySchema(entity: entity)
        self.schema = schema
        self.parquetSchema = try schema.parquetSchema()
        policy = entity.unknownFields
        if case .fields = entity.payload { isFieldsPayload = true } else { isFieldsPayload = false }
        ignoredFields = KeyTable(ignoring)

        var leaf = 0
        var cols: [Column] = []
        let evolvedNames = Set(schema.evolved.map(\.name))
        for c in schema.payloadColumns {
            let start = leaf
            if c.type.isNested {
                let node = NestedNode.build(c.field, parentDef: 0, parentRep: 0, nextLeaf: &leaf)
                cols.append(Column(name: c.name, type: c.type, sourcePath: c.source.joined(separator: "."), nullable: c.nullable,
                                   spec: nil, nested: node, leaf: start))
            } else {
                leaf += 1
                cols.append(Column(name: c.name, type: c.type, sourcePath: c.source.joined(separator: "."), nullable: c.nullable,
                                   spec: ScalarSpec(c.type, lenient: evolvedNames.contains(c.name) && c.type == .string),
                                   nested: nil, leaf: start))
            }
        }
        columns = cols
        extraLeaf = schema.hasExtra ? leaf : -1
        if schema.hasExtra { leaf += 1 }
        streamIDLeaf = leaf
        requiredColumns = cols.indices.filter { !cols[$0].nullable }
        timeColumn = entity.timeColumn.flatMap { t in cols.firstIndex { $0.name == t } } ?? -1
        partitionColumns = entity.partitionBy.compactMap { p in cols.firstIndex { $0.name == p && $0.spec != nil } }
        dryRunBatch = RowBatch(parquetSchema)

        // Key space: in `fields` mode each source is one entry field name, taken whole.
        let flat = isFieldsPayload
        let sources = schema.payloadColumns.map { flat ? [$0.source.joined(separator: ".")] : $0.source }
        root = Self.navigation(sources.enumerated().map { ($0.offset, $0.element) })
        staged = .allocate(capacity: max(cols.count, 1))
        staged.initialize(repeating: Staged(), count: max(cols.count, 1))
        specs = .allocate(capacity: max(cols.count, 1))
        nestedFlags = .allocate(capacity: max(cols.count, 1))
        emptyIsNull = .allocate(capacity: max(cols.count, 1))
        leaves = .allocate(capacity: max(cols.count, 1))
        for (i, c) in cols.enumerated() {
            (specs + i).initialize(to: c.spec ?? ScalarSpec(.json)!)
            nestedFlags[i] = c.nested != nil
            emptyIsNull[i] = flat && entity.emptyAsNull && c.type != .string && c.type != .binary
            leaves[i] = c.leaf
        }
        nested = NestedDecoder(arena: arena, scratch: scratch)
    }

    deinit {
        staged.deinitialize(count: max(columns.count, 1))
        staged.deallocate()
        specs.deinitialize(count: columns.count)
        specs.deallocate()
        nestedFlags.deallocate()
        emptyIsNull.deallocate()
        leaves.deallocate()
        generationBox.deallocate()
    }

    private static func navigation(_ entries: [(Int, [String])], path: String = "") -> Navigation {
        var keys: [String] = []
        var groups: [String: [(Int, [String])]] = [:]
        var direct: [String: Int] = [:]
        for (col, path) in entries {
            let head = path[0]
            if groups[head] == nil && direct[head] == nil { keys.append(head) }
            if path.count == 1 { direct[head] = col } else { groups[head, default: []].append((col, Array(path.dropFirst()))) }
        }
        return Navigation(table: KeyTable(keys), column: keys.map { direct[$0] ?? -1 },
                          child: keys.map { k in groups[k].map { navigation($0, path: path.isEmpty ? k : "\(path).\(k)") } },
                          path: path)
    }

    /// An empty batch for this decoder's schema.
    public func makeBatch() -> RowBatch { RowBatch(parquetSchema) }

    // MARK: - JSON payloads

    /// Decodes one JSON object into a new row of `batch`, with `streamID` in `_stream_id`.
    /// On error nothing is appended.
    public func decodeJSON(_ payload: UnsafeRawBufferPointer, streamID: UnsafeRawBufferPointer,
                           into batch: inout RowBatch) throws(DecodeError) {
        try stageJSON(payload)
        commitStaged(streamID: streamID, into: &batch)
    }

    /// First half of ``decodeJSON(_:streamID:into:)``: parses and checks the whole row without
    /// appending anything, so the caller can pick the batch from ``stagedTimeMicros`` (the time
    /// partition) before ``commitStaged(streamID:into:)``. `payload` must stay alive and unchanged
    /// until the commit: staged strings point into it.
    public func stageJSON(_ payload: UnsafeRawBufferPointer) throws(DecodeError) {
        beginRow()
        var s = JSONScanner(payload)
        do {
            guard s.peek() == UInt8(ascii: "{") else {
                if s.atEnd { throw error(.notAnObject, "", "empty payload", payload) }
                throw error(.notAnObject, "", "the payload is not a JSON object", payload)
            }
            s.p += 1
            try members(&s, root, top: true, batch: &dryRunBatch)
            guard s.peek() == 0 else { throw error(.syntax, "", "unexpected text after the object", remaining(s)) }
        } catch let e as DecodeError {
            throw e
        } catch let e as JSONSyntaxError {
            throw DecodeError(entity: entity.name, field: "", reason: .syntax, message: e.description, bytes: payload)
        } catch let e as NestedDecoder.Failure {
            throw DecodeError(entity: entity.name, field: "", reason: e.reason, message: e.message, text: e.text)
        } catch {
            throw DecodeError(entity: entity.name, field: "", reason: .syntax, message: "\(error)", text: "")
        }
        try checkRequired()
    }

    /// The staged row's time column (`time:` of the entity) in microseconds since the epoch
    /// (dates at midnight UTC); nil when the entity has none or the row's value is null.
    public var stagedTimeMicros: Int64? {
        guard timeColumn >= 0 else { return nil }
        let slot = staged + timeColumn
        guard slot.pointee.generation == generation, !slot.pointee.isNull else { return nil }
        let v = slot.pointee.value.i
        let spec = specs[timeColumn]
        if spec.kind == .date {
            let (m, overflow) = v.multipliedReportingOverflow(by: 86_400_000_000)
            return overflow ? nil : m
        }
        switch spec.unit {
        case .millis:
            // Any Int64 of milliseconds is a valid value, but not every one fits in microseconds:
            // such a row is then partitioned by its entry id's time.
            return ValueParsers.fromEpochMillis(v, unit: .micros)
        case .micros: return v
        case .nanos: return v / 1000 - (v % 1000 < 0 ? 1 : 0)
        }
    }

    /// The identity of the staged row's `partition_by` values as bytes, written over `key`
    /// (capacity kept): two rows go to the same partition exactly when their keys are equal.
    /// A null and an empty string are the same partition (Hive's default one).
    public func stagedPartitionKey(into key: inout [UInt8]) {
        key.removeAll(keepingCapacity: true)
        for c in partitionColumns {
            let slot = staged + c
            guard slot.pointee.generation == generation, !slot.pointee.isNull else {
                key.append(0)
                continue
            }
            let v = slot.pointee.value
            let spec = specs[c]
            switch spec.kind {
            case .string, .uuid, .binary, .json:
                guard v.length > 0 else { key.append(0); continue }
                key.append(1)
                withUnsafeBytes(of: UInt32(truncatingIfNeeded: v.length).littleEndian) { key.append(contentsOf: $0) }
                let p = v.pointer ?? UnsafeRawPointer(arena.base + v.offset)
                key.append(contentsOf: UnsafeRawBufferPointer(start: p, count: v.length))
            case .decimal where spec.precision > 18:
                key.append(1)
                withUnsafeBytes(of: v.big) { key.append(contentsOf: $0) }
            default:
                key.append(1)
                withUnsafeBytes(of: v.i) { key.append(contentsOf: $0) }
            }
        }
    }

    /// The staged row's `partition_by` values as Hive writes them (nil: null or empty): integers
    /// and decimals plain, booleans `true`/`false`, dates `YYYY-MM-DD`, times `HH:MM:SS[.ffffff]`,
    /// timestamps `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC for UTC columns), UUIDs 8-4-4-4-12.
    public func stagedPartitionValues() -> [String?] {
        partitionColumns.map { c -> String? in
            let slot = staged + c
            guard slot.pointee.generation == generation, !slot.pointee.isNull else { return nil }
            let v = slot.pointee.value
            let spec = specs[c]
            func bytes() -> UnsafeRawBufferPointer {
                UnsafeRawBufferPointer(start: v.pointer ?? UnsafeRawPointer(arena.base + v.offset), count: v.length)
            }
            switch spec.kind {
            case .bool: return v.i != 0 ? "true" : "false"
            case .int: return String(v.i)
            case .uint64: return String(UInt64(bitPattern: v.i))
            case .decimal: return ValueText.decimal(spec.precision > 18 ? v.big : Int128(v.i), scale: spec.scale)
            case .date: return ValueText.date(days: Int(v.i))
            case .time: return ValueText.time(v.i, perSecond: 1_000_000, digits: 6)
            case .timestamp:
                return ValueText.timestamp(v.i, perSecond: spec.unit.perSecond, digits: spec.unit.digits, utc: false,
                                           separator: " ")
            case .uuid: return v.length == 16 ? ValueText.uuid(bytes()) : nil
            case .string, .json, .binary: return v.length == 0 ? nil : String(decoding: bytes(), as: UTF8.self)
            case .float32, .float64: return String(v.d)
            }
        }
    }

    /// Decodes each non-empty line of `text` (JSON Lines); a convenience for tests and small inputs.
    /// Returns the errors with their 1-based line numbers; `_stream_id` is the line number.
    public func decodeLines(_ text: UnsafeRawBufferPointer, firstLine: Int = 1, into batch: inout RowBatch) -> [(line: Int, error: DecodeError)] {
        var errors: [(Int, DecodeError)] = []
        var lineNo = firstLine
        var i = 0
        var idBuf = [UInt8](repeating: 0, count: 24)
        guard let base = text.baseAddress else { return [] }
        while i < text.count {
            var j = text.count
            if let nl = memchr(base + i, 0x0A, text.count - i) { j = base.distance(to: UnsafeRawPointer(nl)) }
            var e = j
            if e > i, text[e - 1] == 0x0D { e -= 1 }
            let line = UnsafeRawBufferPointer(rebasing: text[i..<e])
            if !Self.isBlank(line) {
                let n = Self.formatDecimal(lineNo, into: &idBuf)
                let failure = idBuf.withUnsafeBytes { id -> DecodeError? in
                    do throws(DecodeError) {
                        try decodeJSON(line, streamID: UnsafeRawBufferPointer(rebasing: id[0..<n]), into: &batch)
                        return nil
                    } catch { return error }
                }
                if let failure { errors.append((lineNo, failure)) }
            }
            lineNo += 1
            i = j + 1
        }
        return errors
    }

    package static func isBlank(_ line: UnsafeRawBufferPointer) -> Bool {
        for b in line where b != 0x20 && b != 0x09 && b != 0x0D { return false }
        return true
    }

    /// Writes `v` in decimal at the start of `buf`; returns the length.
    static func formatDecimal(_ v: Int, into buf: inout [UInt8]) -> Int {
        var x = v
        var tmp: (UInt64, UInt64, UInt64) = (0, 0, 0)
        return withUnsafeMutableBytes(of: &tmp) { t in
            var n = 0
            repeat {
                t[n] = UInt8(48 + x % 10)
                x /= 10
                n += 1
            } while x > 0
            for k in 0..<n { buf[k] = t[n - 1 - k] }
            return n
        }
    }

    private func remaining(_ s: JSONScanner) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: s.p, count: s.end - s.p)
    }

    @inline(__always)
    private func beginRow() {
        hasStagedRow = false
        generation &+= 1
        if generation == 0 {
            for i in 0..<columns.count { staged[i].generation = 0 }
            generation = 1
        }
        arena.reset()
        extra.reset()
    }

    private func error(_ reason: DecodeError.Reason, _ field: String, _ message: String, _ text: UnsafeRawBufferPointer) -> DecodeError {
        DecodeError(entity: entity.name, field: field, reason: reason, message: message, bytes: text)
    }

    private func members(_ s: inout JSONScanner, _ nav: Navigation, top: Bool, batch: inout RowBatch) throws {
        if s.isEmptyContainer(close: UInt8(ascii: "}")) { return }
        var hint = 0
        repeat {
            guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a member name") }
            let keyStart = s.p
            var nonASCII = false
            let key = try s.readString(scratch, nonASCII: &nonASCII)
            let keyEnd = s.p
            try s.expect(UInt8(ascii: ":"), ":")
            let i = nav.table.lookup(key, hint: &hint)
            if i >= 0 {
                let col = nav.column[i]
                if col >= 0 {
                    let valueStart = s.p
                    try stage(col, &s, batch: &batch)
                    if let child = nav.child[i] {
                        var sub = JSONScanner(UnsafeRawBufferPointer(start: valueStart, count: s.p - valueStart))
                        try navigate(&sub, child, batch: &batch)
                    }
                } else if let child = nav.child[i] {
                    try navigate(&s, child, batch: &batch)
                }
            } else if top {
                try unknown(key: UnsafeRawBufferPointer(start: keyStart, count: keyEnd - keyStart), decoded: key, &s)
            } else {
                try s.skipValue()
            }
        } while try s.nextSeparator(close: UInt8(ascii: "}"))
    }

    /// Descends into an object that holds `source: a.b` values; null means they are all absent.
    private func navigate(_ s: inout JSONScanner, _ nav: Navigation, batch: inout RowBatch) throws {
        let c = s.peek()
        if c == UInt8(ascii: "{") {
            s.p += 1
            try members(&s, nav, top: false, batch: &batch)
        } else if c == UInt8(ascii: "n"), try s.readLiteral() == -1 {
            return
        } else {
            // A scalar where an object was expected: the nested sources are absent, but say so.
            let start = s.p
            try s.skipValue()
            let names = nav.table.names.joined(separator: ", ")
            throw error(.type, nav.path, "expected an object holding \(names)", UnsafeRawBufferPointer(start: start, count: s.p - start))
        }
    }

    private func unknown(key raw: UnsafeRawBufferPointer, decoded: UnsafeRawBufferPointer, _ s: inout JSONScanner) throws {
        switch policy {
        case .ignore:
            try s.skipValue()
        case .reject:
            let name = String(decoding: decoded, as: UTF8.self)
            try s.skipValue()
            throw error(.unknownField, name, "unknown field (unknown_fields: reject)", decoded)
        case .keep:
            let _ = s.peek()
            let start = s.p
            try s.skipValue()
            let value = UnsafeRawBufferPointer(start: start, count: s.p - start)
            // `_extra` is a JSON (UTF-8) column: what the encoder would refuse is refused here, per
            // row, so one bad entry can never block the entity's buffer.
            guard ValueParsers.isValidUTF8(raw), ValueParsers.isValidUTF8(value) else {
                throw error(.encoding, String(decoding: decoded, as: UTF8.self),
                            "invalid UTF-8 in an unknown field (unknown_fields: keep)", value)
            }
            extra.append(byte: extra.count == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            extra.append(raw)
            extra.append(byte: UInt8(ascii: ":"))
            extra.append(value)
        case .evolve:
            // Evolution is applied before decoding (SchemaEvolution.observe); a null adds nothing.
            let _ = s.peek()
            let start = s.p
            try s.skipValue()
            let value = UnsafeRawBufferPointer(start: start, count: s.p - start)
            if ScalarConversion.equals(value, "null") { return }
            let name = String(decoding: decoded, as: UTF8.self)
            throw error(.unknownField, name, "field not in schema version \(schema.version) (observe the payload with SchemaEvolution first)", value)
        }
    }

    /// Reads the value of column `col` at the scanner into its staging slot.
    @inline(__always)
    private func stage(_ col: Int, _ s: inout JSONScanner, batch: inout RowBatch) throws {
        let slot = staged + col
        if slot.pointee.generation == generation {
            throw error(.duplicateField, columns[col].sourcePath, "field appears twice", UnsafeRawBufferPointer(start: s.p, count: 0))
        }
        slot.pointee.generation = generation
        let c = s.peek()
        let start = s.p
        if c == UInt8(ascii: "n") {
            guard try s.readLiteral() == -1 else { throw s.fail("unexpected literal") }
            slot.pointee.isNull = true
            return
        }
        slot.pointee.isNull = false
        if !nestedFlags[col] {
            let token = try Self.readToken(&s, scratch: scratch)
            if specs[col].kind == .json {
                let raw = UnsafeRawBufferPointer(start: start, count: s.p - start)
                // A json column is UTF-8 text: what the encoder would refuse is refused per row.
                guard ValueParsers.isValidUTF8(raw) else {
                    throw self.error(.encoding, columns[col].sourcePath, "not valid UTF-8", raw)
                }
                ScalarConversion.setBytes(raw, &slot.pointee.value)
                return
            }
            do throws(ScalarProblem) {
                try ScalarConversion.convert(specs[col], token, arena: arena, into: &slot.pointee.value)
            } catch {
                throw self.error(error.reason, columns[col].sourcePath, error.message(for: columns[col].type),
                                 UnsafeRawBufferPointer(start: start, count: s.p - start))
            }
            Self.persistScratch(token, &slot.pointee.value, scratch: scratch, arena: arena)
        } else {
            let node = columns[col].nested!
            do throws(NestedDecoder.Failure) {
                try nested.run(node, &s, parentDef: 0, rep: 0, commit: false, batch: &batch)
            } catch {
                throw DecodeError(entity: entity.name, field: error.path.dotted(prefix: columns[col].sourcePath),
                                  reason: error.reason, message: error.message, text: error.text)
            }
            slot.pointee.raw = UnsafeRawBufferPointer(start: start, count: s.p - start)
        }
    }

    /// Reads one non-null token at the scanner.
    @inline(__always)
    static func readToken(_ s: inout JSONScanner, scratch: ScratchBuffer) throws -> ScalarToken {
        let c = s.peek()
        switch c {
        case UInt8(ascii: "\""):
            var nonASCII = false
            let t = try s.readString(scratch, nonASCII: &nonASCII)
            return .string(t, nonASCII: nonASCII)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(try s.readNumber())
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let start = s.p
            try s.skipValue()
            return .container(UnsafeRawBufferPointer(start: start, count: s.p - start))
        case 0:
            throw s.fail("expected a value, found end of input")
        default:
            let v = try s.readLiteral()
            guard v >= 0 else { throw s.fail("unexpected null") }
            return .bool(v == 1)
        }
    }

    /// Strings decoded into the scratch buffer are overwritten by the next value: move them to the arena.
    @inline(__always)
    static func persistScratch(_ token: ScalarToken, _ v: inout ScalarValue, scratch: ScratchBuffer, arena: ScratchBuffer) {
        if let p = v.pointer, p == UnsafeRawPointer(scratch.base), v.length > 0 {
            let off = arena.count
            arena.append(UnsafeRawBufferPointer(start: p, count: v.length))
            v.pointer = nil
            v.offset = off
        }
    }

    // MARK: - Flat string fields

    /// Decodes one entry of flat fields (`payload: fields`): field `i` has name `name(i)` and value `value(i)`.
    /// Scalar columns read the value text; json, list, struct and map columns parse it as JSON.
    public func decodeFields(count: Int, name: (Int) -> UnsafeRawBufferPointer, value: (Int) -> UnsafeRawBufferPointer,
                             streamID: UnsafeRawBufferPointer, into batch: inout RowBatch) throws(DecodeError) {
        try stageFields(count: count, name: name, value: value)
        commitStaged(streamID: streamID, into: &batch)
    }

    /// First half of ``decodeFields(count:name:value:streamID:into:)`` (see ``stageJSON(_:)``);
    /// the field values must stay alive until the commit.
    public func stageFields(count: Int, name: (Int) -> UnsafeRawBufferPointer, value: (Int) -> UnsafeRawBufferPointer) throws(DecodeError) {
        beginRow()
        var hint = 0
        for f in 0..<count {
            let key = name(f)
            let text = value(f)
            let i = root.table.lookup(key, hint: &hint)
            guard i >= 0, root.column[i] >= 0 else {
                var h = 0
                if ignoredFields.count > 0, ignoredFields.lookup(key, hint: &h) >= 0 { continue }
                try unknownField(key, text)
                continue
            }
            let col = root.column[i]
            let slot = staged + col
            let field = columns[col].sourcePath
            if slot.pointee.generation == generation {
                throw error(.duplicateField, field, "field appears twice", text)
            }
            slot.pointee.generation = generation
            if text.count == 0 && emptyIsNull[col] {
                slot.pointee.isNull = true  // checked by checkRequired like an absent field
                continue
            }
            slot.pointee.isNull = false
            if !nestedFlags[col] {
                if specs[col].kind == .json {
                    guard ValueParsers.isValidUTF8(text) else {
                        throw self.error(.encoding, field, "not valid UTF-8", text)
                    }
                    var s = JSONScanner(text)
                    do {
                        try s.skipValue()
                        guard s.peek() == 0 else { throw s.fail("unexpected text after the value") }
                    } catch {
                        throw self.error(.syntax, field, "not valid JSON", text)
                    }
                    ScalarConversion.setBytes(text, &slot.pointee.value)
                    continue
                }
                var nonASCII = false
                for b in text where b >= 0x80 { nonASCII = true; break }
                do throws(ScalarProblem) {
                    try ScalarConversion.convert(specs[col], .string(text, nonASCII: nonASCII), arena: arena, into: &slot.pointee.value)
                } catch {
                    throw self.error(error.reason, field, error.message(for: columns[col].type), text)
                }
            } else {
                var s = JSONScanner(text)
                do throws(NestedDecoder.Failure) {
                    try nested.run(columns[col].nested!, &s, parentDef: 0, rep: 0, commit: false, batch: &dryRunBatch)
                    guard s.peek() == 0 else { throw nested.fail(.syntax, "unexpected text after the value", s) }
                } catch {
                    throw DecodeError(entity: entity.name, field: error.path.dotted(prefix: field),
                                      reason: error.reason, message: error.message, text: error.text)
                }
                slot.pointee.raw = text
            }
        }
        try checkRequired()
    }

    private func unknownField(_ key: UnsafeRawBufferPointer, _ text: UnsafeRawBufferPointer) throws(DecodeError) {
        switch policy {
        case .ignore: return
        case .reject:
            throw error(.unknownField, String(decoding: key, as: UTF8.self), "unknown field (unknown_fields: reject)", text)
        case .keep:
            guard ValueParsers.isValidUTF8(key), ValueParsers.isValidUTF8(text) else {
                throw error(.encoding, String(decoding: key, as: UTF8.self),
                            "invalid UTF-8 in an unknown field (unknown_fields: keep)", text)
            }
            extra.append(byte: extra.count == 0 ? UInt8(ascii: "{") : UInt8(ascii: ","))
            JSONText.appendQuoted(key, to: extra)
            extra.append(byte: UInt8(ascii: ":"))
            JSONText.appendQuoted(text, to: extra)
        case .evolve:
            throw error(.unknownField, String(decoding: key, as: UTF8.self),
                        "field not in schema version \(schema.version) (observe the entry with SchemaEvolution first)", text)
        }
    }

    // MARK: - Commit

    private func checkRequired() throws(DecodeError) {
        for c in requiredColumns where staged[c].generation != generation || staged[c].isNull {
            throw error(.required, columns[c].sourcePath, "required field is missing or null", UnsafeRawBufferPointer(start: nil, count: 0))
        }
        hasStagedRow = true
    }

    /// Appends the row staged by the last successful ``stageJSON(_:)`` or ``stageFields(count:name:value:)``
    /// to `batch` (a batch of this decoder's schema), with `streamID` in `_stream_id`. Exactly once per
    /// successfully staged row: committing after a failed stage or twice is a programming error (trap).
    public func commitStaged(streamID: UnsafeRawBufferPointer, into batch: inout RowBatch) {
        precondition(hasStagedRow, "commitStaged without a successfully staged row")
        hasStagedRow = false
        for ci in 0..<columns.count {
            let slot = staged + ci
            if nestedFlags[ci] {
                let node = columns[ci].nested!
                if slot.pointee.generation != generation || slot.pointee.isNull {
                    NestedDecoder.appendNull(node, def: 0, rep: 0, batch: &batch)
                } else {
                    var s = JSONScanner(slot.pointee.raw)
                    do throws(NestedDecoder.Failure) {
                        try nested.run(node, &s, parentDef: 0, rep: 0, commit: true, batch: &batch)
                    } catch {
                        // Validated by the dry run; reaching this is a bug, reported rather than hidden.
                        preconditionFailure("nested value changed between validation and commit: \(error.message)")
                    }
                }
            } else if slot.pointee.generation != generation || slot.pointee.isNull {
                batch.columns[leaves[ci]].appendNull()
            } else {
                Self.append(specs[ci], slot.pointee.value, arena: arena, rep: 0, to: &batch.columns[leaves[ci]])
            }
        }
        if extraLeaf >= 0 {
            if extra.count > 0 {
                extra.append(byte: UInt8(ascii: "}"))
                batch.columns[extraLeaf].appendBytes(extra.bytes)
            } else {
                batch.columns[extraLeaf].appendNull()
            }
        }
        batch.columns[streamIDLeaf].appendBytes(streamID)
    }

    /// Appends a converted scalar to its column builder.
    @inline(__always)
    static func append(_ spec: ScalarSpec, _ v: ScalarValue, arena: ScratchBuffer, rep: Int, to col: inout ColumnBuilder) {
        switch spec.kind {
        case .bool: col.appendBool(v.i != 0, repetitionLevel: rep)
        case .int, .date, .time, .timestamp: col.appendInt64(v.i, repetitionLevel: rep)
        case .uint64: col.appendUInt64(UInt64(bitPattern: v.i), repetitionLevel: rep)
        case .float32: col.appendFloat(Float(v.d), repetitionLevel: rep)
        case .float64: col.appendDouble(v.d, repetitionLevel: rep)
        case .decimal:
            if spec.precision <= 18 { col.appendInt64(v.i, repetitionLevel: rep) } else { col.appendDecimal(unscaled: v.big, repetitionLevel: rep) }
        case .string, .binary, .uuid, .json:
            let p = v.pointer ?? UnsafeRawPointer(arena.base + v.offset)
            col.appendBytes(p, count: v.length, repetitionLevel: rep)
        }
    }
}
