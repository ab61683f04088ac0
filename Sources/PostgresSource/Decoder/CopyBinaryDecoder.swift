import Parquet

/// Parses a `COPY … TO STDOUT (FORMAT binary)` stream straight into a ``RowBatch``.
///
/// Feed it the CopyData buffers as they come (``decode(_:into:onRowError:)``), in order; it
/// treats them as one byte stream: the header and the first tuple may share a buffer, and a
/// tuple may span buffers (then, and only then, its bytes are kept in a small carry-over
/// buffer until the rest arrives). Values go from the wire bytes to the column builders:
/// no text parsing, no allocation per value.
///
/// Two kinds of failure:
/// - A value the schema cannot hold (NaN in a decimal column, a number over the precision,
///   a timestamp beyond Int64 µs, a multi-dimensional array, invalid UTF-8) rejects its row:
///   the row is taken back out of the batch whole and reported to `onRowError` as a
///   ``CopyRowError``; decoding goes on.
/// - A malformed stream (truncated, negative lengths other than -1, a field count or oid that
///   disagrees with the catalog, more than 6 array dimensions, trailing bytes) throws a
///   ``PostgresError`` of kind `protocol` with the byte offset. The batch then holds only
///   the complete rows before it. Every length read from the wire is bounds-checked.
///
/// Cut row groups in the caller: after each buffer, check `batch.rowCount` (and now and
/// then `batch.byteCount`) and hand the batch to a `ParquetWriter` when it passes a limit;
/// the decoder only appends whole rows, so a batch is always writable between calls.
package struct CopyBinaryDecoder {
    private let plan: DecodePlan
    private let storage: DecodePlanStorage
    private let columnNames: [String]
    private let leafPaths: [String]
    private let keyColumn: Int?
    private let trustsUTF8: Bool
    private var state: State = .header
    private var carry: [UInt8] = []
    /// Carry-over bytes needed before parsing is worth retrying.
    private var carryNeed = 0
    /// Stream offset of the first byte not yet consumed.
    private var offset = 0
    private var scratch: [UInt8] = []
    /// Field positions of a columnar pass; nil: row by row only. Copies of the decoder share
    /// it: decode with one copy at a time.
    private let rowIndex: RowIndex?

    /// Rows appended to batches so far.
    package private(set) var rowsDecoded = 0
    /// Rows left out and reported to `onRowError`.
    package private(set) var rowsRejected = 0
    /// True once the end marker (field count -1) was read.
    package var isComplete: Bool { state == .done }
    /// Bytes of the stream parsed so far.
    package var bytesConsumed: Int { offset }

    private enum State { case header, tuples, done }

    /// Whole rows a buffer needs to be decoded a column at a time (two passes); fewer go row by row.
    package static let columnarMinRows = 16

    /// A decoder for rows of `mapping` (build batches with `RowBatch(mapping.schema)`); rows
    /// rejected report the value of `keyColumn` (a top-level column name) when given.
    /// `textIsValidUTF8`: the stream's text and json values were checked by the server
    /// (``PGConnection/deliversValidUTF8``), so they are not validated again; bytes of other
    /// sources must be checked (the default).
    /// `columnarFrom`: runs of at least that many whole rows in a buffer are decoded a column at
    /// a time (``Walker/runColumnar(from:roots:ncols:index:)``); nil decodes row by row only
    /// (the same batches: tests compare the two).
    package init(mapping: SourceMapping, keyColumn: String? = nil, textIsValidUTF8: Bool = false,
                 columnarFrom: Int? = CopyBinaryDecoder.columnarMinRows) throws(PostgresError) {
        trustsUTF8 = textIsValidUTF8
        plan = try DecodePlan(mapping)
        storage = DecodePlanStorage(plan)
        columnNames = mapping.columns.map(\.column.name)
        leafPaths = mapping.schema.columns.map(\.dottedPath)
        if let keyColumn {
            guard let k = columnNames.firstIndex(of: keyColumn) else {
                throw PostgresError(.unsupported, step: "plan", message: "key column \(keyColumn) is not among the columns read")
            }
            self.keyColumn = k
        } else {
            self.keyColumn = nil
        }
        scratch.reserveCapacity(64)
        let ncols = plan.roots.count
        rowIndex = columnarFrom.map { RowIndex(columns: ncols, minRows: $0) }
    }

    /// Parses `buffer` (the next bytes of the stream), appending every complete row to `batch`.
    /// Returns the number of rows appended.
    @discardableResult
    package mutating func decode(_ buffer: UnsafeRawBufferPointer, into batch: inout RowBatch,
                                 onRowError: (CopyRowError) -> Void) throws(PostgresError) -> Int {
        guard buffer.count > 0 else { return 0 }
        let before = rowsDecoded
        if carry.isEmpty {
            let used = try parse(buffer, into: &batch, onRowError: onRowError)
            if used < buffer.count {
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[used...]))
            }
        } else {
            carry.append(contentsOf: buffer)
            if carry.count >= carryNeed {
                var local: [UInt8] = []
                swap(&local, &carry)
                let result = local.withUnsafeBytes { b in
                    Result { () throws(PostgresError) -> Int in try parse(b, into: &batch, onRowError: onRowError) }
                }
                let used: Int
                switch result {
                case .success(let u): used = u
                case .failure(let e):
                    swap(&local, &carry)
                    throw e
                }
                local.removeFirst(used)
                swap(&local, &carry)
            }
        }
        return rowsDecoded - before
    }

    /// Checks that the stream ended properly: the end marker was read and nothing is left over.
    package func finish() throws(PostgresError) {
        if state != .done {
            throw PostgresError.malformed(
                carry.isEmpty ? "the stream ended before its end marker"
                              : "the stream ended inside a row (\(carry.count) bytes left)", at: offset + carry.count)
        }
    }

    // MARK: - Stream

    private static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]

    /// Parses whole units (header, tuples) from `b`; returns the bytes consumed, sets `carryNeed`.
    private mutating func parse(_ b: UnsafeRawBufferPointer, into batch: inout RowBatch,
                                onRowError: (CopyRowError) -> Void) throws(PostgresError) -> Int {
        let base = b.baseAddress!
        let count = b.count
        var pos = 0
        if state == .header {
            guard count >= 19 else { carryNeed = 19; return 0 }
            for i in 0..<11 where base.load(fromByteOffset: i, as: UInt8.self) != Self.signature[i] {
                throw PostgresError.malformed("not a COPY BINARY stream (bad signature)", at: offset + i)
            }
            let flags = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 11, as: UInt32.self))
            if flags & 0xFFFF_0000 != 0 {
                throw PostgresError.malformed("unsupported header flags 0x\(String(flags, radix: 16)) (OIDs or critical bits)",
                                              at: offset + 11)
            }
            let ext = Int(Int32(bigEndian: base.loadUnaligned(fromByteOffset: 15, as: Int32.self)))
            guard ext >= 0 else { throw PostgresError.malformed("negative header extension length", at: offset + 15) }
            guard count - 19 >= ext else { carryNeed = 19 + ext; return 0 }
            pos = 19 + ext
            offset += pos
            state = .tuples
        }
        if state == .done {
            if pos < count { throw PostgresError.malformed("data after the end marker", at: offset) }
            return count
        }
        let plan = self.plan
        let storage = self.storage
        let ncols = plan.roots.count
        while true {
            // `offset` is the stream offset of b[pos].
            let regionOffset = offset - pos
            let from = pos
            var w = Walker(base: base, count: count, streamOffset: regionOffset, nodes: UnsafeBufferPointer(storage.nodes),
                           kids: UnsafeBufferPointer(storage.kids), cols: UnsafeMutableBufferPointer(start: nil, count: 0),
                           trustsUTF8: trustsUTF8, scratch: [])
            swap(&w.scratch, &self.scratch)
            let outcome = batch.columns.withUnsafeMutableBufferPointer { cols in
                w.cols = cols
                let roots = UnsafeBufferPointer(storage.roots)
                if let rowIndex { return w.runColumnar(from: from, roots: roots, ncols: ncols, index: rowIndex) }
                return w.run(from: from, roots: roots, ncols: ncols)
            }
            swap(&w.scratch, &self.scratch)
            switch outcome {
            case .rows(let p, let appended):
                rowsDecoded += appended
                offset += p - pos
                return p
            case .end(let p, let appended):
                rowsDecoded += appended
                offset += p - pos
                state = .done
                if p < count { throw PostgresError.malformed("data after the end marker", at: offset) }
                return count
            case .needMore(let p, let appended, let need):
                rowsDecoded += appended
                offset += p - pos
                carryNeed = need
                return p
            case .fault(let p, let appended, let rowEnd, let fault):
                rowsDecoded += appended
                let keyText = keyColumn.flatMap { k in Self.keyText(b, rowStart: p, column: k, plan: plan) }
                let name = fault.column >= 0 && fault.column < columnNames.count ? columnNames[fault.column] : "?"
                var reason = fault.reason
                if fault.leaf >= 0 && fault.leaf < leafPaths.count && leafPaths[fault.leaf] != name {
                    reason += " (in \(leafPaths[fault.leaf]))"
                }
                onRowError(CopyRowError(row: rowsDecoded + rowsRejected, column: name, reason: reason, key: keyText))
                rowsRejected += 1
                offset += rowEnd - pos
                pos = rowEnd
            case .failure(let e, let appended):
                rowsDecoded += appended
                throw e
            }
        }
    }

    /// The key column's value in the row at `rowStart` as text (only on the rare error path).
    private static func keyText(_ b: UnsafeRawBufferPointer, rowStart: Int, column: Int, plan: DecodePlan) -> String? {
        var p = rowStart + 2
        for i in 0...column {
            guard b.count - p >= 4 else { return nil }
            let len = Int(Int32(bigEndian: b.loadUnaligned(fromByteOffset: p, as: Int32.self)))
            p += 4
            if len < 0 { if i == column { return nil }; continue }
            guard b.count - p >= len else { return nil }
            if i == column {
                let v = UnsafeRawBufferPointer(rebasing: b[p..<(p + len)])
                return formatKey(v, kind: plan.nodes[Int(plan.roots[column])].kind)
            }
            p += len
        }
        return nil
    }

    static func formatKey(_ v: UnsafeRawBufferPointer, kind: DecodeNode.Kind) -> String {
        func be<T: FixedWidthInteger>(_: T.Type) -> T? {
            v.count == MemoryLayout<T>.size ? T(bigEndian: v.loadUnaligned(as: T.self)) : nil
        }
        switch kind {
        case .int2: return be(Int16.self).map { String($0) } ?? "?"
        case .int4: return be(Int32.self).map { String($0) } ?? "?"
        case .int8: return be(Int64.self).map { String($0) } ?? "?"
        case .oid: return be(UInt32.self).map { String($0) } ?? "?"
        case .bytes: return String(decoding: v.prefix(200), as: UTF8.self)
        case .uuid:
            let hex = v.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }
            guard hex.count == 16 else { return "?" }
            return [0..<4, 4..<6, 6..<8, 8..<10, 10..<16].map { hex[$0].joined() }.joined(separator: "-")
        default: return "\\x" + v.prefix(64).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}

/// Why a row was refused (kept small: the reason text is made only when it is reported).
struct RowFault {
    var column: Int = -1
    var leaf: Int = -1
    var reason: String = ""
}

enum Outcome {
    /// Every byte up to the position was parsed into rows (the data ended at a row boundary).
    case rows(Int, Int)
    /// The end marker was read (position after it).
    case end(Int, Int)
    /// A row starting at the position is incomplete: retry with at least `need` bytes from there.
    case needMore(Int, Int, need: Int)
    /// The row starting at the position was refused and taken back; it ends at `rowEnd`.
    case fault(Int, Int, rowEnd: Int, RowFault)
    /// Malformed input; rows appended before it stay, the partial row was taken back.
    case failure(PostgresError, Int)
}
