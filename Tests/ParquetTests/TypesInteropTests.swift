import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Every logical type read back by pyarrow, DuckDB and polars", .enabled(if: readersAvailable))
struct TypesInteropTests {
    static let fields: [ParquetField] = [
        .optional("b", .boolean),
        .optional("i8", .int8), .optional("i16", .int16), .optional("i32", .int32), .optional("i64", .int64),
        .optional("u8", .uint8), .optional("u16", .uint16), .optional("u32", .uint32), .optional("u64", .uint64),
        .optional("f32", .float), .optional("f64", .double),
        .optional("bin", .binary), .optional("fix3", .fixedBinary(length: 3)),
        .optional("str", .string), .optional("js", .json), .optional("uid", .uuid),
        .optional("day", .date), .optional("tmicros", .time(.micros, adjustedToUTC: false)),
        .optional("tmillis", .time(.millis, adjustedToUTC: false)),
        .optional("ts_ms_utc", .timestamp(.millis, adjustedToUTC: true)),
        .optional("ts_us", .timestamp(.micros, adjustedToUTC: false)),
        .optional("ts_ns_utc", .timestamp(.nanos, adjustedToUTC: true)),
        .optional("d9", .decimal(precision: 9, scale: 3)),
        .optional("d18", .decimal(precision: 18, scale: 4)),
        .optional("d38", .decimal(precision: 38, scale: 10)),
        .required("d20", .decimal(precision: 20, scale: 0)),
    ]

    static let rows = 600

    static func iso(_ seconds: Int64, fraction micros: Int64, z: Bool) -> String {
        let d = Date(timeIntervalSince1970: TimeInterval(seconds))
        var cal = Calendar(identifier: .gregorian)
        cal.timeZone = TimeZone(identifier: "UTC")!
        let c = cal.dateComponents([.year, .month, .day, .hour, .minute, .second], from: d)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lld", c.year!, c.month!, c.day!, c.hour!, c.minute!,
                      c.second!, micros) + (z ? "Z" : "")
    }

    static func day(_ days: Int64) -> String { String(iso(days * 86400, fraction: 0, z: false).prefix(10)) }

    static func tod(_ micros: Int64) -> String {
        let s = micros / 1_000_000
        return String(format: "%02lld:%02lld:%02lld.%06lld", s / 3600, s / 60 % 60, s % 60, micros % 1_000_000)
    }

    func value(_ b: inout RowBatch, _ col: Int, _ i: Int) -> ReadbackValue {
        let null = (i + col) % 7 == 3 && col != 25
        if null { b.columns[col].appendNull(); return nil }
        let x = Int64(i)
        switch col {
        case 0: b.columns[col].appendBool(i % 3 == 0); return .string(i % 3 == 0 ? "true" : "false")
        case 1: let v = x % 256 - 128; b.columns[col].appendInt64(v); return .s(v)
        case 2: let v = x * 97 % 65536 - 32768; b.columns[col].appendInt64(v); return .s(v)
        case 3: let v = Int32(truncatingIfNeeded: x * 7_654_321 - 2_000_000_000); b.columns[col].appendInt32(v); return .s(v)
        case 4: let v = x &* 1_234_567_890_123 &- 4_000_000_000_000_000; b.columns[col].appendInt64(v); return .s(v)
        case 5: let v = x % 256; b.columns[col].appendInt64(v); return .s(v)
        case 6: let v = x * 131 % 65536; b.columns[col].appendInt64(v); return .s(v)
        case 7: let v = UInt32(truncatingIfNeeded: x * 7_777_777); b.columns[col].appendInt64(Int64(v)); return .s(v)
        case 8: let v = UInt64(x) &* 0x9E37_79B9_7F4A_7C15; b.columns[col].appendUInt64(v); return .s(v)
        case 9: let v = Float(x) * 0.5 - 100; b.columns[col].appendFloat(v); return .string("\(Double(v))")
        case 10: let v = Double(x) * 0.125 - 30; b.columns[col].appendDouble(v); return .string("\(v)")
        case 11: let v = (0..<(i % 9)).map { UInt8(($0 * 31 + i) % 256) }; b.columns[col].appendBytes(v); return .string(hex(v))
        case 12: let v: [UInt8] = [UInt8(i % 256), 0xFF, UInt8(i / 256)]; b.columns[col].appendBytes(v); return .string(hex(v))
        case 13: let v = "héllo-\(i)-✓"; b.columns[col].appendString(v); return .string(v)
        case 14: let v = "{\"k\":\(i)}"; b.columns[col].appendString(v); return .string(v)
        case 15:
            let v = (0..<16).map { UInt8(($0 * 17 + i * 13) % 256) }
            b.columns[col].appendBytes(v); return .string(hex(v))
        case 16: let v = x * 37 - 5000; b.columns[col].appendInt64(v); return .string(Self.day(v))
        case 17: let v = x * 123_456_789 % 86_400_000_000; b.columns[col].appendInt64(v); return .string(Self.tod(v))
        case 18: let v = x * 123_457 % 86_400_000; b.columns[col].appendInt64(v); return .string(Self.tod(v * 1000))
        case 19:
            let v = 1_700_000_000_000 + x * 86_400_123
            b.columns[col].appendInt64(v)
            return .string(Self.iso(v / 1000, fraction: v % 1000 * 1000, z: true))
        case 20:
            let v = 1_600_000_000_000_000 + x * 3_600_000_001
            b.columns[col].appendInt64(v)
            return .string(Self.iso(v / 1_000_000, fraction: v % 1_000_000, z: false))
        case 21:
            let v = (1_650_000_000_000_000 + x * 7_000_003) * 1000
            b.columns[col].appendInt64(v)
            return .string(Self.iso(v / 1_000_000_000, fraction: v % 1_000_000_000 / 1000, z: true))
        case 22: let v = x * 1_234_567 % 999_999_999 - 500_000_000; b.columns[col].appendInt64(v); return .string(decimalText(Int128(v), scale: 3))
        case 23: let v = x &* 98_765_432_109_876 % 999_999_999_999_999_999; b.columns[col].appendInt64(v); return .string(decimalText(Int128(v), scale: 4))
        case 24:
            let v = (Int128(x) * 12_345_678_901_234_567_890_123 - 3_000_000_000_000_000_000_000_000) * (i % 2 == 0 ? 1 : -1)
            b.columns[col].appendDecimal(unscaled: v); return .string(decimalText(v, scale: 10))
        default:
            let v = Int128(x) * 99_999_999_999_999 - 12_345_678_901_234_567_890
            b.columns[col].appendDecimal(unscaled: v); return .string(decimalText(v, scale: 0))
        }
    }

    @Test(arguments: [false, true])
    func allTypes(dictionary: Bool) throws {
        let schema = try ParquetSchema(Self.fields)
        var expected: [[ReadbackValue]] = []
        var p = WriterProperties()
        p.dictionaryEnabled = dictionary
        p.dataPageRowLimit = 250
        let path = try writeParquet(schema, properties: p, label: "types") { _, b in
            for i in 0..<Self.rows {
                var row: [ReadbackValue] = []
                for c in 0..<Self.fields.count { row.append(value(&b, c, i)) }
                expected.append(row)
            }
        }
        try expectReadBack(path, columns: Self.fields.map(\.name), expected)
        // Statistics: min/max/null count of every column equal what pyarrow computes from the values.
        let md = try ParquetReadback.metadata(path: path)
        for (c, f) in Self.fields.enumerated() {
            let s = md.row_groups[0].columns[c].statistics
            let nulls = expected.filter { $0[c] == .null }.count
            #expect(s?.null_count == nulls, "\(f.name)")
            #expect(s?.has_min_max == true, "\(f.name)")
        }
    }
}

@Suite("ENUM columns", .enabled(if: readersAvailable))
struct EnumInteropTests {
    /// Arrow has no enum type and reads ENUM as binary; DuckDB and polars read text.
    @Test func enumReadsAsTextOrBytes() throws {
        let schema = try ParquetSchema([.optional("en", .enumeration)])
        let values = ["RED", "GREEN", nil, "BLUE"]
        let path = try writeParquet(schema, label: "enum") { _, b in
            for v in values { if let v { b.columns[0].appendString(v) } else { b.columns[0].appendNull() } }
        }
        let text: [[ReadbackValue]] = values.map { [$0.map { .string($0) } ?? nil] }
        let bytes: [[ReadbackValue]] = values.map { [$0.map { .string(hex(Array($0.utf8))) } ?? nil] }
        #expect(try ParquetReadback.mismatches(path: path, columns: ["en"], expected: text, readers: ["duckdb", "polars"]).isEmpty)
        #expect(try ParquetReadback.mismatches(path: path, columns: ["en"], expected: bytes, readers: ["pyarrow"]).isEmpty)
        #expect(try ParquetReadback.metadata(path: path).schema.contains("(Enum)"))
    }
}
