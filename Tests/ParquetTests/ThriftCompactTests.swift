import Testing
import TestSupport
@testable import Parquet

/// Byte-exact checks against encodings computed by hand from the Thrift compact spec,
/// plus round trips of every metadata struct.
@Suite struct ThriftCompactTests {
    @Test func shortFieldHeadersAndVarints() {
        let bytes = PageLocation(offset: 4, compressedPageSize: 100, firstRowIndex: 0).thriftBytes()
        // Each header is (delta 1 << 4) | type: i64 field 1: 0x16, zigzag(4)=8; i32 field 2: 0x15,
        // zigzag(100)=200 = C8 01; i64 field 3: 0x16 00; stop.
        #expect(bytes == [0x16, 0x08, 0x15, 0xC8, 0x01, 0x16, 0x00, 0x00])
    }

    @Test func negativeZigzag() throws {
        #expect(Statistics(nullCount: -1).thriftBytes() == [0x36, 0x01, 0x00])
        #expect(Statistics(nullCount: -64).thriftBytes() == [0x36, 0x7F, 0x00])
        #expect(Statistics(nullCount: -65).thriftBytes() == [0x36, 0x81, 0x01, 0x00])
        #expect(Statistics(nullCount: Int64.min).thriftBytes()
            == [0x36, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00])
        var r = ThriftCompactReader([0x36, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 0x00])
        #expect(try Statistics(from: &r).nullCount == Int64.min)
    }

    @Test func longFormFieldHeaders() throws {
        var w = ThriftCompactWriter()
        w.writeStructBegin()
        w.writeI32Field(17, 1)   // delta 17 > 15: type byte, zigzag(17) = 34, value 2
        w.writeI32Field(2, -1)   // going backwards also needs the long form
        w.writeI32Field(3, 5)    // then delta 1 again
        w.writeStructEnd()
        #expect(w.bytes == [0x05, 0x22, 0x02, 0x05, 0x04, 0x01, 0x15, 0x0A, 0x00])

        var r = ThriftCompactReader(w.bytes)
        try r.readStructBegin()
        var seen: [(Int16, Int32)] = []
        while let (t, id) = try r.readFieldHeader() {
            #expect(t == .i32)
            seen.append((id, try r.readI32()))
        }
        #expect(seen.map(\.0) == [17, 2, 3])
        #expect(seen.map(\.1) == [1, -1, 5])
    }

    @Test func fieldIdsResetInsideNestedStructs() {
        // ColumnChunk field 3 (delta 3 from field 2) holds ColumnMetaData whose first field is 1 again.
        let meta = ColumnMetaData(type: .int32, encodings: [.plain], pathInSchema: ["a"], codec: .uncompressed,
                                  numValues: 1, totalUncompressedSize: 2, totalCompressedSize: 2, dataPageOffset: 4)
        let bytes = ColumnChunk(fileOffset: 0, metaData: meta).thriftBytes()
        let expected: [UInt8] = [
            0x26, 0x00,                    // field 2 i64 file_offset 0
            0x1C,                          // field 3 struct (delta 1)
            0x15, 0x02,                    // type INT32
            0x19, 0x15, 0x00,              // encodings: 1 x i32, PLAIN
            0x19, 0x18, 0x01, 0x61,        // path_in_schema ["a"]
            0x15, 0x00,                    // codec
            0x16, 0x02, 0x16, 0x04, 0x16, 0x04, // num_values 1, sizes 2, 2
            0x26, 0x08,                    // field 9 (delta 2) data_page_offset 4
            0x00,                          // end ColumnMetaData
            0x00,                          // end ColumnChunk
        ]
        #expect(bytes == expected)
    }

    @Test func listHeaders() {
        var w = ThriftCompactWriter()
        w.writeStructBegin()
        w.writeI32ListField(1, Array(0..<14))
        w.writeStructEnd()
        #expect(Array(w.bytes.prefix(2)) == [0x19, 0xE5])

        w.reset()
        w.writeStructBegin()
        w.writeI32ListField(1, Array(0..<15))
        w.writeStructEnd()
        #expect(Array(w.bytes.prefix(3)) == [0x19, 0xF5, 0x0F])
        #expect(Array(w.bytes[3..<6]) == [0x00, 0x02, 0x04])
        #expect(w.bytes.count == 3 + 15 + 1)

        w.reset()
        w.writeStructBegin()
        w.writeI64ListField(1, Array(repeating: 1, count: 300))
        w.writeStructEnd()
        #expect(Array(w.bytes.prefix(4)) == [0x19, 0xF6, 0xAC, 0x02])
    }

    @Test func boolFieldsAndBoolLists() throws {
        #expect(SortingColumn(columnIdx: 0, descending: true, nullsFirst: false).thriftBytes()
            == [0x15, 0x00, 0x11, 0x12, 0x00])

        let ci = ColumnIndex(nullPages: [true, false], minValues: [[], [1]], maxValues: [[], [2]],
                             boundaryOrder: .ascending, nullCounts: [3, 0])
        let expected: [UInt8] = [
            0x19, 0x21, 0x01, 0x02,        // null_pages: 2 x bool, true = 1, false = 2
            0x19, 0x28, 0x00, 0x01, 0x01,  // min_values
            0x19, 0x28, 0x00, 0x01, 0x02,  // max_values
            0x15, 0x02,                    // boundary_order ASCENDING
            0x19, 0x26, 0x06, 0x00,        // null_counts
            0x00,
        ]
        #expect(ci.thriftBytes() == expected)
        #expect(try ColumnIndex(thriftBytes: expected) == ci)

        // Other writers use element type 2 and 0 for false (arrow-rs#7052, thrift#3094).
        var variant = expected
        variant[1] = 0x22
        variant[3] = 0x00
        #expect(try ColumnIndex(thriftBytes: variant).nullPages == [true, false])
    }

    @Test func logicalTypeUnions() throws {
        #expect(LogicalType.timestamp(isAdjustedToUTC: true, unit: .micros).thriftBytes()
            == [0x8C, 0x11, 0x1C, 0x2C, 0x00, 0x00, 0x00, 0x00])
        #expect(LogicalType.integer(bitWidth: 8, isSigned: false).thriftBytes()
            == [0xAC, 0x13, 0x08, 0x12, 0x00, 0x00])
        #expect(LogicalType.string.thriftBytes() == [0x1C, 0x00, 0x00])
        #expect(LogicalType.decimal(scale: 2, precision: 12).thriftBytes() == [0x5C, 0x15, 0x04, 0x15, 0x18, 0x00, 0x00])
        #expect(ColumnOrder.typeDefinedOrder.thriftBytes() == [0x1C, 0x00, 0x00])

        let all: [LogicalType] = [
            .string, .map, .list, .enum, .decimal(scale: 2, precision: 38), .date,
            .time(isAdjustedToUTC: false, unit: .micros), .time(isAdjustedToUTC: true, unit: .millis),
            .timestamp(isAdjustedToUTC: true, unit: .nanos), .timestamp(isAdjustedToUTC: false, unit: .millis),
            .integer(bitWidth: 64, isSigned: true), .integer(bitWidth: 16, isSigned: false),
            .unknown, .json, .bson, .uuid, .float16,
        ]
        for t in all { #expect(try LogicalType(thriftBytes: t.thriftBytes()) == t) }

        // An unknown member (VARIANT, field 16, holding an i8) leaves the logical type unset.
        // Field 10 header: delta 6 from field 4 = 0x6C; member 16 needs the long form 0x0C, zigzag(16) = 0x20.
        let withVariant: [UInt8] = [0x48, 0x01, 0x76, 0x6C, 0x0C, 0x20, 0x13, 0x01, 0x00, 0x00, 0x00]
        #expect(Array(SchemaElement(name: "v").thriftBytes()) == [0x48, 0x01, 0x76, 0x00])
        let decoded = try SchemaElement(thriftBytes: withVariant)
        #expect(decoded.name == "v")
        #expect(decoded.logicalType == nil)
    }

    @Test func skipsUnknownFieldsOfEveryType() throws {
        let bytes: [UInt8] = [
            0xAB, 0x01, 0x58, 0x02, 0x01, 0x78,      // field 10: map<i32, binary> {1: "x"}
            0x17, 0, 0, 0, 0, 0, 0, 0xF0, 0x3F,      // field 11: double 1.0
            0x1A, 0x23, 0x05, 0x06,                  // field 12: set<byte> {5, 6}
            0x1C, 0x11, 0x19, 0x1C, 0x00, 0x00,      // field 13: struct { 1: true, 2: list<struct>[{}] }
            0x19, 0x29, 0x15, 0x02, 0x00,            // field 14: list<list<i32>> [[1], []]
            0x11,                                    // field 15: bool true
            0x0B, 0x28, 0x00,                        // field 20 (long form): empty map
            0x06, 0x06, 0x0A,                        // field 3 (long form, backwards): null_count 5
            0x16, 0x0E,                              // field 4: distinct_count 7
            0x00,
        ]
        let s = try Statistics(thriftBytes: bytes)
        #expect(s == Statistics(nullCount: 5, distinctCount: 7))
    }

    @Test func truncatedAndMalformedInputThrow() {
        let good = Statistics(nullCount: 1, maxValue: [1, 2, 3], minValue: [0]).thriftBytes()
        for n in 0..<good.count {
            #expect(throws: ThriftDecodingError.self) { try Statistics(thriftBytes: Array(good.prefix(n))) }
        }
        // A binary claiming more bytes than remain.
        #expect(throws: ThriftDecodingError.self) { try Statistics(thriftBytes: [0x58, 0x7F, 0x01, 0x00]) }
        // A missing required field names it.
        do {
            _ = try PageLocation(thriftBytes: [0x16, 0x08, 0x00])
            Issue.record("expected an error")
        } catch let e as ThriftDecodingError {
            #expect(e.code == .missingField)
            #expect(e.context == "PageLocation.compressed_page_size")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    /// Random corruption of a valid footer must give an error or a value, never a crash.
    @Test func corruptedFootersNeverCrash() throws {
        let chunk = ColumnChunk(metaData: ColumnMetaData(
            type: .byteArray, encodings: [.plain, .rle], pathInSchema: ["a", "b"], codec: .snappy, numValues: 10,
            totalUncompressedSize: 100, totalCompressedSize: 80, dataPageOffset: 4,
            statistics: Statistics(nullCount: 1, maxValue: [1, 2], minValue: [0])),
            offsetIndexOffset: 1, offsetIndexLength: 2, columnIndexOffset: 3, columnIndexLength: 4)
        let file = FileMetaData(schema: [SchemaElement(name: "schema", numChildren: 1),
                                         SchemaElement(type: .byteArray, repetitionType: .optional, name: "a",
                                                       logicalType: .timestamp(isAdjustedToUTC: true, unit: .micros))],
                                numRows: 10, rowGroups: [RowGroup(columns: [chunk], totalByteSize: 100, numRows: 10)],
                                keyValueMetadata: [KeyValue(key: "k", value: "v")], createdBy: "x", columnOrders: [.typeDefinedOrder])
        let good = file.thriftBytes()
        var rng = SeededGenerator(seed: 99)
        var decoded = 0, failed = 0
        for _ in 0..<20_000 {
            var bytes = good
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 5 == 0 { bytes.removeLast(Int(rng.next() % UInt64(bytes.count))) }
            do {
                _ = try FileMetaData(thriftBytes: bytes)
                decoded += 1
            } catch is ThriftDecodingError {
                failed += 1
            }
        }
        #expect(decoded + failed == 20_000)
        #expect(failed > 0)
    }

    @Test func fileMetaDataRoundTrip() throws {
        let stats = Statistics(max: [9], min: [1], nullCount: 2, distinctCount: 4, maxValue: [9, 0, 0, 0],
                               minValue: [1, 0, 0, 0], isMaxValueExact: true, isMinValueExact: false, nanCount: 0)
        let meta = ColumnMetaData(
            type: .byteArray, encodings: [.plain, .rle, .rleDictionary], pathInSchema: ["s", "list", "element"],
            codec: .zstd, numValues: 1_000_000_000_000, totalUncompressedSize: 123_456, totalCompressedSize: 65_432,
            keyValueMetadata: [KeyValue(key: "k", value: "v"), KeyValue(key: "only")],
            dataPageOffset: 1_000, indexPageOffset: 3, dictionaryPageOffset: 4, statistics: stats,
            encodingStats: [PageEncodingStats(pageType: .dictionaryPage, encoding: .plain, count: 1),
                            PageEncodingStats(pageType: .dataPage, encoding: .rleDictionary, count: 20)],
            bloomFilterOffset: 99_999, bloomFilterLength: 1_056,
            sizeStatistics: SizeStatistics(unencodedByteArrayDataBytes: 77, repetitionLevelHistogram: [1, 2],
                                           definitionLevelHistogram: [3, 4, 5]))
        let file = FileMetaData(
            version: 1,
            schema: [
                SchemaElement(name: "schema", numChildren: 2),
                SchemaElement(type: .fixedLenByteArray, typeLength: 16, repetitionType: .required, name: "id",
                              logicalType: .uuid),
                SchemaElement(type: .int64, repetitionType: .optional, name: "amount", convertedType: .decimal,
                              scale: 2, precision: 12, fieldId: 7, logicalType: .decimal(scale: 2, precision: 12)),
            ],
            numRows: 42,
            rowGroups: [
                RowGroup(columns: [ColumnChunk(filePath: nil, fileOffset: 4, metaData: meta, offsetIndexOffset: 5,
                                               offsetIndexLength: 6, columnIndexOffset: 7, columnIndexLength: 8)],
                         totalByteSize: 10, numRows: 42,
                         sortingColumns: [SortingColumn(columnIdx: 1, descending: false, nullsFirst: true)],
                         fileOffset: 4, totalCompressedSize: 9, ordinal: 0),
                RowGroup(columns: [], totalByteSize: 0, numRows: 0),
            ],
            keyValueMetadata: [KeyValue(key: "ARROW:schema", value: "xyz")],
            createdBy: "lakewriter version 0.1.0 (build abc)",
            columnOrders: [.typeDefinedOrder, .ieee754TotalOrder])
        let bytes = file.thriftBytes()
        #expect(try FileMetaData(thriftBytes: bytes) == file)

        let pages: [PageHeader] = [
            PageHeader(type: .dataPage, uncompressedPageSize: 100, compressedPageSize: 50, crc: -5,
                       dataPageHeader: DataPageHeader(numValues: 10, encoding: .plain, statistics: stats)),
            PageHeader(type: .dictionaryPage, uncompressedPageSize: 1, compressedPageSize: 1,
                       dictionaryPageHeader: DictionaryPageHeader(numValues: 3, encoding: .plain, isSorted: false)),
            PageHeader(type: .dataPageV2, uncompressedPageSize: 1, compressedPageSize: 1,
                       dataPageHeaderV2: DataPageHeaderV2(numValues: 5, numNulls: 1, numRows: 5, encoding: .rleDictionary,
                                                          definitionLevelsByteLength: 2, repetitionLevelsByteLength: 0,
                                                          isCompressed: false, statistics: Statistics(nullCount: 1))),
        ]
        for p in pages { #expect(try PageHeader(thriftBytes: p.thriftBytes()) == p) }

        let oi = OffsetIndex(pageLocations: (0..<20).map { PageLocation(offset: Int64($0) * 1000, compressedPageSize: 999,
                                                                         firstRowIndex: Int64($0) * 20_000) },
                             unencodedByteArrayDataBytes: [1, 2])
        #expect(try OffsetIndex(thriftBytes: oi.thriftBytes()) == oi)
        let ci = ColumnIndex(nullPages: (0..<20).map { $0 % 3 == 0 }, minValues: (0..<20).map { [UInt8($0)] },
                             maxValues: (0..<20).map { [UInt8($0), 1] }, boundaryOrder: .unordered,
                             nullCounts: Array(0..<20), repetitionLevelHistograms: [1], definitionLevelHistograms: [2],
                             nanCounts: [0])
        #expect(try ColumnIndex(thriftBytes: ci.thriftBytes()) == ci)
        let bf = BloomFilterHeader(numBytes: 1024)
        // numBytes, then the three unions, each { 1: {} }.
        #expect(bf.thriftBytes() == [0x15, 0x80, 0x10, 0x1C, 0x1C, 0x00, 0x00, 0x1C, 0x1C, 0x00, 0x00, 0x1C, 0x1C, 0x00, 0x00, 0x00])
        #expect(try BloomFilterHeader(thriftBytes: bf.thriftBytes()) == bf)
    }
}
