/// Joins Parquet files of one schema into one, row group by row group, without decoding: the
/// column chunks are copied byte for byte and a new footer points at them (what compaction does).
/// Page indexes and bloom filters of the sources are not carried over (their offsets would need
/// the same rewriting; readers do without them).
public enum ParquetConcatenation {
    /// The joined file; every source must have exactly the first one's schema.
    /// - Parameter keyValueMetadata: added to (or replacing in) the first file's footer metadata.
    public static func join(_ files: [[UInt8]], keyValueMetadata: [String: String] = [:]) throws -> [UInt8] {
        guard let firstBytes = files.first else { throw ParquetError(.invalidSchema, message: "nothing to join") }
        let first = try ParquetMetadataReader.read(bytes: firstBytes)
        var out: [UInt8] = Array("PAR1".utf8)
        var groups: [RowGroup] = []
        var rows: Int64 = 0
        for (i, bytes) in files.enumerated() {
            let meta = i == 0 ? first : try ParquetMetadataReader.read(bytes: bytes)
            guard meta.schema == first.schema else {
                throw ParquetError(.invalidSchema, message: "file \(i + 1) has another schema than the first")
            }
            for rg in meta.rowGroups {
                var start = Int64.max, end: Int64 = 0
                for c in rg.columns {
                    guard let m = c.metaData else { throw ParquetError(.invalidSchema, message: "a column chunk without metadata") }
                    let s = m.dictionaryPageOffset.map { min($0, m.dataPageOffset) } ?? m.dataPageOffset
                    // Offsets come from the file: a negative or overflowing one is an error, not a trap.
                    let (e, overflow) = s.addingReportingOverflow(m.totalCompressedSize)
                    guard s >= 0, m.totalCompressedSize >= 0, !overflow else {
                        throw ParquetError(.invalidSchema, message: "file \(i + 1): a column chunk with offset \(s) and size \(m.totalCompressedSize)")
                    }
                    start = min(start, s)
                    end = max(end, e)
                }
                guard start >= 4, start <= end, end <= Int64(bytes.count) else {
                    throw ParquetError(.invalidSchema, message: "file \(i + 1): column chunks outside the file")
                }
                let shift = Int64(out.count) - start
                out += bytes[Int(start)..<Int(end)]
                var moved = rg
                moved.columns = rg.columns.map { c in
                    var c = c
                    c.fileOffset = c.fileOffset == 0 ? 0 : c.fileOffset + shift
                    c.offsetIndexOffset = nil; c.offsetIndexLength = nil
                    c.columnIndexOffset = nil; c.columnIndexLength = nil
                    if var m = c.metaData {
                        m.dataPageOffset += shift
                        m.dictionaryPageOffset = m.dictionaryPageOffset.map { $0 + shift }
                        m.indexPageOffset = nil
                        m.bloomFilterOffset = nil; m.bloomFilterLength = nil
                        c.metaData = m
                    }
                    return c
                }
                moved.fileOffset = start + shift
                moved.ordinal = Int16(clamping: groups.count)
                groups.append(moved)
                rows += rg.numRows
            }
        }
        var kv = first.keyValueMetadata ?? []
        for (k, v) in keyValueMetadata.sorted(by: { $0.key < $1.key }) {
            kv.removeAll { $0.key == k }
            kv.append(KeyValue(key: k, value: v))
        }
        var meta = first
        meta.numRows = rows
        meta.rowGroups = groups
        meta.keyValueMetadata = kv.isEmpty ? nil : kv
        var w = ThriftCompactWriter(capacity: 4096)
        meta.encode(into: &w)
        out += w.bytes
        out.appendLE(UInt32(w.bytes.count))
        out += Array("PAR1".utf8)
        return out
    }
}
