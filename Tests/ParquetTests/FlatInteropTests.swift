import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Flat columns read back by pyarrow, DuckDB and polars", .enabled(if: readersAvailable))
struct FlatInteropTests {
    static let schema = try! ParquetSchema([
        .required("id", .int64),
        .optional("name", .string),
        .optional("score", .double),
        .required("flag", .boolean),
        .optional("amount", .decimal(precision: 12, scale: 2)),
        .optional("small", .int32),
    ])

    static func fill(_ batch: inout RowBatch, rows: Int, offset: Int = 0) {
        for r in 0..<rows {
            let i = r + offset
            batch.columns[0].appendInt64(Int64(i) * 7 - 100)
            if i % 3 == 0 { batch.columns[1].appendNull() } else { batch.columns[1].appendString("name-\(i % 17)") }
            if i % 5 == 0 { batch.columns[2].appendNull() } else { batch.columns[2].appendDouble(Double(i) / 4) }
            batch.columns[3].appendBool(i % 2 == 0)
            if i % 4 == 1 { batch.columns[4].appendNull() } else { batch.columns[4].appendInt64(Int64(i * 1234 - 5000)) }
            batch.columns[5].appendInt32(Int32(i % 100))
        }
    }

    static func expected(rows: Int) -> [[ReadbackValue]] {
        var out: [[ReadbackValue]] = []
        for i in 0..<rows {
            var row: [ReadbackValue] = []
            row.append(.s(Int64(i) * 7 - 100))
            row.append(i % 3 == 0 ? .null : .string("name-\(i % 17)"))
            row.append(i % 5 == 0 ? .null : .string("\(Double(i) / 4)"))
            row.append(.string(i % 2 == 0 ? "true" : "false"))
            row.append(i % 4 == 1 ? .null : .string(decimalText(Int128(i * 1234 - 5000), scale: 2)))
            row.append(.s(i % 100))
            out.append(row)
        }
        return out
    }

    static let names = ["id", "name", "score", "flag", "amount", "small"]

    @Test(arguments: [
        ("plain-uncompressed-v1", false, Compression.uncompressed, WriterProperties.DataPageVersion.v1),
        ("dict-snappy-v1", true, .snappy, .v1),
        ("dict-zstd-v2", true, .zstd(level: 3), .v2),
        ("plain-gzip-v2", false, .gzip(level: 6), .v2),
        ("dict-lz4raw-v1", true, .lz4Raw, .v1),
    ])
    func roundTrip(label: String, dictionary: Bool, compression: Compression,
                   version: WriterProperties.DataPageVersion) throws {
        var p = WriterProperties()
        p.dictionaryEnabled = dictionary
        p.compression = compression
        p.dataPageVersion = version
        p.dataPageRowLimit = 700  // several pages
        let path = try writeParquet(Self.schema, properties: p, label: label) { _, b in Self.fill(&b, rows: 3000) }
        try expectReadBack(path, columns: Self.names, Self.expected(rows: 3000))
        let md = try ParquetReadback.metadata(path: path)
        #expect(md.num_rows == 3000)
        #expect(md.created_by == LakewriterVersion.createdBy)
        let id = md.row_groups[0].columns[0]
        #expect(id.statistics?.min == "-100")
        #expect(id.statistics?.max == .s(Int64(2999) * 7 - 100))
        #expect(id.statistics?.null_count == 0)
        let name = md.row_groups[0].columns[1]
        #expect(name.statistics?.null_count == 1000)
        #expect(name.statistics?.min == "name-0")
        #expect(name.statistics?.max == "name-9")
        #expect(name.has_dictionary_page == dictionary)
        #expect(name.has_column_index && name.has_offset_index)
    }
}
