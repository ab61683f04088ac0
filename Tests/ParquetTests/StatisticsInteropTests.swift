import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Statistics in the order each type defines, as pyarrow reads them", .enabled(if: readersAvailable))
struct StatisticsInteropTests {
    @Test(arguments: [false, true])
    func ordersAndSpecialValues(dictionary: Bool) throws {
        let schema = try ParquetSchema([
            .optional("f64", .double),
            .optional("zeros", .float),
            .optional("nans", .double),
            .optional("text", .string),
            .optional("wide", .string),
            .optional("dec", .decimal(precision: 38, scale: 2)),
            .optional("u32", .uint32),
            .optional("u64", .uint64),
            .optional("bin", .binary),
        ])
        var p = WriterProperties()
        p.dictionaryEnabled = dictionary
        let long1 = String(repeating: "a", count: 100), long2 = String(repeating: "z", count: 100)
        let accented = String(repeating: "é", count: 50)
        let path = try writeParquet(schema, properties: p, label: "stats") { _, b in
            let f64: [Double?] = [.nan, 3.0, -0.0, nil, -2.5]
            let zeros: [Float?] = [0.0, -0.0, nil, 0.0, 0.0]
            let nans: [Double?] = [.nan, nil, .nan, .nan, nil]
            let text: [String?] = [long2, nil, long1, "m", "zz"]
            let wide: [String?] = [accented, "b", nil, nil, "é"]
            let dec: [Int128?] = [-500, 300, nil, -10000, 299]
            let u32: [UInt32?] = [1, 4_000_000_000, nil, 7, 2_147_483_648]
            let u64: [UInt64?] = [1, UInt64.max, 5, nil, 1 << 63]
            let bin: [[UInt8]?] = [[0x01], [0xFF], [0x80], nil, [0x01, 0x00]]
            for i in 0..<5 {
                if let v = f64[i] { b.columns[0].appendDouble(v) } else { b.columns[0].appendNull() }
                if let v = zeros[i] { b.columns[1].appendFloat(v) } else { b.columns[1].appendNull() }
                if let v = nans[i] { b.columns[2].appendDouble(v) } else { b.columns[2].appendNull() }
                if let v = text[i] { b.columns[3].appendString(v) } else { b.columns[3].appendNull() }
                if let v = wide[i] { b.columns[4].appendString(v) } else { b.columns[4].appendNull() }
                if let v = dec[i] { b.columns[5].appendDecimal(unscaled: v) } else { b.columns[5].appendNull() }
                if let v = u32[i] { b.columns[6].appendInt64(Int64(v)) } else { b.columns[6].appendNull() }
                if let v = u64[i] { b.columns[7].appendUInt64(v) } else { b.columns[7].appendNull() }
                if let v = bin[i] { b.columns[8].appendBytes(v) } else { b.columns[8].appendNull() }
            }
        }
        let md = try ParquetReadback.metadata(path: path)
        let s = md.row_groups[0].columns.map { $0.statistics! }
        #expect(s[0].min == "-2.5" && s[0].max == "3.0" && s[0].null_count == 1)
        #expect(s[1].min == "-0.0" && s[1].max == "0.0")
        #expect(s[2].has_min_max == false && s[2].null_count == 2)
        #expect(s[3].min == .string(String(repeating: "a", count: 64)))
        #expect(s[3].max == .string(String(repeating: "z", count: 63) + "{"))
        #expect(s[4].min == "b" && s[4].max == .string(accented))
        #expect(s[5].min == "-100.00" && s[5].max == "3.00")
        #expect(s[6].min == "1" && s[6].max == "4000000000")
        #expect(s[7].min == "1" && s[7].max == .s(UInt64.max))
        #expect(s[8].min == "01" && s[8].max == "ff")
        #expect(s.map(\.null_count) == [1, 1, 2, 1, 2, 1, 1, 1, 1])
        // The values themselves survive (NaN, signed zeros, long strings).
        let rows = try ParquetReadback.values(path: path)["pyarrow"]!.rows!
        #expect(rows.map { $0[0] } == ["NaN", "3.0", "-0.0", nil, "-2.5"])
        #expect(rows.map { $0[3] } == [.string(long2), nil, .string(long1), "m", "zz"])
    }

    @Test func pageIndexMatchesPages() throws {
        let schema = try ParquetSchema([.required("n", .int64), .optional("s", .string)])
        var p = WriterProperties()
        p.dataPageRowLimit = 100
        let path = try writeParquet(schema, properties: p, label: "pageindex") { _, b in
            for i in 0..<1000 {
                b.columns[0].appendInt64(Int64(i))
                if i / 100 == 3 { b.columns[1].appendNull() } else { b.columns[1].appendString("v\(1000 + i)") }
            }
        }
        let meta = try ParquetMetadataReader.read(path: path)
        let chunk = meta.rowGroups[0].columns[1]
        let ci = try #require(try ParquetMetadataReader.readColumnIndex(path: path, chunk: chunk))
        let oi = try #require(try ParquetMetadataReader.readOffsetIndex(path: path, chunk: chunk))
        #expect(ci.nullPages.count == 10)
        #expect(ci.nullPages[3] == true && ci.nullPages.filter { $0 }.count == 1)
        #expect(ci.nullCounts == [0, 0, 0, 100, 0, 0, 0, 0, 0, 0])
        #expect(String(decoding: ci.minValues[5], as: UTF8.self) == "v1500")
        #expect(String(decoding: ci.maxValues[5], as: UTF8.self) == "v1599")
        #expect(oi.pageLocations.map(\.firstRowIndex) == (0..<10).map { Int64($0 * 100) })
        #expect(ci.boundaryOrder == .ascending)
        let n = try #require(try ParquetMetadataReader.readColumnIndex(path: path, chunk: meta.rowGroups[0].columns[0]))
        #expect(n.boundaryOrder == .ascending)
        #expect(n.minValues.map { $0.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } } == (0..<10).map { Int64($0 * 100) })
        let md = try ParquetReadback.metadata(path: path)
        #expect(md.row_groups[0].columns.allSatisfy { $0.has_column_index && $0.has_offset_index })
    }
}
