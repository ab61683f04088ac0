@testable import LakeModel
@testable import LakeDecoding
import Testing

@Suite struct JSONScannerTests {
    func string(_ json: String) throws -> (String, Bool) {
        var bytes = Array(json.utf8)
        return try bytes.withUnsafeMutableBytes { raw in
            var s = JSONScanner(UnsafeRawBufferPointer(raw))
            var nonASCII = false
            #expect(s.peek() == UInt8(ascii: "\""))
            let scratch = ScratchBuffer(capacity: 4)
            let span = try s.readString(scratch, nonASCII: &nonASCII)
            defer { withExtendedLifetime(scratch) {} }
            #expect(s.atEnd)
            return (String(decoding: span, as: UTF8.self), nonASCII)
        }
    }

    @Test func strings() throws {
        #expect(try string(#""plain""#).0 == "plain")
        #expect(try string(#""""#).0 == "")
        #expect(try string(#""a long string without escapes, longer than eight bytes""#).0 == "a long string without escapes, longer than eight bytes")
        #expect(try string(#""q\"b\\s\/n\nt\tr\rb\bf\f""#).0 == "q\"b\\s/n\nt\tr\rb\u{8}f\u{c}")
        #expect(try string(#""\u00e9\u4e2d""#) == ("é中", true))
        #expect(try string(#""\ud83d\ude00 smile""#).0 == "😀 smile")
        #expect(try string("\"héllo wörld, ünïcode\"") == ("héllo wörld, ünïcode", true))
        #expect(try string(#""ascii only here""#).1 == false)
        for bad in [#""\ud83d""#, #""\ude00""#, #""\ud83d\u0041""#, #""\x""#, #""\u12""#, #""\u12G4""#, "\"unterminated", "\"ctl\u{1}\""] {
            #expect(throws: JSONSyntaxError.self, "\(bad)") { _ = try string(bad) }
        }
    }

    func number(_ text: String) -> NumberLiteral? {
        var bytes = Array(text.utf8)
        return bytes.withUnsafeMutableBytes { raw in
            var s = JSONScanner(UnsafeRawBufferPointer(raw))
            guard let n = try? s.readNumber(), s.atEnd else { return nil }
            return n
        }
    }

    @Test func numbers() {
        #expect(number("0")?.int64 == 0)
        #expect(number("-0")?.int64 == 0)
        #expect(number("42")?.int64 == 42)
        #expect(number("9223372036854775807")?.int64 == .max)
        #expect(number("-9223372036854775808")?.int64 == .min)
        #expect(number("9223372036854775808")?.int64 == nil)
        #expect(number("9223372036854775808")?.uint64 == 9_223_372_036_854_775_808)
        #expect(number("18446744073709551615")?.uint64 == .max)
        #expect(number("18446744073709551616")?.uint64 == nil)
        #expect(number("1.5")?.isInteger == false)
        #expect(number("1.5")?.double == 1.5)
        #expect(number("-2.5e-3")?.double == -0.0025)
        #expect(number("1E2")?.double == 100)
        #expect(number("0.1")?.double == 0.1)
        #expect(number("123456789012345678901234567890")?.double == 1.2345678901234568e29)
        #expect(number("2.2250738585072014e-308")?.double == 2.2250738585072014e-308)
        for bad in ["01", "-", "1.", ".5", "1e", "1e+", "+1", "--1", "1.2.3", "0x10"] {
            #expect(number(bad) == nil, "\(bad)")
        }
    }

    @Test func skipping() throws {
        let json = #"  {"a": [1, 2.5e3, "x\"y", {"b": null}, [], {}], "c": true, "d": false, "e": "\u00e9"}  "#
        var bytes = Array(json.utf8)
        try bytes.withUnsafeMutableBytes { raw in
            var s = JSONScanner(UnsafeRawBufferPointer(raw))
            try s.skipValue()
            #expect(s.peek() == 0)
        }
        for bad in ["{\"a\" 1}", "{\"a\":}", "[1,]", "{\"a\":1,}", "[1 2]", "{a:1}", "tru", "nul", "[", "{\"a\":[}"] {
            var b = Array(bad.utf8)
            b.withUnsafeMutableBytes { raw in
                var s = JSONScanner(UnsafeRawBufferPointer(raw))
                #expect(throws: JSONSyntaxError.self, "\(bad)") { try s.skipValue() }
            }
        }
    }
}
