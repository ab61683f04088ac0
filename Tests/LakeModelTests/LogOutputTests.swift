@testable import LakeModel
import Testing

/// Log lines cannot be forged from data: control characters are escaped in the text format and
/// JSON-escaped in the JSON format.
@Suite struct LogOutputTests {
    @Test func textFormatEscapesControlCharacters() {
        #expect(TextLogHandler.escape("plain value") == "plain value")
        #expect(TextLogHandler.escape("a\n2026-12-01T00:00:00Z info forged: x") == "a\\n2026-12-01T00:00:00Z info forged: x")
        #expect(TextLogHandler.escape("nul\u{0}esc\u{1B}[31mdel\u{7F}c1\u{85}\r\t") == "nul\\u{0}esc\\u{1b}[31mdel\\u{7f}c1\\u{85}\\r\\t")
        #expect(TextLogHandler.escape("ünï\u{FFFD}") == "ünï\u{FFFD}")
        for s in ["a\nb", "\u{0}", "x\u{1B}y"] { #expect(!TextLogHandler.escape(s).unicodeScalars.contains { $0.value < 0x20 }) }
    }

    @Test func jsonFormatEscapesControlCharacters() {
        #expect(JSONText.quoted("a\nb\u{0}") == "\"a\\nb\\u0000\"")
    }
}
