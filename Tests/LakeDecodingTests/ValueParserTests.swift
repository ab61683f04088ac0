@testable import LakeModel
@testable import LakeDecoding
import Testing

@Suite struct ValueParserTests {
    func withBytes<T>(_ s: String, _ body: (UnsafeRawBufferPointer) -> T) -> T {
        var a = Array(s.utf8)
        return a.withUnsafeMutableBytes { body(UnsafeRawBufferPointer($0)) }
    }

    func decimal(_ s: String, _ p: Int, _ sc: Int) -> Result<Int128, ValueParsers.DecimalFailure> {
        withBytes(s) { ValueParsers.decimal($0, precision: p, scale: sc) }
    }

    @Test func decimals() {
        #expect(decimal("12.34", 12, 2) == .success(1234))
        #expect(decimal("-12.3", 12, 2) == .success(-1230))
        #expect(decimal("12", 12, 2) == .success(1200))
        #expect(decimal("12.340", 12, 2) == .success(1234)) // trailing zeros need no extra scale
        #expect(decimal("0.05", 3, 2) == .success(5))
        #expect(decimal("1e3", 6, 2) == .success(100_000))
        #expect(decimal("1.5E-1", 6, 2) == .success(15))
        #expect(decimal("9999999999.99", 12, 2) == .success(999_999_999_999))
        #expect(decimal("0", 1, 0) == .success(0))
        #expect(decimal("-0.00", 3, 2) == .success(0))
        #expect(decimal("99999999999999999999999999999999999999", 38, 0) == .success(Int128("99999999999999999999999999999999999999")!))
        #expect(decimal("12.345", 12, 2) == .failure(.scale)) // never rounded
        #expect(decimal("0.001", 12, 2) == .failure(.scale))
        #expect(decimal("10000000000.00", 12, 2) == .failure(.precision))
        #expect(decimal("100", 3, 1) == .failure(.precision))
        #expect(decimal("1e40", 38, 0) == .failure(.precision))
        #expect(decimal("999999999999999999999999999999999999999", 38, 0) == .failure(.precision))
        for bad in ["", "abc", "1,5", "1.2.3", "--1", "1e", "0x1", "1 "] {
            #expect(decimal(bad, 10, 2) == .failure(.syntax), "\(bad)")
        }
    }

    func ts(_ s: String, _ unit: ColumnType.TimeUnit = .micros, requireOffset: Bool = true) -> Result<Int64, ValueParsers.TimestampFailure> {
        withBytes(s) { ValueParsers.timestamp($0, unit: unit, requireOffset: requireOffset) }
    }

    @Test func timestamps() {
        let base: Int64 = 1_714_564_800 // 2024-05-01T12:00:00Z
        #expect(ts("2024-05-01T12:00:00Z") == .success(base * 1_000_000))
        #expect(ts("2024-05-01T12:00:00.5Z") == .success(base * 1_000_000 + 500_000))
        #expect(ts("2024-05-01T14:00:00+02:00") == .success(base * 1_000_000))
        #expect(ts("2024-05-01T07:30:00-04:30") == .success(base * 1_000_000))
        #expect(ts("2024-05-01t12:00:00z") == .success(base * 1_000_000))
        #expect(ts("2024-05-01 12:00:00Z") == .success(base * 1_000_000))
        #expect(ts("2024-05-01T12:00:00.123456789Z", .nanos) == .success(base * 1_000_000_000 + 123_456_789))
        #expect(ts("2024-05-01T12:00:00.123Z", .millis) == .success(base * 1000 + 123))
        #expect(ts("2024-05-01T12:00:00.123000Z", .millis) == .success(base * 1000 + 123))
        #expect(ts("1969-12-31T23:59:59.999999Z") == .success(-1))
        #expect(ts("2024-05-01T12:00:00", requireOffset: false) == .success(base * 1_000_000))
        #expect(ts("2024-05-01T12:00:00") == .failure(.offsetRequired))
        #expect(ts("2024-05-01T12:00:00.1234567Z") == .failure(.precision))
        #expect(ts("2024-05-01T12:00:00.1234Z", .millis) == .failure(.precision))
        for bad in ["2024-05-01", "2024-13-01T00:00:00Z", "2024-02-30T00:00:00Z", "2024-05-01T24:00:00Z",
                    "2024-05-01T12:60:00Z", "2024-05-01T12:00:60Z", "2024-05-01T12:00:00+2:00", "2024-05-01T12:00:00Zjunk",
                    "2024-05-01X12:00:00Z", "2024-05-01T12:00:00.Z", "24-05-01T12:00:00Z"] {
            #expect(ts(bad) == .failure(.syntax), "\(bad)")
        }
        #expect(ts("2023-02-29T00:00:00Z") == .failure(.syntax))
        #expect(ts("2024-02-29T00:00:00Z") == .success(Int64(ValueParsers.daysFromCivil(2024, 2, 29)) * 86_400_000_000))
        #expect(ts("9999-12-31T23:59:59Z", .nanos) == .failure(.range))
    }

    @Test func datesAndTimes() {
        #expect(withBytes("1970-01-01") { ValueParsers.date($0) } == 0)
        #expect(withBytes("2000-03-01") { ValueParsers.date($0) } == 11_017)
        #expect(withBytes("1969-12-31") { ValueParsers.date($0) } == -1)
        for bad in ["2024-1-01", "2024-00-10", "2024-04-31", "20240101", "2024-01-01T00:00:00Z", "abcd-01-01"] {
            #expect(withBytes(bad) { ValueParsers.date($0) } == nil, "\(bad)")
        }
        #expect(withBytes("00:00:00") { ValueParsers.timeMicros($0) } == 0)
        #expect(withBytes("12:34:56.789") { ValueParsers.timeMicros($0) } == 45_296_789_000)
        #expect(withBytes("23:59:59.999999") { ValueParsers.timeMicros($0) } == 86_399_999_999)
        #expect(withBytes("23:59:59.999999000") { ValueParsers.timeMicros($0) } == 86_399_999_999)
        for bad in ["24:00:00", "12:34", "12:34:56.1234567", "12:34:56Z", "1:02:03", "12:34:56."] {
            #expect(withBytes(bad) { ValueParsers.timeMicros($0) } == nil, "\(bad)")
        }
        for days in [-800_000, -1, 0, 1, 59, 60, 365, 11_017, 19_844, 2_932_896] {
            let (y, m, d) = ValueParsers.civilFromDays(days)
            #expect(ValueParsers.daysFromCivil(y, m, d) == days)
        }
    }

    @Test func uuids() {
        var out = [UInt8](repeating: 0, count: 16)
        let ok = withBytes("550E8400-e29b-41d4-A716-446655440000") { t in out.withUnsafeMutableBufferPointer { ValueParsers.uuid(t, into: $0.baseAddress!) } }
        #expect(ok)
        #expect(out == [0x55, 0x0E, 0x84, 0x00, 0xE2, 0x9B, 0x41, 0xD4, 0xA7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00])
        for bad in ["550e8400e29b41d4a716446655440000", "550e8400-e29b-41d4-a716-44665544000g", "550e8400-e29b-41d4-a716-4466554400001",
                    "{550e8400-e29b-41d4-a716-446655440000}", "550e8400-e29b-41d4-a716_446655440000"] {
            let r = withBytes(bad) { t in out.withUnsafeMutableBufferPointer { ValueParsers.uuid(t, into: $0.baseAddress!) } }
            #expect(!r, "\(bad)")
        }
    }

    @Test func base64() {
        func decode(_ s: String) -> [UInt8]? {
            let scratch = ScratchBuffer(capacity: 2)
            return withBytes(s) { ValueParsers.base64($0, into: scratch) } ? Array(scratch.bytes) : nil
        }
        #expect(decode("") == [])
        #expect(decode("aGVsbG8=") == Array("hello".utf8))
        #expect(decode("aGVsbG8") == Array("hello".utf8))
        #expect(decode("aGk=") == Array("hi".utf8))
        #expect(decode("/+8=") == [0xFF, 0xEF])
        #expect(decode("_-8") == [0xFF, 0xEF])
        for bad in ["a", "aGVsbG8===", "aGV$bG8=", "aG=k", "aGk=x"] {
            #expect(decode(bad) == nil, "\(bad)")
        }
    }

    @Test func utf8Validation() {
        let ok: [[UInt8]] = [Array("héllo 中 😀".utf8), [], [0x7F]]
        let bad: [[UInt8]] = [[0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF]]
        for b in ok { #expect(b.withUnsafeBytes { ValueParsers.isValidUTF8($0) }) }
        for b in bad { #expect(!b.withUnsafeBytes { ValueParsers.isValidUTF8($0) }, "\(b)") }
    }
}
