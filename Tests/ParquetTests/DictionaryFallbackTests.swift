import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Dictionary fallback and several row groups", .enabled(if: readersAvailable))
struct DictionaryFallbackTests {
    /// The first row group falls back mid-chunk (dictionary past its limit); the column's later
    /// row groups start in PLAIN (their values are as unlikely to repeat); a low-cardinality
    /// column keeps its dictionary throughout.
    @Test func fallsBackMidChunkThenLaterRowGroupsStartPlain() throws {
        let schema = try ParquetSchema([
            .required("id", .int64),
            .optional("s", .string),
            .required("low", .string),
        ])
        var p = WriterProperties()
        p.dictionaryPageSizeLimit = 20_000
        p.maxRowGroupRows = 3000
        p.dataPageRowLimit = 500
        var expected: [[ReadbackValue]] = []
        let path = try writeParquet(schema, properties: p, label: "fallback", batches: 4) { n, b in
            for j in 0..<2000 {
                let i = n * 2000 + j
                b.columns[0].appendInt64(Int64(i))
                let s = "unique-value-\(i)-\(String(repeating: "x", count: i % 13))"
                if i % 11 == 0 { b.columns[1].appendNull() } else { b.columns[1].appendString(s) }
                b.columns[2].appendString("k\(i % 5)")
                expected.append([.s(i), i % 11 == 0 ? nil : .string(s), .string("k\(i % 5)")])
            }
        }
        try expectReadBack(path, columns: ["id", "s", "low"], expected)
        let md = try ParquetReadback.metadata(path: path)
        #expect(md.row_groups.map(\.num_rows) == [3000, 3000, 2000])
        for (n, g) in md.row_groups.enumerated() {
            let s = g.columns[1]
            if n == 0 {
                #expect(s.has_dictionary_page)
                #expect(Set(s.encodings).isSuperset(of: ["PLAIN", "RLE_DICTIONARY"]), "\(s.encodings)")
            } else {
                #expect(!s.has_dictionary_page && !s.encodings.contains("RLE_DICTIONARY"), "\(s.encodings)")
            }
            let low = g.columns[2]
            #expect(low.has_dictionary_page && !low.encodings.contains("PLAIN") || low.encodings.contains("RLE_DICTIONARY"))
        }
        // encoding_stats tell readers which data pages are dictionary encoded.
        let meta = try ParquetMetadataReader.read(path: path)
        for (n, g) in meta.rowGroups.enumerated() {
            let stats = try #require(g.columns[1].metaData?.encodingStats)
            if n == 0 {
                #expect(stats.contains { $0.pageType == .dictionaryPage && $0.count == 1 })
                #expect(stats.contains { $0.pageType == .dataPage && $0.encoding == .rleDictionary && $0.count >= 1 })
                let m = try #require(g.columns[1].metaData)
                #expect(try #require(m.dictionaryPageOffset) < m.dataPageOffset)
            } else {
                #expect(!stats.contains { $0.pageType == .dictionaryPage })
            }
            #expect(stats.contains { $0.pageType == .dataPage && $0.encoding == .plain && $0.count >= 1 })
            let low = try #require(g.columns[2].metaData?.encodingStats)
            #expect(!low.contains { $0.encoding == .plain && $0.pageType != .dictionaryPage })
        }
        // Chunk statistics of the fallen-back column still match the data.
        let first = md.row_groups[0].columns[1].statistics!
        #expect(first.null_count == (0..<3000).filter { $0 % 11 == 0 }.count)
    }

    /// A column whose values barely repeat gives up its dictionary after 10,000 values (more than
    /// half distinct), well before the size limit; a repetitive one keeps it.
    @Test func mostlyDistinctValuesGiveUpTheDictionaryEarly() throws {
        let schema = try ParquetSchema([.required("id", .int64), .required("low", .int64)])
        var p = WriterProperties()
        p.dictionaryPageSizeLimit = 1 << 30
        var expected: [[ReadbackValue]] = []
        let path = try writeParquet(schema, properties: p, label: "giveup", batches: 1) { _, b in
            for i in 0..<30_000 {
                b.columns[0].appendInt64(Int64(i) * 7919)
                b.columns[1].appendInt64(Int64(i % 7))
                expected.append([.s(i * 7919), .s(i % 7)])
            }
        }
        try expectReadBack(path, columns: ["id", "low"], expected)
        let meta = try ParquetMetadataReader.read(path: path)
        let id = try #require(meta.rowGroups[0].columns[0].metaData?.encodingStats)
        #expect(id.contains { $0.pageType == .dataPage && $0.encoding == .plain })
        let low = try #require(meta.rowGroups[0].columns[1].metaData?.encodingStats)
        #expect(!low.contains { $0.pageType == .dataPage && $0.encoding == .plain })
    }
}
