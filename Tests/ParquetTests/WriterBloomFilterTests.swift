import Foundation
import Parquet
import Testing
import TestSupport

@Suite("Bloom filters written per column", .enabled(if: readersAvailable))
struct BloomFilterWriterTests {
    @Test func probesFindWrittenValues() throws {
        let schema = try ParquetSchema([.required("id", .int64), .optional("name", .string), .required("n", .int32)])
        var p = WriterProperties()
        p.columns["id"] = ColumnProperties(bloomFilter: BloomFilterProperties(distinctValues: 5000, falsePositiveProbability: 0.01))
        p.columns["name"] = ColumnProperties(bloomFilter: BloomFilterProperties(distinctValues: 5000))
        let path = try writeParquet(schema, properties: p, label: "bloom") { _, b in
            for i in 0..<5000 {
                b.columns[0].appendInt64(Int64(i) * 3)
                if i % 10 == 0 { b.columns[1].appendNull() } else { b.columns[1].appendString("user-\(i)") }
                b.columns[2].appendInt32(Int32(i))
            }
        }
        let meta = try ParquetMetadataReader.read(path: path)
        let chunks = meta.rowGroups[0].columns
        #expect(chunks[2].metaData?.bloomFilterOffset == nil)
        let idFilter = try #require(try ParquetMetadataReader.readBloomFilter(path: path, chunk: chunks[0]))
        let nameFilter = try #require(try ParquetMetadataReader.readBloomFilter(path: path, chunk: chunks[1]))
        for i in 0..<5000 {
            #expect(idFilter.contains(hash: XXHash64.hash(Int64(i) * 3)))
            if i % 10 != 0 { #expect(nameFilter.contains(hash: XXHash64.hash(Array("user-\(i)".utf8)))) }
        }
        let falsePositives = (0..<5000).filter { idFilter.contains(hash: XXHash64.hash(Int64($0) * 3 + 1)) }.count
        #expect(falsePositives < 150)
        // DuckDB reads the filters independently.
        let script = """
        import duckdb, sys
        c = duckdb.connect(); c.execute("SET enable_progress_bar = false")
        def probe(col, v):
            return c.execute("SELECT bloom_filter_excludes FROM parquet_bloom_probe(?, ?, ?)", [sys.argv[1], col, v]).fetchall()
        print(probe('name', 'user-7'), probe('name', 'nobody-at-all'), probe('id', 3 * 77), probe('id', 1))
        """
        let r = try ProcessRunner.run(TestEnvironment.python!, ["-c", script, path])
        #expect(r.stdoutString.trimmingCharacters(in: .whitespacesAndNewlines) == "[(False,)] [(True,)] [(False,)] [(True,)]")
    }
}
