import LakeModel

/// A row that broke a decoding rule: which entity, which field, why, and the offending text
/// (cut short), so it can go to a rejects file or a dead-letter stream as it is.
public struct DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of rule was broken (stable, for metrics labels).
    public enum Reason: String, Sendable, Equatable {
        case syntax = "invalid_json"
        case notAnObject = "not_an_object"
        case missingPayload = "missing_payload"
        case required = "required_missing"
        case type = "wrong_type"
        case range = "out_of_range"
        case precision = "decimal_precision"
        case scale = "decimal_scale"
        case format = "bad_format"
        case unknownField = "unknown_field"
        case duplicateField = "duplicate_field"
        case encoding = "invalid_utf8"
    }

    public var entity: String
    /// Dotted path of the field in the payload (`lines[2].qty`, `geo.lat`); empty for the row itself.
    public var field: String
    public var reason: Reason
    /// Human explanation, e.g. "needs more than 2 digits after the point".
    public var message: String
    /// The offending value's text, at most ``maxTextLength`` bytes (longer text ends with `…`).
    public var text: String

    public static let maxTextLength = 80

    public init(entity: String, field: String, reason: Reason, message: String, text: String) {
        self.entity = entity
        self.field = field
        self.reason = reason
        self.message = message
        self.text = text
    }

    init(entity: String, field: String, reason: Reason, message: String, bytes: UnsafeRawBufferPointer) {
        self.init(entity: entity, field: field, reason: reason, message: message, text: DecodeError.cut(bytes))
    }

    /// The first bytes of `bytes` as text, cut at a character boundary.
    static func cut(_ bytes: UnsafeRawBufferPointer) -> String {
        if bytes.count <= maxTextLength { return String(decoding: bytes, as: UTF8.self) }
        var n = maxTextLength
        while n > 0, bytes[n] & 0xC0 == 0x80 { n -= 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[0..<n]), as: UTF8.self) + "…"
    }

    public var description: String {
        let at = field.isEmpty ? "" : " field \(field):"
        let shown = text.isEmpty ? "" : " (value: \(text))"
        return "\(entity):\(at) \(message)\(shown)"
    }
}
