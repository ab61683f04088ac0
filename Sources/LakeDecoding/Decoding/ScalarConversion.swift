/// The target of one scalar value, precomputed from a ``ColumnType`` so the hot path switches on a byte.
struct ScalarSpec {
    enum Kind: UInt8 {
        case bool, int, uint64, float32, float64, decimal, string, binary, uuid, date, time, timestamp, json
    }

    var kind: Kind
    var lo: Int64 = .min
    var hi: Int64 = .max
    var precision = 0
    var scale = 0
    var unit: ColumnType.TimeUnit = .micros
    var utc = false
    /// Evolved string columns take any JSON value (objects and arrays as their text).
    var lenient = false

    /// Plain data (no references), so reading a spec on the hot path costs no reference counting.
    /// Messages name the type as `{type}`, filled in by ``ScalarProblem/message(for:)`` on the error path.
    init?(_ type: ColumnType, lenient: Bool = false) {
        self.lenient = lenient
        switch type {
        case .bool: kind = .bool
        case .int(let bits, let signed):
            if bits == 64 && !signed {
                kind = .uint64
            } else {
                kind = .int
                if signed {
                    lo = bits == 64 ? .min : -(Int64(1) << (bits - 1))
                    hi = bits == 64 ? .max : (Int64(1) << (bits - 1)) - 1
                } else {
                    lo = 0
                    hi = (Int64(1) << bits) - 1
                }
            }
        case .float32: kind = .float32
        case .float64: kind = .float64
        case .decimal(let p, let s): kind = .decimal; precision = p; scale = s
        case .string: kind = .string
        case .binary: kind = .binary
        case .uuid: kind = .uuid
        case .date: kind = .date
        case .time: kind = .time
        case .timestamp(let u, let z): kind = .timestamp; unit = u; utc = z
        case .json: kind = .json
        case .list, .structure, .map: return nil
        }
    }
}

/// A converted scalar, waiting to be appended. Bytes either point into the input (`pointer`)
/// or live in the decoder's row arena at `offset`.
struct ScalarValue {
    var i: Int64 = 0
    var d: Double = 0
    var big: Int128 = 0
    var pointer: UnsafeRawPointer?
    var offset = 0
    var length = 0
}

/// One JSON token as the scalar converters see it.
enum ScalarToken {
    case string(UnsafeRawBufferPointer, nonASCII: Bool)
    case number(NumberLiteral)
    case bool(Bool)
    /// An object or array, as its raw text.
    case container(UnsafeRawBufferPointer)
}

/// Why a scalar was refused; the message is built only when a row is rejected.
struct ScalarProblem: Error {
    var reason: DecodeError.Reason
    var message: String

    func message(for type: ColumnType) -> String {
        message.replacingOccurrences(of: "{type}", with: type.description)
    }
}

enum ScalarConversion {
    static let trueBytes: StaticString = "true"
    static let falseBytes: StaticString = "false"

    /// Converts `token` for `spec` into `value`; bytes that must outlive the token go to `arena`.
    @inline(__always)
    static func convert(_ spec: ScalarSpec, _ token: ScalarToken, arena: ScratchBuffer, into v: inout ScalarValue) throws(ScalarProblem) {
        switch spec.kind {
        case .bool:
            switch token {
            case .bool(let b): v.i = b ? 1 : 0
            case .string(let t, _):
                if equals(t, "true") { v.i = 1 } else if equals(t, "false") { v.i = 0 } else {
                    throw ScalarProblem(reason: .type, message: "expected true or false")
                }
            default: throw wrongType(spec, token)
            }
        case .int:
            let lit = try numberLiteral(spec, token)
            guard lit.isInteger else { throw ScalarProblem(reason: .type, message: "expected an integer for {type}") }
            guard let x = lit.int64, x >= spec.lo, x <= spec.hi else {
                throw ScalarProblem(reason: .range, message: "outside the range of {type} (\(spec.lo)…\(spec.hi))")
            }
            v.i = x
        case .uint64:
            let lit = try numberLiteral(spec, token)
            guard lit.isInteger else { throw ScalarProblem(reason: .type, message: "expected an integer for uint64") }
            guard let x = lit.uint64 else { throw ScalarProblem(reason: .range, message: "outside the range of uint64 (0…18446744073709551615)") }
            v.i = Int64(bitPattern: x)
        case .float32, .float64:
            if case .string(let t, _) = token, let special = specialFloat(t) {
                v.d = special
            } else {
                let lit = try numberLiteral(spec, token)
                v.d = lit.double
                if !v.d.isFinite { throw ScalarProblem(reason: .range, message: "outside the range of {type}") }
            }
            if spec.kind == .float32, v.d.isFinite, abs(v.d) > Double(Float.greatestFiniteMagnitude) {
                throw ScalarProblem(reason: .range, message: "outside the range of float32")
            }
        case .decimal:
            let text: UnsafeRawBufferPointer
            switch token {
            case .number(let lit): text = lit.text
            case .string(let t, _): text = t
            default: throw wrongType(spec, token)
            }
            switch ValueParsers.decimal(text, precision: spec.precision, scale: spec.scale) {
            case .success(let x): v.big = x; v.i = Int64(truncatingIfNeeded: x)
            case .failure(.syntax): throw ScalarProblem(reason: .format, message: "not a decimal number")
            case .failure(.scale): throw ScalarProblem(reason: .scale, message: "needs more than \(spec.scale) digits after the point for {type} (never rounded)")
            case .failure(.precision): throw ScalarProblem(reason: .precision, message: "needs more than \(spec.precision) digits for {type}")
            }
        case .string:
            switch token {
            case .string(let t, let nonASCII):
                if nonASCII, !ValueParsers.isValidUTF8(t) { throw ScalarProblem(reason: .encoding, message: "invalid UTF-8") }
                setBytes(t, &v)
            case .number(let lit): setBytes(lit.text, &v)
            case .bool(let b):
                let s = b ? trueBytes : falseBytes
                v.pointer = UnsafeRawPointer(s.utf8Start); v.length = s.utf8CodeUnitCount
            case .container(let raw):
                guard spec.lenient else { throw wrongType(spec, token) }
                setBytes(raw, &v)
            }
        case .binary:
            guard case .string(let t, _) = token else { throw wrongType(spec, token) }
            let mark = arena.count
            guard ValueParsers.base64(t, into: arena) else {
                arena.truncate(mark)
                throw ScalarProblem(reason: .format, message: "not valid base64")
            }
            v.pointer = nil; v.offset = mark; v.length = arena.count - mark
        case .uuid:
            guard case .string(let t, _) = token else { throw wrongType(spec, token) }
            arena.reserve(16)
            guard ValueParsers.uuid(t, into: arena.base + arena.count) else {
                throw ScalarProblem(reason: .format, message: "not a UUID (expected 8-4-4-4-12 hex digits)")
            }
            v.pointer = nil; v.offset = arena.count; v.length = 16
            arena.truncate(arena.count + 16)
        case .date:
            guard case .string(let t, _) = token else { throw wrongType(spec, token) }
            guard let d = ValueParsers.date(t) else { throw ScalarProblem(reason: .format, message: "expected a date YYYY-MM-DD") }
            v.i = Int64(d)
        case .time:
            guard case .string(let t, _) = token else { throw wrongType(spec, token) }
            guard let x = ValueParsers.timeMicros(t) else {
                throw ScalarProblem(reason: .format, message: "expected a time HH:MM:SS[.ffffff] (at most microseconds)")
            }
            v.i = x
        case .timestamp:
            switch token {
            case .number(let lit):
                v.i = try epochMillis(spec, lit)
            case .string(let t, _):
                if t.count > 0, t.count < 19 || t[4] != UInt8(ascii: "-"), let lit = NumberLiteral(t, strictJSON: false) {
                    v.i = try epochMillis(spec, lit)
                } else {
                    switch ValueParsers.timestamp(t, unit: spec.unit, requireOffset: spec.utc) {
                    case .success(let x): v.i = x
                    case .failure(.offsetRequired):
                        throw ScalarProblem(reason: .format, message: "a UTC timestamp needs an offset (Z or ±HH:MM)")
                    case .failure(.precision):
                        throw ScalarProblem(reason: .precision, message: "more fractional digits than {type} holds")
                    case .failure(.range):
                        throw ScalarProblem(reason: .range, message: "outside the range of {type}")
                    case .failure(.syntax):
                        throw ScalarProblem(reason: .format, message: "expected an RFC 3339 timestamp or epoch milliseconds")
                    }
                }
            default: throw wrongType(spec, token)
            }
        case .json:
            // Handled by the callers from the raw text.
            break
        }
    }

    @inline(__always)
    static func setBytes(_ t: UnsafeRawBufferPointer, _ v: inout ScalarValue) {
        v.pointer = t.baseAddress ?? UnsafeRawPointer(trueBytes.utf8Start)
        v.length = t.count
    }

    @inline(__always)
    static func numberLiteral(_ spec: ScalarSpec, _ token: ScalarToken) throws(ScalarProblem) -> NumberLiteral {
        switch token {
        case .number(let lit): return lit
        case .string(let t, _):
            guard let lit = NumberLiteral(t, strictJSON: false) else {
                throw ScalarProblem(reason: .format, message: "not a number for {type}")
            }
            return lit
        default: throw wrongType(spec, token)
        }
    }

    static func epochMillis(_ spec: ScalarSpec, _ lit: NumberLiteral) throws(ScalarProblem) -> Int64 {
        guard lit.isInteger, let ms = lit.int64 else {
            throw ScalarProblem(reason: .format, message: "epoch milliseconds must be an integer")
        }
        guard let x = ValueParsers.fromEpochMillis(ms, unit: spec.unit) else {
            throw ScalarProblem(reason: .range, message: "outside the range of {type}")
        }
        return x
    }

    static func specialFloat(_ t: UnsafeRawBufferPointer) -> Double? {
        if equals(t, "NaN") { return .nan }
        if equals(t, "Infinity") { return .infinity }
        if equals(t, "-Infinity") { return -.infinity }
        return nil
    }

    @inline(__always)
    static func equals(_ t: UnsafeRawBufferPointer, _ s: StaticString) -> Bool {
        guard t.count == s.utf8CodeUnitCount else { return false }
        return memcmp(t.baseAddress!, s.utf8Start, t.count) == 0
    }

    static func wrongType(_ spec: ScalarSpec, _ token: ScalarToken) -> ScalarProblem {
        let found: String
        switch token {
        case .string: found = "a string"
        case .number: found = "a number"
        case .bool: found = "a boolean"
        case .container(let raw): found = raw.first == UInt8(ascii: "[") ? "an array" : "an object"
        }
        return ScalarProblem(reason: .type, message: "expected {type}, found \(found)")
    }
}

#if canImport(Glibc)
import LakeModel
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
