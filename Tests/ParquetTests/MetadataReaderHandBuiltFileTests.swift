import Foundation
import Testing
import TestSupport
@testable import Parquet

/// A small Parquet file assembled by hand from the metadata values, codecs and bloom
/// filters of this module (PLAIN v1 pages, RLE definition levels, page indexes, bloom
/// filters), read back by pyarrow, DuckDB and polars. It shows the footer, page headers,
/// indexes and codecs are accepted by real readers independently of the column writers.
@Suite struct MetadataReaderHandBuiltFileTests {
    static let rowsPerGroup = 1000
    static let rowsPerPage = 500
    static let groups = 2

    static func x(_ r: Int) -> Int64 { Int64(r * 3 - 1000) }
    /// Null for the whole first page, then every tenth row.
    static func s(_ r: Int) -> String? { r < rowsPerPage || r % 10 == 3 ? nil : "v\(r)" }

    struct ChunkParts {
        var meta: ColumnMetaData
        var columnIndex: ColumnIndex
        var offsetIndex: OffsetIndex
        var bloom: SplitBlockBloomFilter
    }

    static func varint(_ v: Int, into out: inout [UInt8]) {
        var w = ThriftCompactWriter(appendingTo: out)
        w.writeVarint(UInt64(v))
        out = w.bytes
    }

    /// Builds one column chunk at the end of `file`.
    static func writeChunk(_ file: inout [UInt8], compressor: Compressor, name: String, rows: Range<Int>) throws -> ChunkParts {
        let isX = name == "x"
        var locations: [PageLocation] = []
        var nullPages: [Bool] = [], mins: [[UInt8]] = [], maxs: [[UInt8]] = [], nullCounts: [Int64] = []
        var bloom = SplitBlockBloomFilter(numBytes: SplitBlockBloomFilter.optimalNumBytes(ndv: rows.count, fpp: 0.01))
        var uncompressedTotal = 0, compressedTotal = 0
        var chunkMin: [UInt8]?, chunkMax: [UInt8]?, chunkNulls: Int64 = 0
        let start = file.count
        for pageStart in stride(from: rows.lowerBound, to: rows.upperBound, by: rowsPerPage) {
            let pageRows = pageStart..<min(pageStart + rowsPerPage, rows.upperBound)
            var body: [UInt8] = []
            var values: [[UInt8]] = []
            var nulls: Int64 = 0
            if isX {
                for r in pageRows {
                    withUnsafeBytes(of: x(r).littleEndian) { values.append(Array($0)) }
                    bloom.insert(hash: XXHash64.hash(x(r)))
                }
                for v in values { body += v }
            } else {
                // Definition levels: 4-byte length, then RLE runs (bit width 1, one value byte).
                var levels: [UInt8] = []
                var i = pageRows.lowerBound
                while i < pageRows.upperBound {
                    let defined = s(i) != nil
                    var j = i
                    while j < pageRows.upperBound && (s(j) != nil) == defined { j += 1 }
                    varint((j - i) << 1, into: &levels)
                    levels.append(defined ? 1 : 0)
                    i = j
                }
                withUnsafeBytes(of: UInt32(levels.count).littleEndian) { body += $0 }
                body += levels
                for r in pageRows {
                    guard let v = s(r) else { nulls += 1; continue }
                    let utf8 = Array(v.utf8)
                    values.append(utf8)
                    bloom.insert(hash: XXHash64.hash(utf8))
                    withUnsafeBytes(of: UInt32(utf8.count).littleEndian) { body += $0 }
                    body += utf8
                }
            }
            let less: ([UInt8], [UInt8]) -> Bool = isX
                ? { a, b in a.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } < b.withUnsafeBytes { $0.loadUnaligned(as: Int64.self) } }
                : { a, b in a.lexicographicallyPrecedes(b) }
            let pageMin = values.min(by: less), pageMax = values.max(by: less)
            var compressed: [UInt8] = []
            _ = try body.withUnsafeBytes { try compressor.compress($0, appendingTo: &compressed) }
            let stats = Statistics(nullCount: nulls, maxValue: pageMax, minValue: pageMin)
            let header = PageHeader(type: .dataPage, uncompressedPageSize: Int32(body.count), compressedPageSize: Int32(compressed.count),
                                    dataPageHeader: DataPageHeader(numValues: Int32(pageRows.count), encoding: .plain, statistics: stats))
            let headerBytes = header.thriftBytes()
            locations.append(PageLocation(offset: Int64(file.count), compressedPageSize: Int32(headerBytes.count + compressed.count),
                                          firstRowIndex: Int64(pageRows.lowerBound - rows.lowerBound)))
            file += headerBytes
            file += compressed
            uncompressedTotal += headerBytes.count + body.count
            compressedTotal += headerBytes.count + compressed.count
            nullPages.append(values.isEmpty)
            mins.append(pageMin ?? [])
            maxs.append(pageMax ?? [])
            nullCounts.append(nulls)
            chunkNulls += nulls
            if let pageMin, chunkMin.map({ less(pageMin, $0) }) ?? true { chunkMin = pageMin }
            if let pageMax, chunkMax.map({ less($0, pageMax) }) ?? true { chunkMax = pageMax }
        }
        let meta = ColumnMetaData(
            type: isX ? .int64 : .byteArray, encodings: [.plain, .rle], pathInSchema: [name], codec: compressor.compression.codec,
            numValues: Int64(rows.count), totalUncompressedSize: Int64(uncompressedTotal), totalCompressedSize: Int64(compressedTotal),
            dataPageOffset: Int64(start), statistics: Statistics(nullCount: chunkNulls, maxValue: chunkMax, minValue: chunkMin),
            encodingStats: [PageEncodingStats(pageType: .dataPage, encoding: .plain, count: Int32(locations.count))])
        let ci = ColumnIndex(nullPages: nullPages, minValues: mins, maxValues: maxs,
                             boundaryOrder: isX ? .ascending : .unordered, nullCounts: nullCounts)
        return ChunkParts(meta: meta, columnIndex: ci, offsetIndex: OffsetIndex(pageLocations: locations), bloom: bloom)
    }

    static func buildFile(_ compression: Compression) throws -> (bytes: [UInt8], meta: FileMetaData) {
        let compressor = try Compressor(compression)
        var file = Array("PAR1".utf8)
        var parts: [[ChunkParts]] = []
        var groups: [RowGroup] = []
        for g in 0..<Self.groups {
            let rows = (g * rowsPerGroup)..<((g + 1) * rowsPerGroup)
            let groupStart = file.count
            let chunks = try ["x", "s"].map { try writeChunk(&file, compressor: compressor, name: $0, rows: rows) }
            parts.append(chunks)
            groups.append(RowGroup(columns: [], totalByteSize: chunks.reduce(0) { $0 + $1.meta.totalUncompressedSize },
                                   numRows: Int64(rows.count), fileOffset: Int64(groupStart),
                                   totalCompressedSize: chunks.reduce(0) { $0 + $1.meta.totalCompressedSize }, ordinal: Int16(g)))
        }
        // Bloom filters, then all column indexes, then all offset indexes, then the footer.
        for g in parts.indices {
            for c in parts[g].indices {
                let bytes = parts[g][c].bloom.serialized()
                parts[g][c].meta.bloomFilterOffset = Int64(file.count)
                parts[g][c].meta.bloomFilterLength = Int32(bytes.count)
                file += bytes
            }
        }
        var columnIndexAt: [[(Int64, Int32)]] = [], offsetIndexAt: [[(Int64, Int32)]] = []
        for g in parts.indices {
            columnIndexAt.append(parts[g].map { p in
                let b = p.columnIndex.thriftBytes(); defer { file += b }; return (Int64(file.count), Int32(b.count))
            })
        }
        for g in parts.indices {
            offsetIndexAt.append(parts[g].map { p in
                let b = p.offsetIndex.thriftBytes(); defer { file += b }; return (Int64(file.count), Int32(b.count))
            })
        }
        for g in parts.indices {
            groups[g].columns = parts[g].indices.map { c in
                ColumnChunk(fileOffset: 0, metaData: parts[g][c].meta,
                            offsetIndexOffset: offsetIndexAt[g][c].0, offsetIndexLength: offsetIndexAt[g][c].1,
                            columnIndexOffset: columnIndexAt[g][c].0, columnIndexLength: columnIndexAt[g][c].1)
            }
        }
        let meta = FileMetaData(
            version: 1,
            schema: [SchemaElement(name: "schema", numChildren: 2),
                     SchemaElement(type: .int64, repetitionType: .required, name: "x"),
                     SchemaElement(type: .byteArray, repetitionType: .optional, name: "s", convertedType: .utf8, logicalType: .string)],
            numRows: Int64(groups.count * rowsPerGroup), rowGroups: groups,
            keyValueMetadata: [KeyValue(key: "lakewriter.test", value: "hand-built")],
            createdBy: "lakewriter version \(LakewriterVersion.version) (build test)",
            columnOrders: [.typeDefinedOrder, .typeDefinedOrder])
        let footer = meta.thriftBytes()
        file += footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { file += $0 }
        file += Array("PAR1".utf8)
        return (file, meta)
    }

    @Test func ourReaderReadsItBack() throws {
        let (bytes, meta) = try Self.buildFile(.snappy)
        #expect(try ParquetMetadataReader.read(bytes: bytes) == meta)
        let chunk = meta.rowGroups[0].columns[1]
        let ci = try #require(try ParquetMetadataReader.readColumnIndex(bytes: bytes, chunk: chunk))
        #expect(ci.nullPages == [true, false])
        let bloom = try #require(try ParquetMetadataReader.readBloomFilter(bytes: bytes, chunk: chunk))
        #expect(bloom.contains(hash: XXHash64.hash(Array("v501".utf8))))
    }

    @Test func hostileOffsetsAreErrors() throws {
        let (bytes, meta) = try Self.buildFile(.uncompressed)
        var chunk = meta.rowGroups[0].columns[0]
        chunk.columnIndexOffset = Int64.max
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readColumnIndex(bytes: bytes, chunk: chunk) }
        chunk.offsetIndexOffset = -1
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readOffsetIndex(bytes: bytes, chunk: chunk) }
        chunk.offsetIndexOffset = Int64(bytes.count - 2)
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readOffsetIndex(bytes: bytes, chunk: chunk) }
        chunk.metaData!.bloomFilterOffset = Int64(bytes.count - 3)
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readBloomFilter(bytes: bytes, chunk: chunk) }
        // A header announcing a negative or oversized bitset.
        for numBytes: Int32 in [-5, 40, Int32.max] {
            let evil = BloomFilterHeader(numBytes: numBytes).thriftBytes() + [UInt8](repeating: 0, count: 64)
            chunk.metaData!.bloomFilterOffset = 0
            chunk.metaData!.bloomFilterLength = nil
            #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readBloomFilter(bytes: evil, chunk: chunk) }
        }
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readPageHeader(bytes: bytes, at: bytes.count) }
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.readPageHeader(bytes: bytes, at: bytes.count - 8) }
    }

    @Test(.enabled(if: MetadataReaderTests.pythonAvailable, "needs the venv python (scripts/test)"))
    func readersAcceptIt() throws {
        let python = try #require(TestEnvironment.python)
        let dir = try TestEnvironment.temporaryDirectory("handbuilt")
        defer { try? FileManager.default.removeItem(at: dir) }
        let codecs: [Compression] = [.uncompressed, .snappy, .gzip(), .zstd(), .lz4Raw]
        var paths: [String] = []
        for c in codecs {
            let path = dir.appendingPathComponent("\(c.codec).parquet").path
            try Data(try Self.buildFile(c).bytes).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let script = """
        import json, sys
        import duckdb, polars as pl, pyarrow.parquet as pq
        n = \(Self.groups * Self.rowsPerGroup)
        page = \(Self.rowsPerPage)
        xs = [r * 3 - 1000 for r in range(n)]
        ss = [None if r < page or r % 10 == 3 else "v%d" % r for r in range(n)]
        out = []
        for path in sys.argv[1:]:
            res = {"path": path}
            t = pq.read_table(path)
            res["pyarrow_values"] = t.column("x").to_pylist() == xs and t.column("s").to_pylist() == ss
            md = pq.read_metadata(path)
            res["created_by"] = md.created_by
            res["codec"] = md.row_group(0).column(0).compression
            res["stats"] = [[md.row_group(g).column(c).statistics.to_dict() for c in range(2)] for g in range(md.num_row_groups)]
            res["page_index"] = all(md.row_group(g).column(c).has_column_index and md.row_group(g).column(c).has_offset_index
                                    for g in range(md.num_row_groups) for c in range(2))
            df = pl.read_parquet(path)
            res["polars_values"] = df["x"].to_list() == xs and df["s"].to_list() == ss
            con = duckdb.connect(); con.execute("SET enable_progress_bar = false")
            res["duckdb_codec"] = [row[0] for row in con.execute("select distinct compression from parquet_metadata(?)", [path]).fetchall()]
            res["duckdb_values"] = con.execute("select list(x order by x), list(s order by x) from read_parquet(?)", [path]).fetchone() == (xs, ss)
            def probe(col, value):
                return [row[2] for row in con.execute("select * from parquet_bloom_probe(?, ?, ?) order by row_group_id", [path, col, value]).fetchall()]
            # Present values are never excluded from their own row group.
            res["bloom_present"] = all(probe("x", xs[r]) [r // \(Self.rowsPerGroup)] is False for r in range(0, n, 37)) and \\
                                   all(probe("s", ss[r])[r // \(Self.rowsPerGroup)] is False for r in range(0, n, 37) if ss[r] is not None)
            absent = [probe("x", v) for v in range(0, 3000, 3)] + [probe("s", "w%d" % i) for i in range(500)]
            res["bloom_absent_excluded"] = sum(all(a) for a in absent) / len(absent)
            out.append(res)
        print(json.dumps(out))
        """
        let result = try ProcessRunner.run(python, ["-c", script] + paths)
        let reports = try #require(try JSONSerialization.jsonObject(with: result.stdout) as? [[String: Any]])
        #expect(reports.count == codecs.count)
        let codecNames: [CompressionCodec: String] = [.uncompressed: "UNCOMPRESSED", .snappy: "SNAPPY", .gzip: "GZIP", .zstd: "ZSTD", .lz4Raw: "LZ4_RAW"]
        for (c, r) in zip(codecs, reports) {
            let label = "\(c)"
            #expect(r["pyarrow_values"] as? Bool == true, "\(label)")
            #expect(r["polars_values"] as? Bool == true, "\(label)")
            #expect(r["duckdb_values"] as? Bool == true, "\(label)")
            // pyarrow names LZ4_RAW "LZ4" (its raw-block codec); DuckDB spells the Thrift name.
            let pyarrowName = c.codec == .lz4Raw ? "LZ4" : codecNames[c.codec]
            #expect(r["codec"] as? String == pyarrowName, "\(label)")
            #expect(r["duckdb_codec"] as? [String] == [codecNames[c.codec]!], "\(label)")
            #expect(r["created_by"] as? String == "lakewriter version \(LakewriterVersion.version) (build test)")
            #expect(r["page_index"] as? Bool == true, "\(label)")
            #expect(r["bloom_present"] as? Bool == true, "\(label)")
            let excluded = r["bloom_absent_excluded"] as? Double ?? 0
            #expect(excluded > 0.95, "\(label): only \(excluded) of absent values excluded")
            let stats = try #require(r["stats"] as? [[[String: Any]]])
            // Row group 0: x in [-1000, 1997], s has 500 + 50 nulls; row group 1: x in [2000, 4997].
            #expect(stats[0][0]["min"] as? Int == -1000 && stats[0][0]["max"] as? Int == 1997, "\(label)")
            #expect(stats[1][0]["min"] as? Int == 2000 && stats[1][0]["max"] as? Int == 4997, "\(label)")
            #expect(stats[0][1]["null_count"] as? Int == 550, "\(label)")
            #expect(stats[1][1]["null_count"] as? Int == 100, "\(label)")
            #expect(stats[0][1]["min"] as? String == "v500", "\(label)")
            #expect(stats[1][1]["max"] as? String == "v1999", "\(label)")
        }
    }
}
