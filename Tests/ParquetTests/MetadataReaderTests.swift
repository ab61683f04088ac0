import Foundation
import Testing
import TestSupport
@testable import Parquet

/// The footer reader against files written by pyarrow, compared with what
/// `pyarrow.parquet.read_metadata` reports, plus page index and bloom filter checks.
@Suite struct MetadataReaderTests {
    static let rows = 5000
    static let rowGroupSize = 2000

    /// Writes the file with pyarrow and returns its path and pyarrow's own view of the metadata.
    static func writeWithPyarrow(_ dir: URL) throws -> (path: String, expected: [String: Any]) {
        let python = try #require(TestEnvironment.python)
        let path = dir.appendingPathComponent("pyarrow.parquet").path
        let script = """
        import datetime, decimal, json, sys
        import pyarrow as pa, pyarrow.parquet as pq
        path = sys.argv[1]
        n = \(rows)
        t = pa.table({
            "i32": pa.array([None if i % 7 == 0 else i * 3 - 5000 for i in range(n)], pa.int32()),
            "i64": pa.array([(i * 7919) % 100003 - 50000 for i in range(n)], pa.int64()),
            "f64": pa.array([i * 0.25 - 100.0 for i in range(n)], pa.float64()),
            "f32": pa.array([i / 8 for i in range(n)], pa.float32()),
            "s": pa.array(["name-%d" % (i % 50) for i in range(n)], pa.string()),
            "uuid": pa.array([i.to_bytes(16, "little") for i in range(n)], pa.uuid()),
            "ts": pa.array([i * 1000 for i in range(n)], pa.timestamp("us", tz="UTC")),
            "d": pa.array([decimal.Decimal(i) / 100 for i in range(n)], pa.decimal128(12, 2)),
            "b": pa.array([i % 3 == 0 for i in range(n)]),
            "u8": pa.array([i % 200 for i in range(n)], pa.uint8()),
            "day": pa.array(list(range(n)), pa.date32()),
            "lst": pa.array([[i, i + 1] if i % 5 else None for i in range(n)], pa.list_(pa.int32())),
            "sparse": pa.array([None if i < 3000 else i for i in range(n)], pa.int64()),
        })
        pq.write_table(t, path, row_group_size=\(rowGroupSize), compression="zstd", write_page_index=True,
                       data_page_size=2048, max_rows_per_page=500, write_page_checksum=True,
                       sorting_columns=[pq.SortingColumn(6)],
                       bloom_filter_options={c: {"ndv": 3000, "fpp": 0.01} for c in ("i32", "i64", "f64", "f32", "s", "uuid")})
        md = pq.read_metadata(path)
        def plain(v):
            if isinstance(v, str):
                return v
            return json.dumps(v) if isinstance(v, (int, float, bool)) else None
        out = {
            "num_rows": md.num_rows, "created_by": md.created_by, "kv_keys": [k.decode() for k in md.metadata.keys()],
            "leaves": [{"path": c.path, "physical_type": c.physical_type, "converted_type": c.converted_type,
                        "max_def": c.max_definition_level, "max_rep": c.max_repetition_level}
                       for c in (md.schema.column(i) for i in range(md.num_columns))],
            "row_groups": [],
        }
        for g in range(md.num_row_groups):
            rg = md.row_group(g)
            cols = []
            for j in range(rg.num_columns):
                c = rg.column(j)
                s = c.statistics
                cols.append({"path": c.path_in_schema, "physical_type": c.physical_type, "compression": c.compression,
                             "encodings": list(c.encodings), "num_values": c.num_values,
                             "total_compressed_size": c.total_compressed_size,
                             "total_uncompressed_size": c.total_uncompressed_size,
                             "data_page_offset": c.data_page_offset, "dictionary_page_offset": c.dictionary_page_offset,
                             "has_column_index": c.has_column_index, "has_offset_index": c.has_offset_index,
                             "bloom_filter_offset": c.bloom_filter_offset, "bloom_filter_length": c.bloom_filter_length,
                             "null_count": s.null_count, "has_min_max": s.has_min_max,
                             "min": plain(s.min) if s.has_min_max else None, "max": plain(s.max) if s.has_min_max else None})
            out["row_groups"].append({"num_rows": rg.num_rows, "total_byte_size": rg.total_byte_size, "columns": cols})
        print(json.dumps(out))
        """
        let result = try ProcessRunner.run(python, ["-c", script, path])
        let json = try JSONSerialization.jsonObject(with: result.stdout) as! [String: Any]
        return (path, json)
    }

    static let converted: [ConvertedType: String] = [
        .utf8: "UTF8", .decimal: "DECIMAL", .timestampMicros: "TIMESTAMP_MICROS", .uint8: "UINT_8", .date: "DATE",
        .list: "LIST", .int32: "INT_32", .int64: "INT_64",
    ]
    static let physical: [PhysicalType: String] = [
        .boolean: "BOOLEAN", .int32: "INT32", .int64: "INT64", .int96: "INT96", .float: "FLOAT", .double: "DOUBLE",
        .byteArray: "BYTE_ARRAY", .fixedLenByteArray: "FIXED_LEN_BYTE_ARRAY",
    ]
    static let encodingNames: [Encoding: String] = [
        .plain: "PLAIN", .plainDictionary: "PLAIN_DICTIONARY", .rle: "RLE", .bitPacked: "BIT_PACKED",
        .deltaBinaryPacked: "DELTA_BINARY_PACKED", .deltaLengthByteArray: "DELTA_LENGTH_BYTE_ARRAY",
        .deltaByteArray: "DELTA_BYTE_ARRAY", .rleDictionary: "RLE_DICTIONARY", .byteStreamSplit: "BYTE_STREAM_SPLIT",
    ]

    static let pythonAvailable = TestEnvironment.python != nil || TestEnvironment.isCI

    @Test(.enabled(if: pythonAvailable, "needs the venv python (scripts/test)"))
    func footerMatchesPyarrow() throws {
        let dir = try TestEnvironment.temporaryDirectory("footer")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, expected) = try Self.writeWithPyarrow(dir)
        let meta = try ParquetMetadataReader.read(path: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        #expect(try ParquetMetadataReader.read(bytes: bytes) == meta)

        #expect(meta.numRows == Int64(Self.rows))
        #expect(meta.numRows == expected["num_rows"] as? Int64 ?? Int64(expected["num_rows"] as! Int))
        #expect(meta.createdBy == expected["created_by"] as? String)
        #expect(meta.keyValueMetadata?.map(\.key) == expected["kv_keys"] as? [String])
        #expect(meta.version == 2 || meta.version == 1)

        // Schema: the root, then depth-first; leaves match pyarrow's column schemas.
        #expect(meta.schema[0].name == "schema")
        #expect(meta.schema[0].numChildren == 13)
        #expect(meta.schema[0].repetitionType == nil || meta.schema[0].repetitionType == .required)
        let leaves = meta.schema.filter { $0.numChildren == nil }
        let expectedLeaves = expected["leaves"] as! [[String: Any]]
        #expect(leaves.count == expectedLeaves.count)
        for (leaf, exp) in zip(leaves, expectedLeaves) {
            #expect((exp["path"] as! String).hasSuffix(leaf.name))
            #expect(Self.physical[leaf.type!] == exp["physical_type"] as? String, "\(leaf.name)")
            #expect((leaf.convertedType.map { Self.converted[$0] ?? "?" } ?? "NONE") == exp["converted_type"] as? String, "\(leaf.name)")
        }
        func element(_ name: String) -> SchemaElement? { meta.schema.first { $0.name == name } }
        #expect(element("s")?.logicalType == .string)
        #expect(element("uuid")?.logicalType == .uuid)
        #expect(element("uuid")?.typeLength == 16)
        #expect(element("ts")?.logicalType == .timestamp(isAdjustedToUTC: true, unit: .micros))
        #expect(element("d")?.logicalType == .decimal(scale: 2, precision: 12))
        #expect(element("d")?.scale == 2)
        #expect(element("d")?.precision == 12)
        #expect(element("u8")?.logicalType == .integer(bitWidth: 8, isSigned: false))
        #expect(element("day")?.logicalType == .date)
        #expect(element("lst")?.logicalType == .list)
        #expect(element("lst")?.numChildren == 1)
        #expect(element("list")?.repetitionType == .repeated)
        #expect(element("i32")?.repetitionType == .optional)
        #expect(meta.columnOrders?.count == leaves.count)
        #expect(meta.columnOrders?.allSatisfy { $0 == .typeDefinedOrder } == true)
        #expect(meta.rowGroups.allSatisfy { $0.sortingColumns == [SortingColumn(columnIdx: 6, descending: false, nullsFirst: false)] })

        // Row groups and column chunks.
        let groups = expected["row_groups"] as! [[String: Any]]
        #expect(meta.rowGroups.count == groups.count)
        #expect(meta.rowGroups.count == 3)
        for (g, exp) in zip(meta.rowGroups, groups) {
            #expect(g.numRows == Int64(exp["num_rows"] as! Int))
            #expect(g.totalByteSize == Int64(exp["total_byte_size"] as! Int))
            let cols = exp["columns"] as! [[String: Any]]
            #expect(g.columns.count == cols.count)
            for (chunk, e) in zip(g.columns, cols) {
                let m = try #require(chunk.metaData)
                let name = m.pathInSchema.joined(separator: ".")
                #expect(name == e["path"] as? String)
                #expect(m.codec == .zstd, "\(name)")
                #expect(e["compression"] as? String == "ZSTD")
                #expect(Set(m.encodings.map { Self.encodingNames[$0]! }) == Set(e["encodings"] as! [String]), "\(name)")
                #expect(m.numValues == Int64(e["num_values"] as! Int), "\(name)")
                #expect(m.totalCompressedSize == Int64(e["total_compressed_size"] as! Int), "\(name)")
                #expect(m.totalUncompressedSize == Int64(e["total_uncompressed_size"] as! Int), "\(name)")
                #expect(m.dataPageOffset == Int64(e["data_page_offset"] as! Int), "\(name)")
                #expect(m.dictionaryPageOffset.map(Int.init) == e["dictionary_page_offset"] as? Int, "\(name)")
                #expect((chunk.columnIndexOffset != nil) == (e["has_column_index"] as! Bool), "\(name)")
                #expect((chunk.offsetIndexOffset != nil) == (e["has_offset_index"] as! Bool), "\(name)")
                #expect(m.bloomFilterOffset.map(Int.init) == e["bloom_filter_offset"] as? Int, "\(name)")
                #expect(m.bloomFilterLength.map(Int.init) == e["bloom_filter_length"] as? Int, "\(name)")
                let stats = try #require(m.statistics)
                #expect(stats.nullCount == Int64(e["null_count"] as! Int), "\(name)")
                #expect((stats.minValue != nil) == (e["has_min_max"] as! Bool), "\(name)")
                if let min = stats.minValue, let max = stats.maxValue {
                    #expect(Self.decodePlain(min, m.type, name) == Self.normalize(e["min"]), "min of \(name)")
                    #expect(Self.decodePlain(max, m.type, name) == Self.normalize(e["max"]), "max of \(name)")
                }
            }
        }
    }

    @Test(.enabled(if: pythonAvailable, "needs the venv python (scripts/test)"))
    func pageIndexesAndPageHeaders() throws {
        let dir = try TestEnvironment.temporaryDirectory("pageindex")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try Self.writeWithPyarrow(dir)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let meta = try ParquetMetadataReader.read(bytes: bytes)
        var multiPage = 0
        for group in meta.rowGroups {
            for chunk in group.columns {
                let m = chunk.metaData!
                let name = m.pathInSchema.joined(separator: ".")
                let ci = try #require(try ParquetMetadataReader.readColumnIndex(path: path, chunk: chunk), "\(name)")
                let oi = try #require(try ParquetMetadataReader.readOffsetIndex(bytes: bytes, chunk: chunk), "\(name)")
                #expect(try ParquetMetadataReader.readColumnIndex(bytes: bytes, chunk: chunk) == ci)
                #expect(oi.pageLocations.count == ci.nullPages.count, "\(name)")
                #expect(ci.minValues.count == ci.nullPages.count)
                #expect(ci.maxValues.count == ci.nullPages.count)
                if oi.pageLocations.count > 1 { multiPage += 1 }
                #expect(oi.pageLocations.first?.offset == m.dataPageOffset, "\(name)")
                #expect(oi.pageLocations.first?.firstRowIndex == 0)
                #expect(zip(oi.pageLocations, oi.pageLocations.dropFirst()).allSatisfy {
                    $0.firstRowIndex < $1.firstRowIndex && $0.offset + Int64($0.compressedPageSize) == $1.offset
                }, "\(name)")

                // Each location is a data page whose header + body fill exactly compressed_page_size,
                // and the pages' value counts add up to the chunk's.
                var values: Int64 = 0
                for loc in oi.pageLocations {
                    let (header, headerLength) = try ParquetMetadataReader.readPageHeader(bytes: bytes, at: Int(loc.offset))
                    #expect(header.type == .dataPage, "\(name)")
                    #expect(headerLength + Int(header.compressedPageSize) == Int(loc.compressedPageSize), "\(name)")
                    values += Int64(header.dataPageHeader?.numValues ?? header.dataPageHeaderV2?.numValues ?? 0)
                }
                if let dict = m.dictionaryPageOffset {
                    let (header, length) = try ParquetMetadataReader.readPageHeader(bytes: bytes, at: Int(dict))
                    #expect(header.type == .dictionaryPage)
                    #expect(header.dictionaryPageHeader != nil)
                    #expect(dict + Int64(length) + Int64(header.compressedPageSize) == m.dataPageOffset, "\(name)")
                }
                #expect(values == m.numValues, "\(name)")
                #expect(ci.nullCounts?.reduce(0, +) == m.statistics?.nullCount, "\(name)")

                // Page bounds agree with the chunk statistics.
                if name == "ts" || name == "i64" {
                    let decode = { (v: [UInt8]) in v.withUnsafeBytes { Int64(littleEndian: $0.loadUnaligned(as: Int64.self)) } }
                    let mins = ci.minValues.map(decode), maxs = ci.maxValues.map(decode)
                    #expect(mins.min() == m.statistics?.minValue.map(decode), "\(name)")
                    #expect(maxs.max() == m.statistics?.maxValue.map(decode), "\(name)")
                    if name == "ts" { #expect(ci.boundaryOrder == .ascending) }
                }
            }
        }
        #expect(multiPage > 0, "the file should have multi-page chunks")
    }

    /// Decoding pyarrow's footer, page headers and page indexes and encoding them again gives
    /// the same bytes: our field order, delta/long headers, list and bool encodings (including
    /// ColumnIndex.null_pages) match arrow C++'s Thrift writer.
    @Test(.enabled(if: pythonAvailable, "needs the venv python (scripts/test)"))
    func reencodingPyarrowMetadataIsByteExact() throws {
        let dir = try TestEnvironment.temporaryDirectory("reencode")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (path, _) = try Self.writeWithPyarrow(dir)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let footerLength = bytes[(bytes.count - 8)..<(bytes.count - 4)].withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(as: UInt32.self))) }
        let footer = Array(bytes[(bytes.count - 8 - footerLength)..<(bytes.count - 8)])
        let meta = try FileMetaData(thriftBytes: footer)
        #expect(meta.thriftBytes() == footer)

        var sawNullPage = false, pages = 0
        for group in meta.rowGroups {
            for chunk in group.columns {
                let ciRange = Int(chunk.columnIndexOffset!)..<Int(chunk.columnIndexOffset!) + Int(chunk.columnIndexLength!)
                let ciBytes = Array(bytes[ciRange])
                let ci = try ColumnIndex(thriftBytes: ciBytes)
                #expect(ci.thriftBytes() == ciBytes)
                if ci.nullPages.contains(true) && ci.nullPages.contains(false) { sawNullPage = true }
                let oiRange = Int(chunk.offsetIndexOffset!)..<Int(chunk.offsetIndexOffset!) + Int(chunk.offsetIndexLength!)
                let oiBytes = Array(bytes[oiRange])
                let oi = try OffsetIndex(thriftBytes: oiBytes)
                #expect(oi.thriftBytes() == oiBytes)
                for loc in oi.pageLocations {
                    let (header, length) = try ParquetMetadataReader.readPageHeader(bytes: bytes, at: Int(loc.offset))
                    #expect(header.thriftBytes() == Array(bytes[Int(loc.offset)..<Int(loc.offset) + length]))
                    pages += 1
                }
                if let m = chunk.metaData, let offset = m.bloomFilterOffset {
                    var r = ThriftCompactReader(bytes, position: Int(offset))
                    let header = try BloomFilterHeader(from: &r)
                    #expect(header.thriftBytes() == Array(bytes[Int(offset)..<r.position]))
                    #expect(r.position - Int(offset) + Int(header.numBytes) == Int(m.bloomFilterLength!))
                }
            }
        }
        #expect(sawNullPage, "the sparse column should have all-null and non-null pages")
        #expect(pages > 50)
    }

    @Test func rejectsNonParquetInput() throws {
        #expect(throws: ParquetReadError.fileTooSmall(size: 3)) { try ParquetMetadataReader.read(bytes: [1, 2, 3]) }
        var bytes = Array("PAR1".utf8) + [0, 0, 0, 0] + Array("PAR1".utf8)
        #expect(throws: ParquetReadError.badFooterLength(length: 0, fileSize: 12)) { try ParquetMetadataReader.read(bytes: bytes) }
        bytes[0] = 0x50 + 1
        #expect(throws: ParquetReadError.badHeaderMagic(Array("QAR1".utf8))) { try ParquetMetadataReader.read(bytes: bytes) }
        let encrypted = Array("PAR1".utf8) + [1, 0, 0, 0, 0] + Array("PARE".utf8)
        #expect(throws: ParquetReadError.badFooterMagic(Array("PARE".utf8))) { try ParquetMetadataReader.read(bytes: encrypted) }
        let huge = Array("PAR1".utf8) + [0xFF, 0, 0, 0] + Array("PAR1".utf8)
        #expect(throws: ParquetReadError.badFooterLength(length: 255, fileSize: 12)) { try ParquetMetadataReader.read(bytes: huge) }
        // A footer that is not Thrift.
        let garbage = Array("PAR1".utf8) + [0x0F, 0x0F] + [2, 0, 0, 0] + Array("PAR1".utf8)
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.read(bytes: garbage) }
        #expect(throws: ParquetReadError.self) { try ParquetMetadataReader.read(path: "/nonexistent/x.parquet") }
    }

    /// A minimal file built from our own metadata values decodes to the same values.
    @Test func ownFooterRoundTrip() throws {
        let file = FileMetaData(schema: [SchemaElement(name: "schema", numChildren: 1),
                                         SchemaElement(type: .int32, repetitionType: .required, name: "x")],
                                numRows: 0, rowGroups: [], createdBy: "lakewriter version 0.1.0 (build test)")
        let footer = file.thriftBytes()
        var bytes = Array("PAR1".utf8) + footer
        withUnsafeBytes(of: UInt32(footer.count).littleEndian) { bytes += $0 }
        bytes += Array("PAR1".utf8)
        #expect(try ParquetMetadataReader.read(bytes: bytes) == file)
    }

    /// Decodes a statistics value to the same text pyarrow's JSON gives, for the plain types.
    static func decodePlain(_ v: [UInt8], _ type: PhysicalType, _ name: String) -> String? {
        func le<T: FixedWidthInteger>(_: T.Type) -> T {
            v.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        switch (type, name) {
        case (.int32, "i32"), (.int32, "u8"), (.int32, "lst.list.element"): return "\(le(Int32.self))"
        case (.int64, "i64"), (.int64, "sparse"): return "\(le(Int64.self))"
        case (.double, _): return "\(Double(bitPattern: le(UInt64.self)))"
        case (.float, _): return "\(Double(Float(bitPattern: le(UInt32.self))))"
        case (.byteArray, "s"): return String(decoding: v, as: UTF8.self)
        case (.boolean, _): return v == [1] ? "true" : "false"
        default: return nil
        }
    }

    static func normalize(_ any: Any?) -> String? { any as? String }
}
