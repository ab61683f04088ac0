/// The logical type of an entity column, as written in the configuration
/// (`decimal(12,2)`, `list<struct<sku:string, qty:int32>>`, …).
public indirect enum ColumnType: Equatable, Hashable, Sendable, CustomStringConvertible {
    case bool
    /// Integers of 8, 16, 32 or 64 bits.
    case int(bits: Int, signed: Bool)
    case float32
    case float64
    /// Exact decimal with 1…38 digits of precision and 0…precision digits after the point.
    case decimal(precision: Int, scale: Int)
    case string
    /// Bytes, given as base64 text in JSON.
    case binary
    case uuid
    /// Days since 1970-01-01.
    case date
    /// Time of day in microseconds.
    case time
    case timestamp(unit: TimeUnit, utc: Bool)
    /// Any JSON value, stored as its text.
    case json
    case list(element: ColumnField)
    case structure(fields: [ColumnField])
    /// Keys are always strings.
    case map(value: ColumnField)

    /// Precision of a timestamp column.
    public enum TimeUnit: String, Sendable, Hashable {
        case millis = "ms", micros = "us", nanos = "ns"

        /// Units per second.
        public var perSecond: Int64 {
            switch self {
            case .millis: 1000
            case .micros: 1_000_000
            case .nanos: 1_000_000_000
            }
        }
        /// Number of fractional second digits this unit holds.
        package var digits: Int {
            switch self {
            case .millis: 3
            case .micros: 6
            case .nanos: 9
            }
        }
    }

    /// True for list, struct and map.
    public var isNested: Bool {
        switch self {
        case .list, .structure, .map: true
        default: false
        }
    }

    /// The type written back in configuration syntax.
    public var description: String {
        switch self {
        case .bool: "bool"
        case .int(let bits, let signed): (signed ? "int" : "uint") + "\(bits)"
        case .float32: "float32"
        case .float64: "float64"
        case .decimal(let p, let s): "decimal(\(p),\(s))"
        case .string: "string"
        case .binary: "binary"
        case .uuid: "uuid"
        case .date: "date"
        case .time: "time(us)"
        case .timestamp(let unit, let utc): "timestamp(\(unit.rawValue)\(utc ? ", utc" : ""))"
        case .json: "json"
        case .list(let e): "list<\(e.typeDescription)>"
        case .structure(let fields): "struct<" + fields.map { "\($0.name):\($0.typeDescription)" }.joined(separator: ", ") + ">"
        case .map(let v): "map<string, \(v.typeDescription)>"
        }
    }
}

/// A named, typed position in a schema: a column, a struct field, a list element or a map value.
public struct ColumnField: Equatable, Hashable, Sendable {
    public var name: String
    public var type: ColumnType
    /// False when declared `not null`.
    public var nullable: Bool

    public init(name: String, type: ColumnType, nullable: Bool = true) {
        self.name = name
        self.type = type
        self.nullable = nullable
    }

    /// The type with its ` not null` suffix when required.
    public var typeDescription: String { type.description + (nullable ? "" : " not null") }
}

/// Parses the column type grammar:
///
///     type   := scalar | "list<" field ">" | "struct<" name ":" field ("," name ":" field)* ">"
///             | "map<string," field ">"
///     field  := type ["not null"]
///     scalar := bool | int8…int64 | uint8…uint64 | float32 | float64 | decimal(p,s) | string | binary
///             | uuid | date | time | time(us) | timestamp(ms|us|ns[, utc]) | json
///
/// Whitespace is free between tokens; names are letters, digits and `_`.
///
/// Limits, so no type text can exhaust the stack or memory of the parser or of the writers
/// built from the type: at most ``maximumDepth`` nested list/struct/map levels,
/// ``maximumStructFields`` fields per struct, ``maximumNameLength`` characters per name and
/// ``maximumTextLength`` bytes of UTF-8 in all.
public struct ColumnTypeParser {
    /// Deepest nesting of `list<…>`, `struct<…>` and `map<…>` (`list<int64>` is 1).
    public static let maximumDepth = 32
    /// Most fields in one `struct<…>`.
    public static let maximumStructFields = 1024
    /// Longest field name (or word) in characters.
    public static let maximumNameLength = 255
    /// Longest type text in UTF-8 bytes.
    public static let maximumTextLength = 65_536

    /// A parse failure with the position (0-based character offset) where it was found.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var message: String
        public var offset: Int
        public var text: String
        /// The text is quoted whole up to 80 characters, then cut around the position.
        public var description: String {
            guard text.count > 80 else { return "\(message) at position \(offset + 1) of '\(text)'" }
            let from = max(0, min(offset, text.count) - 40)
            let excerpt = text.dropFirst(from).prefix(80)
            return "\(message) at position \(offset + 1) of '\(from > 0 ? "…" : "")\(excerpt)\(from + 80 < text.count ? "…" : "")'"
                + " (\(text.count) characters)"
        }
    }

    private let chars: [Character]
    private var pos = 0
    private let text: String
    /// Open list/struct/map levels.
    private var depth = 0

    private init(_ text: String) {
        self.text = text
        self.chars = Array(text)
    }

    /// Parses a whole column declaration (`uuid not null`), returning the type and whether it may be null.
    public static func parseField(_ text: String) throws(Failure) -> (type: ColumnType, nullable: Bool) {
        guard text.utf8.count <= maximumTextLength else {
            throw Failure(message: "type text longer than \(maximumTextLength) bytes", offset: 0, text: text)
        }
        var p = ColumnTypeParser(text)
        let result = try p.field()
        p.skipSpaces()
        if p.pos < p.chars.count {
            let rest = p.chars[p.pos...]
            throw p.fail("unexpected '\(String(rest.prefix(40)))\(rest.count > 40 ? "…" : "")'")
        }
        return result
    }

    private func fail(_ message: String) -> Failure {
        Failure(message: message, offset: pos, text: text)
    }

    private mutating func skipSpaces() {
        while pos < chars.count, chars[pos] == " " || chars[pos] == "\t" { pos += 1 }
    }

    private mutating func word() throws(Failure) -> String {
        skipSpaces()
        let start = pos
        while pos < chars.count, chars[pos].isASCII, chars[pos].isLetter || chars[pos].isNumber || chars[pos] == "_" {
            pos += 1
        }
        guard pos - start <= Self.maximumNameLength else {
            pos = start
            throw fail("name longer than \(Self.maximumNameLength) characters")
        }
        return String(chars[start..<pos])
    }

    /// Enters a list/struct/map level, refusing one past ``maximumDepth``.
    private mutating func nest(_ start: Int) throws(Failure) {
        guard depth < Self.maximumDepth else {
            pos = start
            skipSpaces()
            throw fail("types nested deeper than \(Self.maximumDepth) levels")
        }
        depth += 1
    }

    private mutating func peek(_ c: Character) -> Bool {
        skipSpaces()
        return pos < chars.count && chars[pos] == c
    }

    private mutating func expect(_ c: Character) throws(Failure) {
        guard peek(c) else {
            throw fail(pos < chars.count ? "expected '\(c)' but found '\(chars[pos])'" : "expected '\(c)' but the type ended")
        }
        pos += 1
    }

    private mutating func integer() throws(Failure) -> Int {
        let w = try word()
        guard let v = Int(w), w.allSatisfy(\.isNumber) else { throw fail("expected a number") }
        return v
    }

    private mutating func field() throws(Failure) -> (type: ColumnType, nullable: Bool) {
        let type = try type()
        let save = pos
        if try word() == "not" {
            guard try word() == "null" else { throw fail("expected 'null' after 'not'") }
            return (type, false)
        }
        pos = save
        return (type, true)
    }

    private mutating func type() throws(Failure) -> ColumnType {
        let start = pos
        let name = try word().lowercased()
        switch name {
        case "bool", "boolean": return .bool
        case "int8": return .int(bits: 8, signed: true)
        case "int16": return .int(bits: 16, signed: true)
        case "int32": return .int(bits: 32, signed: true)
        case "int64": return .int(bits: 64, signed: true)
        case "uint8": return .int(bits: 8, signed: false)
        case "uint16": return .int(bits: 16, signed: false)
        case "uint32": return .int(bits: 32, signed: false)
        case "uint64": return .int(bits: 64, signed: false)
        case "float32", "float": return .float32
        case "float64", "double": return .float64
        case "string": return .string
        case "binary": return .binary
        case "uuid": return .uuid
        case "date": return .date
        case "json": return .json
        case "time":
            if peek("(") {
                pos += 1
                guard try word() == "us" else { throw fail("time supports only (us)") }
                try expect(")")
            }
            return .time
        case "timestamp":
            try expect("(")
            guard let unit = ColumnType.TimeUnit(rawValue: try word()) else { throw fail("timestamp unit must be ms, us or ns") }
            var utc = false
            if peek(",") {
                pos += 1
                guard try word().lowercased() == "utc" else { throw fail("expected 'utc'") }
                utc = true
            }
            try expect(")")
            return .timestamp(unit: unit, utc: utc)
        case "decimal":
            try expect("(")
            let p = try integer()
            try expect(",")
            let s = try integer()
            try expect(")")
            guard (1...38).contains(p) else { throw fail("decimal precision must be 1…38, not \(p)") }
            guard s <= p else { throw fail("decimal scale \(s) exceeds precision \(p)") }
            return .decimal(precision: p, scale: s)
        case "list":
            try expect("<")
            try nest(start)
            let e = try field()
            try expect(">")
            depth -= 1
            return .list(element: ColumnField(name: "element", type: e.type, nullable: e.nullable))
        case "map":
            try expect("<")
            try nest(start)
            guard try word().lowercased() == "string" else { throw fail("map keys must be string") }
            try expect(",")
            let v = try field()
            try expect(">")
            depth -= 1
            return .map(value: ColumnField(name: "value", type: v.type, nullable: v.nullable))
        case "struct":
            try expect("<")
            try nest(start)
            var fields: [ColumnField] = []
            var names = Set<String>()
            repeat {
                if !fields.isEmpty { pos += 1 }
                guard fields.count < Self.maximumStructFields else {
                    throw fail("struct with more than \(Self.maximumStructFields) fields")
                }
                let fname = try word()
                guard !fname.isEmpty else { throw fail("expected a field name") }
                guard names.insert(fname).inserted else { throw fail("duplicate struct field '\(fname)'") }
                try expect(":")
                let f = try field()
                fields.append(ColumnField(name: fname, type: f.type, nullable: f.nullable))
            } while peek(",")
            try expect(">")
            depth -= 1
            return .structure(fields: fields)
        case "":
            pos = start
            skipSpaces()
            throw fail(pos < chars.count ? "expected a type but found '\(chars[pos])'" : "expected a type")
        default:
            pos = start
            skipSpaces()
            throw fail("unknown type '\(name)'")
        }
    }
}
