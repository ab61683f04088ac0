import LakeModel
import Foundation

/// `unknown_fields: evolve`: watches payloads for fields no column reads and adds them as
/// nullable columns, widening a column's type when values disagree
/// (bool/int64/float64/json → common type: int64 + float64 → float64, anything else → string).
///
/// Call ``observe(json:)`` (or ``observe(fields:)``) for each payload *before* decoding it; when it
/// returns true the schema has a new version: files written from then on use ``schema``
/// (buffers decoded with the previous version should be flushed first), and the new version should
/// be recorded with a ``SchemaVersionStore``. Declared columns never change.
public struct SchemaEvolution: Sendable {
    /// The current file schema.
    public private(set) var schema: EntitySchema
    /// Every version so far, oldest first (the first is the declared schema).
    public private(set) var history: [EntitySchema]
    private let declaredTopLevel: Set<String>
    private let fieldsPayload: Bool
    private let ignored: Set<String>

    /// The kind of value a new field showed.
    public enum ValueKind: Sendable, Equatable {
        case bool, integer, float, string, json

        var columnType: ColumnType {
            switch self {
            case .bool: .bool
            case .integer: .int(bits: 64, signed: true)
            case .float: .float64
            case .string: .string
            case .json: .json
            }
        }

        init?(_ type: ColumnType) {
            switch type {
            case .bool: self = .bool
            case .int(64, true): self = .integer
            case .float64: self = .float
            case .string: self = .string
            case .json: self = .json
            default: return nil
            }
        }

        /// The narrowest kind holding both.
        func widened(with other: ValueKind) -> ValueKind {
            if self == other { return self }
            switch (self, other) {
            case (.integer, .float), (.float, .integer): return .float
            default: return .string
            }
        }
    }

    /// - Parameter ignoring: entry fields that are not payload (the route field) in `fields` mode.
    public init(entity: EntityConfig, current: EntitySchema? = nil, ignoring: [String] = []) {
        let s = current ?? EntitySchema(entity: entity)
        schema = s
        history = [s]
        declaredTopLevel = Set(entity.columns.map { $0.source[0] })
        if case .fields = entity.payload { fieldsPayload = true } else { fieldsPayload = false }
        ignored = Set(ignoring)
        maxColumns = entity.maxColumns
    }

    /// Columns an entity may have in all (declared and evolved): past it, a payload bringing a new
    /// field is refused (the worker dead-letters it) instead of growing the schema without bound.
    /// From `entities.NAME.max_columns` (default 1000).
    public var maxColumns: Int
    /// Longest new column name, in UTF-8 bytes.
    public static let maxNameBytes = 128

    /// Applies one observed field; returns true when the schema changed (one new version).
    @discardableResult
    public mutating func observe(field name: String, kind: ValueKind) throws(DecodeError) -> Bool {
        var next = schema
        guard try apply(name, kind, to: &next) else { return false }
        commit(next)
        return true
    }

    /// Adds or widens `name` in the draft `next`; true when it changed.
    private func apply(_ name: String, _ kind: ValueKind, to next: inout EntitySchema) throws(DecodeError) -> Bool {
        if declaredTopLevel.contains(name) || ignored.contains(name) { return false }
        if let i = next.evolved.firstIndex(where: { $0.name == name }) {
            let old = ValueKind(next.evolved[i].type) ?? .string
            let new = old.widened(with: kind)
            if new == old { return false }
            next.evolved[i].type = new.columnType
            return true
        }
        guard !name.isEmpty, !name.hasPrefix("_") else { return false }
        func refuse(_ why: String) -> DecodeError {
            DecodeError(entity: schema.entity, field: name, reason: .unknownField,
                        message: "new field cannot become a column: \(why) (unknown_fields: evolve)", text: "")
        }
        if name.utf8.count > Self.maxNameBytes { throw refuse("longer than \(Self.maxNameBytes) bytes") }
        if name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) }) {
            throw refuse("control characters in the name")
        }
        let lower = name.lowercased()
        if let clash = (next.declared + next.evolved).first(where: { $0.name.lowercased() == lower }) {
            throw refuse("same name as column \(clash.name) but for case (readers such as DuckDB would rename one)")
        }
        if next.declared.count + next.evolved.count >= maxColumns {
            throw refuse("the entity already has \(maxColumns) columns (the limit)")
        }
        next.evolved.append(ColumnConfig(name: name, type: kind.columnType, nullable: true))
        return true
    }

    /// Makes `next` the new version.
    private mutating func commit(_ next: EntitySchema) {
        var n = next
        n.version = schema.version + 1
        schema = n
        history.append(n)
    }

    /// Looks at the top-level members of a JSON object; returns true when the schema changed.
    /// All the new fields (and widenings) of one payload make one new version; a payload whose
    /// new fields cannot all become columns changes nothing and throws. Fields whose name starts
    /// with `_` are reserved and never become columns.
    public mutating func observe(json payload: UnsafeRawBufferPointer) throws(DecodeError) -> Bool {
        var s = JSONScanner(payload)
        let scratch = ScratchBuffer(capacity: 256)
        var changed = false
        var next = schema
        do {
            guard s.peek() == UInt8(ascii: "{") else {
                throw DecodeError(entity: schema.entity, field: "", reason: .notAnObject, message: "the payload is not a JSON object", bytes: payload)
            }
            s.p += 1
            if s.isEmptyContainer(close: UInt8(ascii: "}")) { return false }
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a member name") }
                var nonASCII = false
                let key = try s.readString(scratch, nonASCII: &nonASCII)
                let name = String(decoding: key, as: UTF8.self)
                try s.expect(UInt8(ascii: ":"), ":")
                let c = s.peek()
                let kind: ValueKind?
                switch c {
                case UInt8(ascii: "\""): kind = .string; try s.skipValue()
                case UInt8(ascii: "{"), UInt8(ascii: "["): kind = .json; try s.skipValue()
                case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                    let n = try s.readNumber()
                    kind = n.isInteger && n.int64 != nil ? .integer : .float
                default:
                    let v = try s.readLiteral()
                    kind = v < 0 ? nil : .bool
                }
                if let kind, try apply(name, kind, to: &next) { changed = true }
            } while try s.nextSeparator(close: UInt8(ascii: "}"))
        } catch let e as DecodeError {
            throw e
        } catch let e as JSONSyntaxError {
            throw DecodeError(entity: schema.entity, field: "", reason: .syntax, message: e.description, bytes: payload)
        } catch {
            throw DecodeError(entity: schema.entity, field: "", reason: .syntax, message: "\(error)", text: "")
        }
        if changed { commit(next) }
        return changed
    }

    /// Flat string fields: every new field becomes a string column, all of one entry in one version.
    public mutating func observe(fields names: [String]) throws(DecodeError) -> Bool {
        var next = schema
        var changed = false
        for n in names where try apply(n, .string, to: &next) { changed = true }
        if changed { commit(next) }
        return changed
    }
}
