/// Settings for one column, resolved from ``WriterProperties`` and its overrides.
struct ColumnWriterConfig {
    var dictionary: Bool
    var statistics: Bool
    var pageIndex: Bool
    var compression: Compression
    var pageVersion: WriterProperties.DataPageVersion
    var pageSize: Int
    var pageRowLimit: Int
    var dictionaryLimit: Int
    var truncateLength: Int
    var bloomFilter: BloomFilterProperties?

    init(_ p: WriterProperties, _ d: ColumnDescriptor) {
        let o = p.columns[d.dottedPath]
        dictionary = (o?.dictionaryEnabled ?? p.dictionaryEnabled) && d.storage != .boolean
        statistics = o?.statisticsEnabled ?? p.statisticsEnabled
        pageIndex = p.pageIndexEnabled
        compression = o?.compression ?? p.compression
        pageVersion = p.dataPageVersion
        pageSize = max(p.dataPageSize, 1)
        pageRowLimit = max(p.dataPageRowLimit, 1)
        dictionaryLimit = p.dictionaryPageSizeLimit
        truncateLength = max(p.statisticsTruncateLength, 1)
        bloomFilter = o?.bloomFilter
    }
}

/// A finished column chunk: its bytes (dictionary page first) and metadata with
/// offsets relative to the chunk start, fixed up by the file writer.
struct FinishedChunk {
    /// The dictionary page (header and body), empty without dictionary. The data pages follow
    /// it in the file: ``ColumnChunkWriter/pageBytes``.
    var dictionaryPage: [UInt8]
    var byteCount: Int
    var metaData: ColumnMetaData
    var dictionaryPageLength: Int
    var columnIndex: ColumnIndex?
    var offsetIndex: OffsetIndex
    var bloomFilter: SplitBlockBloomFilter?
}

/// Writes one column chunk of a row group: buffers levels and values of the
/// current page, cuts pages by size and rows (at row boundaries), encodes with
/// the dictionary until it passes its limit and with PLAIN after, compresses,
/// and tracks page and chunk statistics for the footer and the page index.
struct ColumnChunkWriter {
    let descriptor: ColumnDescriptor
    let config: ColumnWriterConfig
    let compressor: Compressor
    let physicalType: PhysicalType
    let order: StatisticsOrder
    let isUTF8: Bool
    let defWidth: Int
    let repWidth: Int
    let maxDef: UInt8
    let maxRep: UInt8

    private var dictionary: DictionaryEncoder?
    /// Page number in which each dictionary entry was last seen: byte-array statistics then
    /// compare each distinct value once per page instead of every value.
    private var seenInPage: [UInt32] = []
    private var pageNumber: UInt32 = 1
    private var usingDictionary: Bool
    private var bloom: SplitBlockBloomFilter?

    // Current page.
    private var defs: [UInt8] = []
    private var reps: [UInt8] = []
    private var indices: [UInt32] = []
    private var plain: [UInt8] = []
    private var bools: [Bool] = []
    private var pageValues = 0
    private var pageLevels = 0
    private var pageRows = 0
    private var pageStats = StatisticsAccumulator()

    // Chunk.
    private var chunkStats = StatisticsAccumulator()
    /// The chunk's data pages (header and body each), back to back: one buffer, kept with its
    /// capacity for the column's next row group (see ``startNextChunk(config:)``).
    private(set) var pageBytes: [UInt8] = []
    private var pagesSize: Int { pageBytes.count }
    private var body: [UInt8] = []
    private var levelBytes: [UInt8] = []
    private var chunkRows: Int64 = 0
    private var chunkLevels: Int64 = 0
    private var uncompressedTotal: Int64 = 0
    private var locations: [PageLocation] = []
    private var nullPages: [Bool] = []
    private var pageMins: [[UInt8]] = []
    private var pageMaxs: [[UInt8]] = []
    private var pageNullCounts: [Int64] = []
    private var dictionaryPagesUsed = 0
    private var plainPages = 0
    /// Values encoded with the dictionary so far: past 10,000, a dictionary holding more than
    /// half of them as distinct entries saves little and costs much (ids, uuids, timestamps),
    /// so the chunk goes on in PLAIN.
    private var dictionaryValues = 0
    private(set) var rowCount = 0
    /// True when the chunk started with a dictionary and went on in PLAIN: the writer starts the
    /// column's later row groups in PLAIN (their values are as unlikely to repeat).
    var fellBackToPlain: Bool { dictionary != nil && !usingDictionary }

    init(descriptor d: ColumnDescriptor, config: ColumnWriterConfig, compressor: Compressor) {
        descriptor = d
        self.config = config
        self.compressor = compressor
        physicalType = d.storage.physicalType
        order = StatisticsOrder(d)
        switch d.type {
        case .string, .json, .enumeration: isUTF8 = true
        default: isUTF8 = false
        }
        maxDef = UInt8(d.maxDefinitionLevel)
        maxRep = UInt8(d.maxRepetitionLevel)
        defWidth = bitWidth(d.maxDefinitionLevel)
        repWidth = bitWidth(d.maxRepetitionLevel)
        if config.dictionary {
            switch d.storage {
            case .int32, .float: dictionary = DictionaryEncoder(numericWidth: 4)
            case .int64, .double: dictionary = DictionaryEncoder(numericWidth: 8)
            case .byteArray: dictionary = DictionaryEncoder(numericWidth: 0)
            case .fixedLenByteArray(let n): dictionary = DictionaryEncoder(numericWidth: 0, fixedLength: n)
            case .boolean: dictionary = nil
            }
        }
        usingDictionary = dictionary != nil
        if let b = config.bloomFilter {
            bloom = SplitBlockBloomFilter(numBytes: SplitBlockBloomFilter.optimalNumBytes(ndv: b.distinctValues, fpp: b.falsePositiveProbability))
        }
    }

    /// Turns this writer, once its chunk was finished and its pages emitted, into the writer of
    /// the column's next chunk (`config` may differ: a column that fell back to PLAIN starts the
    /// next row group without dictionary): every state starts over, but the level, value and
    /// page buffers keep their capacity, so a file's later row groups allocate (and fault in)
    /// no fresh memory for them.
    mutating func startNextChunk(config: ColumnWriterConfig) {
        var next = ColumnChunkWriter(descriptor: descriptor, config: config, compressor: compressor)
        func recycle<T>(_ a: inout [T], _ b: inout [T]) {
            swap(&a, &b)
            a.removeAll(keepingCapacity: true)
        }
        recycle(&next.defs, &defs)
        recycle(&next.reps, &reps)
        recycle(&next.indices, &indices)
        recycle(&next.plain, &plain)
        recycle(&next.bools, &bools)
        recycle(&next.body, &body)
        recycle(&next.levelBytes, &levelBytes)
        recycle(&next.pageBytes, &pageBytes)
        recycle(&next.seenInPage, &seenInPage)
        self = next
    }

    /// Estimated bytes this chunk takes so far (for row-group cutting).
    var estimatedSize: Int {
        pagesSize + plain.count + indices.count * 2 + (dictionary?.encodedSize ?? 0) + bools.count / 8
    }

    /// Appends levels `levelRange` and values `valueRange` of `b` (whole rows).
    mutating func write(_ b: ColumnBuilder, levels levelRange: Range<Int>, values valueRange: Range<Int>) throws {
        var l = levelRange.lowerBound
        var v = valueRange.lowerBound
        let hasDefs = maxDef > 0, hasReps = maxRep > 0
        while l < levelRange.upperBound {
            // Mini-batch: up to 1024 entries, whole rows, within the page row limit.
            let rowQuota = config.pageRowLimit - pageRows
            var end: Int
            var rows: Int
            if !hasReps {
                let n = min(levelRange.upperBound - l, 1024, rowQuota)
                end = l + n
                rows = n
            } else {
                end = l
                rows = 0
                b.repetitionLevels.withUnsafeBufferPointer { r in
                    while end < levelRange.upperBound {
                        if r[end] == 0 {
                            if rows == rowQuota || (end - l >= 1024 && rows > 0) { break }
                            rows += 1
                        }
                        end += 1
                    }
                }
            }
            var present = end - l
            if hasDefs {
                present = 0
                let md = maxDef
                b.definitionLevels.withUnsafeBufferPointer { d in
                    defs.append(contentsOf: d[l..<end])
                    for i in l..<end where d[i] == md { present += 1 }
                }
            }
            if hasReps { reps.append(contentsOf: b.repetitionLevels[l..<end]) }
            let nulls = (end - l) - present
            pageStats.nullCount += Int64(nulls)
            appendValues(b, v..<(v + present))
            pageValues += present
            pageLevels += end - l
            pageRows += rows
            rowCount += rows
            l = end
            v += present

            if usingDictionary { dictionaryValues += present }
            if usingDictionary, let d = dictionary,
               d.encodedSize > config.dictionaryLimit || (dictionaryValues >= 10_000 && d.count * 2 > dictionaryValues) {
                try flushPage()
                usingDictionary = false
            } else if pageRows >= config.pageRowLimit || estimatedPageSize >= config.pageSize {
                try flushPage()
            }
        }
    }

    private var estimatedPageSize: Int {
        var n = plain.count + bools.count / 8 + (defs.count * defWidth + reps.count * repWidth) / 8
        if usingDictionary, let d = dictionary { n += indices.count * max(bitWidth(d.count - 1), 1) / 8 }
        return n
    }

    private mutating func appendValues(_ b: ColumnBuilder, _ r: Range<Int>) {
        if r.isEmpty { return }
        let stats = config.statistics
        switch descriptor.storage {
        case .boolean:
            b.boolValues.withUnsafeBufferPointer { p in
                for i in r {
                    let x = p[i]
                    bools.append(x)
                    if stats { pageStats.update(signed: x ? 1 : 0) }
                }
            }
        case .int32:
            b.int32Values.withUnsafeBufferPointer { p in
                let s = UnsafeBufferPointer(rebasing: p[r])
                if stats {
                    if order == .unsigned {
                        for x in s { pageStats.update(unsigned: UInt64(UInt32(bitPattern: x))) }
                    } else {
                        var lo = s[0], hi = s[0]
                        for x in s { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
                        pageStats.update(signed: Int64(lo)); pageStats.update(signed: Int64(hi))
                    }
                }
                if bloom != nil { for x in s { insertBloom(x) } }
                if usingDictionary {
                    indices.reserveAdditional(s.count)
                    for x in s { indices.append(dictionary!.index(ofNumeric: UInt64(UInt32(bitPattern: x)))) }
                } else {
                    plain.appendRaw(UnsafeRawBufferPointer(s))
                }
            }
        case .int64:
            b.int64Values.withUnsafeBufferPointer { p in
                let s = UnsafeBufferPointer(rebasing: p[r])
                if stats {
                    if order == .unsigned {
                        for x in s { pageStats.update(unsigned: UInt64(bitPattern: x)) }
                    } else {
                        var lo = s[0], hi = s[0]
                        for x in s { lo = Swift.min(lo, x); hi = Swift.max(hi, x) }
                        pageStats.update(signed: lo); pageStats.update(signed: hi)
                    }
                }
                if bloom != nil { for x in s { insertBloom(x) } }
                if usingDictionary {
                    indices.reserveAdditional(s.count)
                    for x in s { indices.append(dictionary!.index(ofNumeric: UInt64(bitPattern: x))) }
                } else {
                    plain.appendRaw(UnsafeRawBufferPointer(s))
                }
            }
        case .float:
            b.floatValues.withUnsafeBufferPointer { p in
                let s = UnsafeBufferPointer(rebasing: p[r])
                if stats { for x in s { pageStats.update(floating: Double(x)) } }
                if bloom != nil { for x in s { insertBloom(x.bitPattern) } }
                if usingDictionary {
                    for x in s { indices.append(dictionary!.index(ofNumeric: UInt64(x.bitPattern))) }
                } else {
                    plain.appendRaw(UnsafeRawBufferPointer(s))
                }
            }
        case .double:
            b.doubleValues.withUnsafeBufferPointer { p in
                let s = UnsafeBufferPointer(rebasing: p[r])
                if stats { for x in s { pageStats.update(floating: x) } }
                if bloom != nil { for x in s { insertBloom(x.bitPattern) } }
                if usingDictionary {
                    for x in s { indices.append(dictionary!.index(ofNumeric: x.bitPattern)) }
                } else {
                    plain.appendRaw(UnsafeRawBufferPointer(s))
                }
            }
        case .byteArray:
            b.bytes.withUnsafeBytes { raw in
                b.offsets.withUnsafeBufferPointer { off in
                    let base = raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!
                    if stats || bloom != nil || usingDictionary {
                        for i in r {
                            let start = off[i], len = off[i + 1] - start
                            let value = UnsafeRawBufferPointer(start: base + start, count: len)
                            if bloom != nil { bloom!.insert(hash: XXHash64.hash(value)) }
                            if usingDictionary {
                                let idx = dictionary!.index(ofBytes: base + start, count: len)
                                indices.append(idx)
                                if stats && firstUseInPage(idx) { pageStats.update(bytes: value, signed: false) }
                            } else if stats {
                                pageStats.update(bytes: value, signed: false)
                            }
                        }
                    }
                    if !usingDictionary && !r.isEmpty {
                        // PLAIN: grow once, then write lengths and bytes through a raw pointer.
                        let total = off[r.upperBound] - off[r.lowerBound] + 4 * r.count
                        plain.reserveAdditional(total)
                        plain.append(addingCapacity: total) { span in
                            span.withUnsafeMutableBufferPointer { buf, initialized in
                                let dst = UnsafeMutableRawPointer(buf.baseAddress!)
                                var o = 0
                                for i in r {
                                    let start = off[i], len = off[i + 1] - start
                                    dst.storeBytes(of: UInt32(truncatingIfNeeded: len).littleEndian, toByteOffset: o, as: UInt32.self)
                                    o += 4
                                    if len > 0 { copyShort(to: dst + o, from: base + start, count: len) }
                                    o += len
                                }
                                initialized = total
                            }
                        }
                    }
                }
            }
        case .fixedLenByteArray(let n):
            b.bytes.withUnsafeBytes { raw in
                let base = raw.baseAddress!
                let signed = order == .signedBytes
                for i in r {
                    let value = UnsafeRawBufferPointer(start: base + i * n, count: n)
                    if bloom != nil { bloom!.insert(hash: XXHash64.hash(value)) }
                    if usingDictionary {
                        let idx = dictionary!.index(ofBytes: base + i * n, count: n)
                        indices.append(idx)
                        if stats && firstUseInPage(idx) { pageStats.update(bytes: value, signed: signed) }
                    } else if stats {
                        pageStats.update(bytes: value, signed: signed)
                    }
                }
                if !usingDictionary {
                    plain.appendRaw(UnsafeRawBufferPointer(rebasing: raw[(r.lowerBound * n)..<(r.upperBound * n)]))
                }
            }
        }
    }

    @inline(__always)
    private mutating func firstUseInPage(_ idx: UInt32) -> Bool {
        let i = Int(idx)
        if i == seenInPage.count {
            seenInPage.append(pageNumber)
            return true
        }
        if seenInPage[i] == pageNumber { return false }
        seenInPage[i] = pageNumber
        return true
    }

    @inline(__always)
    private mutating func insertBloom<T: FixedWidthInteger>(_ x: T) {
        withUnsafeBytes(of: x.littleEndian) { bloom!.insert(hash: XXHash64.hash($0)) }
    }

    private mutating func flushPage() throws {
        if pageLevels == 0 { return }
        let dictEncoded = usingDictionary && (dictionary?.count ?? 0) > 0
        let encoding: Encoding = dictEncoded ? .rleDictionary : .plain
        // Levels.
        levelBytes.removeAll(keepingCapacity: true)
        body.removeAll(keepingCapacity: true)
        let v2 = config.pageVersion == .v2
        var repLength = 0, defLength = 0
        if maxRep > 0 {
            let start = levelBytes.count
            if !v2 { levelBytes.appendLE(UInt32(0)) }
            reps.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: repWidth, into: &levelBytes) }
            repLength = levelBytes.count - start - (v2 ? 0 : 4)
            if !v2 { levelBytes.setLE32(UInt32(repLength), at: start) }
        }
        if maxDef > 0 {
            let start = levelBytes.count
            if !v2 { levelBytes.appendLE(UInt32(0)) }
            defs.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: defWidth, into: &levelBytes) }
            defLength = levelBytes.count - start - (v2 ? 0 : 4)
            if !v2 { levelBytes.setLE32(UInt32(defLength), at: start) }
        }
        // Values.
        if dictEncoded {
            let w = max(bitWidth(dictionary!.count - 1), 1)
            body.append(UInt8(w))
            indices.withUnsafeBufferPointer { RLEEncoder.encode($0, bitWidth: w, into: &body) }
        } else if descriptor.storage == .boolean {
            packBools(into: &body)
        } else {
            swap(&body, &plain)
        }

        var st: Statistics?
        var encodedMinMax: (min: [UInt8], max: [UInt8], exact: Bool)?
        if config.statistics {
            encodedMinMax = pageStats.encoded(storage: descriptor.storage, order: order,
                                              truncate: config.truncateLength, isUTF8: isUTF8)
            st = Statistics(nullCount: pageStats.nullCount, maxValue: encodedMinMax?.max, minValue: encodedMinMax?.min)
        }
        let nulls = Int32(pageLevels - pageValues)
        let header: PageHeader
        let pageStart = pagesSize
        var headerWriter = ThriftCompactWriter(capacity: 128)
        if v2 {
            let uncompressed = levelBytes.count + body.count
            var compressed = levelBytes
            let shouldCompress = config.compression != .uncompressed
            let n = try body.withUnsafeBytes { try compressor.compress($0, appendingTo: &compressed) }
            header = PageHeader(
                type: .dataPageV2, uncompressedPageSize: Int32(uncompressed),
                compressedPageSize: Int32(levelBytes.count + n),
                dataPageHeaderV2: DataPageHeaderV2(
                    numValues: Int32(pageLevels), numNulls: nulls, numRows: Int32(pageRows), encoding: encoding,
                    definitionLevelsByteLength: Int32(defLength), repetitionLevelsByteLength: Int32(repLength),
                    isCompressed: shouldCompress, statistics: st))
            header.encode(into: &headerWriter)
            pageBytes.reserveAdditional(headerWriter.bytes.count + compressed.count)
            pageBytes.append(contentsOf: headerWriter.bytes)
            pageBytes.append(contentsOf: compressed)
            uncompressedTotal += Int64(headerWriter.bytes.count + uncompressed)
        } else {
            // Without levels the values are the whole page: no copy behind the levels.
            if levelBytes.isEmpty { swap(&levelBytes, &body) } else { levelBytes.append(contentsOf: body) }
            let uncompressed = levelBytes.count
            // The header needs the compressed size: compress into `body` (reused scratch) first.
            body.removeAll(keepingCapacity: true)
            let n = try levelBytes.withUnsafeBytes { try compressor.compress($0, appendingTo: &body) }
            header = PageHeader(
                type: .dataPage, uncompressedPageSize: Int32(uncompressed), compressedPageSize: Int32(n),
                dataPageHeader: DataPageHeader(numValues: Int32(pageLevels), encoding: encoding, statistics: st))
            header.encode(into: &headerWriter)
            pageBytes.reserveAdditional(headerWriter.bytes.count + n)
            pageBytes.append(contentsOf: headerWriter.bytes)
            pageBytes.append(contentsOf: body)
            uncompressedTotal += Int64(headerWriter.bytes.count + uncompressed)
        }
        if dictEncoded { dictionaryPagesUsed += 1 } else { plainPages += 1 }
        locations.append(PageLocation(offset: Int64(pageStart), compressedPageSize: Int32(pagesSize - pageStart),
                                      firstRowIndex: chunkRows))
        nullPages.append(pageValues == 0)
        pageMins.append(encodedMinMax?.min ?? [])
        pageMaxs.append(encodedMinMax?.max ?? [])
        pageNullCounts.append(pageStats.nullCount)
        chunkStats.merge(pageStats, order: order)
        chunkRows += Int64(pageRows)
        chunkLevels += Int64(pageLevels)

        defs.removeAll(keepingCapacity: true)
        reps.removeAll(keepingCapacity: true)
        indices.removeAll(keepingCapacity: true)
        plain.removeAll(keepingCapacity: true)
        bools.removeAll(keepingCapacity: true)
        pageStats.reset()
        pageNumber &+= 1
        pageValues = 0
        pageLevels = 0
        pageRows = 0
    }

    /// Ascending or descending when the non-null pages' minima and maxima both are,
    /// so readers can binary-search the column index (sorted keys, timestamps).
    private func boundaryOrder() -> BoundaryOrder {
        var ascending = true, descending = true
        var previous: Int?
        for i in nullPages.indices where !nullPages[i] {
            if let p = previous {
                let a = compareEncoded(pageMins[p], pageMins[i]), b = compareEncoded(pageMaxs[p], pageMaxs[i])
                if a > 0 || b > 0 { ascending = false }
                if a < 0 || b < 0 { descending = false }
                if !ascending && !descending { return .unordered }
            }
            previous = i
        }
        if previous == nil { return .unordered }
        return ascending ? .ascending : (descending ? .descending : .unordered)
    }

    /// Compares two PLAIN-encoded statistics values of this column in its type's order.
    private func compareEncoded(_ x: [UInt8], _ y: [UInt8]) -> Int {
        func le<T: FixedWidthInteger>(_ b: [UInt8], _: T.Type) -> T {
            b.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(as: T.self)) }
        }
        func cmp<T: Comparable>(_ a: T, _ b: T) -> Int { a < b ? -1 : (a > b ? 1 : 0) }
        switch descriptor.storage {
        case .boolean: return cmp(x[0], y[0])
        case .int32:
            return order == .unsigned ? cmp(le(x, UInt32.self), le(y, UInt32.self)) : cmp(le(x, Int32.self), le(y, Int32.self))
        case .int64:
            return order == .unsigned ? cmp(le(x, UInt64.self), le(y, UInt64.self)) : cmp(le(x, Int64.self), le(y, Int64.self))
        case .float: return cmp(Float(bitPattern: le(x, UInt32.self)), Float(bitPattern: le(y, UInt32.self)))
        case .double: return cmp(Double(bitPattern: le(x, UInt64.self)), Double(bitPattern: le(y, UInt64.self)))
        case .byteArray, .fixedLenByteArray:
            return x.withUnsafeBytes { a in
                y.withUnsafeBytes { b in StatisticsAccumulator.compare(a, b, signed: order == .signedBytes) }
            }
        }
    }

    private func packBools(into out: inout [UInt8]) {
        var byte: UInt8 = 0
        var bit: UInt8 = 0
        out.reserveAdditional(bools.count / 8 + 1)
        for x in bools {
            if x { byte |= 1 << bit }
            bit += 1
            if bit == 8 { out.append(byte); byte = 0; bit = 0 }
        }
        if bit > 0 { out.append(byte) }
    }

    /// Flushes the last page and returns the chunk (dictionary page first).
    mutating func finish() throws -> FinishedChunk {
        try flushPage()
        var out: [UInt8] = []
        var dictLength = 0
        var encodings: [Encoding] = []
        var encodingStats: [PageEncodingStats] = []
        if dictionaryPagesUsed > 0, let d = dictionary {
            var plainDict: [UInt8] = []
            d.encodePlain(into: &plainDict)
            var compressed: [UInt8] = []
            let n = try plainDict.withUnsafeBytes { try compressor.compress($0, appendingTo: &compressed) }
            let header = PageHeader(type: .dictionaryPage, uncompressedPageSize: Int32(plainDict.count),
                                    compressedPageSize: Int32(n),
                                    dictionaryPageHeader: DictionaryPageHeader(numValues: Int32(d.count), encoding: .plain))
            var w = ThriftCompactWriter(capacity: 64)
            header.encode(into: &w)
            out.reserveCapacity(w.bytes.count + n)
            out.append(contentsOf: w.bytes)
            out.append(contentsOf: compressed)
            dictLength = out.count
            uncompressedTotal += Int64(w.bytes.count + plainDict.count)
            encodingStats.append(PageEncodingStats(pageType: .dictionaryPage, encoding: .plain, count: 1))
            encodings.append(.plain)
            encodings.append(.rleDictionary)
        }
        if maxDef > 0 || maxRep > 0 { encodings.append(.rle) }
        if plainPages > 0 && !encodings.contains(.plain) { encodings.append(.plain) }
        if encodings.isEmpty { encodings.append(.plain) }
        if dictionaryPagesUsed > 0 {
            encodingStats.append(PageEncodingStats(pageType: config.pageVersion == .v2 ? .dataPageV2 : .dataPage,
                                                   encoding: .rleDictionary, count: Int32(dictionaryPagesUsed)))
        }
        if plainPages > 0 {
            encodingStats.append(PageEncodingStats(pageType: config.pageVersion == .v2 ? .dataPageV2 : .dataPage,
                                                   encoding: .plain, count: Int32(plainPages)))
        }

        var statistics: Statistics?
        if config.statistics {
            let mm = chunkStats.encoded(storage: descriptor.storage, order: order,
                                        truncate: config.truncateLength, isUTF8: isUTF8)
            statistics = Statistics(nullCount: chunkStats.nullCount, maxValue: mm?.max, minValue: mm?.min,
                                    isMaxValueExact: mm.map { $0.exact }, isMinValueExact: mm.map { $0.exact })
        }
        let meta = ColumnMetaData(
            type: physicalType, encodings: encodings, pathInSchema: descriptor.path, codec: config.compression.codec,
            numValues: chunkLevels, totalUncompressedSize: uncompressedTotal,
            totalCompressedSize: Int64(out.count + pagesSize),
            dataPageOffset: Int64(dictLength), dictionaryPageOffset: dictLength > 0 ? 0 : nil,
            statistics: statistics, encodingStats: encodingStats)
        var columnIndex: ColumnIndex?
        if config.statistics && config.pageIndex {
            columnIndex = ColumnIndex(nullPages: nullPages, minValues: pageMins, maxValues: pageMaxs,
                                      boundaryOrder: boundaryOrder(), nullCounts: pageNullCounts)
        }
        let locs = locations.map {
            PageLocation(offset: $0.offset + Int64(dictLength), compressedPageSize: $0.compressedPageSize,
                         firstRowIndex: $0.firstRowIndex)
        }
        return FinishedChunk(dictionaryPage: out, byteCount: out.count + pagesSize, metaData: meta, dictionaryPageLength: dictLength, columnIndex: columnIndex,
                             offsetIndex: OffsetIndex(pageLocations: locs), bloomFilter: bloom)
    }
}

extension ColumnStorage {
    var physicalType: PhysicalType {
        switch self {
        case .boolean: .boolean
        case .int32: .int32
        case .int64: .int64
        case .float: .float
        case .double: .double
        case .byteArray: .byteArray
        case .fixedLenByteArray: .fixedLenByteArray
        }
    }
}
