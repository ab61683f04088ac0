import LakeDecoding
import LakeModel

/// A parsed JSON value, for the Delta log (small documents, read rarely: never a hot path).
/// Parsed by the same scanner as the payloads, with limits on depth and size.
package indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// A number as its text (Delta statistics and versions are compared exactly).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    package struct Limits: Sendable {
        /// Deepest nesting of arrays and objects.
        package var depth = 64
        /// Most members and elements in one document.
        package var values = 1_000_000
        package init() {}
    }

    package subscript(key: String) -> JSONValue? {
        if case .object(let m) = self { return m[key] }
        return nil
    }

    package var string: String? { if case .string(let s) = self { return s }; return nil }
    package var int64: Int64? { if case .number(let n) = self { return Int64(n) }; return nil }
    package var bool: Bool? { if case .bool(let b) = self { return b }; return nil }
    package var array: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    package var object: [String: JSONValue]? { if case .object(let o) = self { return o }; return nil }

    /// Parses one JSON document; throws on a syntax error, trailing text or a passed limit.
    package static func parse(_ bytes: UnsafeRawBufferPointer, limits: Limits = Limits()) throws -> JSONValue {
        var s = JSONScanner(bytes)
        let scratch = ScratchBuffer(capacity: 1024)
        var budget = limits.values
        let v = try value(&s, scratch, depth: 0, limits: limits, budget: &budget)
        guard s.peek() == 0 else { throw s.fail("unexpected text after the value") }
        return v
    }

    package static func parse(_ text: String, limits: Limits = Limits()) throws -> JSONValue {
        var t = text
        return try t.withUTF8 { try parse(UnsafeRawBufferPointer($0), limits: limits) }
    }

    private static func value(_ s: inout JSONScanner, _ scratch: ScratchBuffer, depth: Int, limits: Limits,
                              budget: inout Int) throws -> JSONValue {
        budget -= 1
        guard budget >= 0 else { throw s.fail("more than \(limits.values) values") }
        switch s.peek() {
        case UInt8(ascii: "{"):
            guard depth < limits.depth else { throw s.fail("nested deeper than \(limits.depth)") }
            s.p += 1
            var out: [String: JSONValue] = [:]
            if s.isEmptyContainer(close: UInt8(ascii: "}")) { return .object(out) }
            repeat {
                guard s.peek() == UInt8(ascii: "\"") else { throw s.fail("expected a member name") }
                var nonASCII = false
                let key = String(decoding: try s.readString(scratch, nonASCII: &nonASCII), as: UTF8.self)
                try s.expect(UInt8(ascii: ":"), ":")
                out[key] = try value(&s, scratch, depth: depth + 1, limits: limits, budget: &budget)
            } while try s.nextSeparator(close: UInt8(ascii: "}"))
            return .object(out)
        case UInt8(ascii: "["):
            guard depth < limits.depth else { throw s.fail("nested deeper than \(limits.depth)") }
            s.p += 1
            var out: [JSONValue] = []
            if s.isEmptyContainer(close: UInt8(ascii: "]")) { return .array(out) }
            repeat {
                out.append(try value(&s, scratch, depth: depth + 1, limits: limits, budget: &budget))
            } while try s.nextSeparator(close: UInt8(ascii: "]"))
            return .array(out)
        case UInt8(ascii: "\""):
            var nonASCII = false
            return .string(String(decoding: try s.readString(scratch, nonASCII: &nonASCII), as: UTF8.self))
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return .number(String(decoding: try s.readNumber().text, as: UTF8.self))
        case 0:
            throw s.fail("expected a value, found end of input")
        default:
            switch try s.readLiteral() {
            case -1: return .null
            case 1: return .bool(true)
            default: return .bool(false)
            }
        }
    }

    /// The value as compact JSON text.
    package var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let n): return n
        case .string(let s): return JSONText.quoted(s)
        case .array(let a): return "[" + a.map(\.text).joined(separator: ",") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { JSONText.quoted($0) + ":" + o[$0]!.text }.joined(separator: ",") + "}"
        }
    }
}
