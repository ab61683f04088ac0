/// Frames a `COPY … TO STDOUT (FORMAT binary)` stream into tuples of raw field bytes, for
/// callers that convert the values themselves (the backfill's entity mode reads every column
/// as text and converts it by the worker's decoding rules).
///
/// Like ``CopyBinaryDecoder`` it treats the CopyData buffers as one byte stream (the header and
/// a tuple may share a buffer, a tuple may span buffers: only then are its bytes kept in a
/// carry-over buffer), bounds-checks every length from the wire, and throws a `protocol`
/// ``PostgresError`` with the byte offset on malformed input; it never traps.
package struct CopyTupleReader {
    /// Fields every tuple must have.
    package let columns: Int
    /// Largest tuple accepted (a guard against a corrupt length asking for gigabytes of carry).
    package let maxTupleBytes: Int
    private var state: State = .header
    private var carry: [UInt8] = []
    /// Bytes needed in `carry` before parsing again is worth it.
    private var carryNeed = 0
    private var offset = 0
    /// Per field of the current tuple: start offset within the tuple's buffer, or -1 for NULL; and length.
    private var starts: [Int]
    private var lengths: [Int]
    package private(set) var rows = 0
    package var isComplete: Bool { state == .done }
    /// Bytes of the stream parsed so far.
    package var bytesConsumed: Int { offset }

    private enum State { case header, tuples, done }

    package init(columns: Int, maxTupleBytes: Int = 1 << 30) {
        self.columns = columns
        self.maxTupleBytes = maxTupleBytes
        starts = Array(repeating: -1, count: columns)
        lengths = Array(repeating: 0, count: columns)
    }

    /// One tuple: field `i`'s bytes, or nil for NULL. Valid only inside the callback.
    package struct Tuple {
        let base: UnsafeRawPointer
        let starts: UnsafeBufferPointer<Int>
        let lengths: UnsafeBufferPointer<Int>
        package var count: Int { starts.count }
        package func field(_ i: Int) -> UnsafeRawBufferPointer? {
            let s = starts[i]
            guard s >= 0 else { return nil }
            return UnsafeRawBufferPointer(start: base + s, count: lengths[i])
        }
    }

    /// Parses `buffer` (the next bytes of the stream) and calls `body` with every complete tuple.
    package mutating func feed(_ buffer: UnsafeRawBufferPointer, _ body: (Tuple) throws -> Void) throws {
        guard buffer.count > 0 else { return }
        if carry.isEmpty {
            let used = try parse(buffer, body)
            if used < buffer.count {
                carry.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[used...]))
            }
            return
        }
        carry.append(contentsOf: buffer)
        guard carry.count >= carryNeed else { return }
        var local: [UInt8] = []
        swap(&local, &carry)
        defer { swap(&local, &carry) }
        let used = try local.withUnsafeBytes { try parse($0, body) }
        local.removeFirst(used)
    }

    /// Checks that the stream ended with its end marker and nothing left over.
    package func finish() throws(PostgresError) {
        guard state == .done else {
            throw PostgresError.malformed(carry.isEmpty ? "the stream ended before its end marker"
                                                        : "the stream ended inside a row (\(carry.count) bytes left)",
                                          at: offset + carry.count)
        }
    }

    private static let signature: [UInt8] = [0x50, 0x47, 0x43, 0x4F, 0x50, 0x59, 0x0A, 0xFF, 0x0D, 0x0A, 0x00]

    /// Parses whole units from `b`; returns the bytes consumed and sets `carryNeed` when a unit is cut.
    private mutating func parse(_ b: UnsafeRawBufferPointer, _ body: (Tuple) throws -> Void) throws -> Int {
        guard let base = b.baseAddress else { return 0 }
        let count = b.count
        var pos = 0
        if state == .header {
            guard count >= 19 else { carryNeed = 19; return 0 }
            for i in 0..<11 where b[i] != Self.signature[i] {
                throw PostgresError.malformed("not a COPY BINARY stream (bad signature)", at: offset + i)
            }
            let flags = UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 11, as: UInt32.self))
            if flags & 0xFFFF_0000 != 0 {
                throw PostgresError.malformed("unsupported header flags 0x\(String(flags, radix: 16))", at: offset + 11)
            }
            let ext = Int(Int32(bigEndian: base.loadUnaligned(fromByteOffset: 15, as: Int32.self)))
            guard ext >= 0, ext <= maxTupleBytes else {
                throw PostgresError.malformed("invalid header extension length \(ext)", at: offset + 15)
            }
            guard count - 19 >= ext else { carryNeed = 19 + ext; return 0 }
            pos = 19 + ext
            offset += pos
            state = .tuples
        }
        while pos < count {
            if state == .done { throw PostgresError.malformed("data after the end marker", at: offset) }
            guard count - pos >= 2 else { carryNeed = 2; break }
            let n = Int(Int16(bigEndian: base.loadUnaligned(fromByteOffset: pos, as: Int16.self)))
            if n == -1 {
                pos += 2
                offset += 2
                state = .done
                continue
            }
            guard n == columns else {
                throw PostgresError.malformed("tuple has \(n) fields, expected \(columns)", at: offset)
            }
            var p = pos + 2
            var complete = true
            for i in 0..<columns {
                guard count - p >= 4 else { complete = false; carryNeed = p - pos + 4; break }
                let len = Int(Int32(bigEndian: base.loadUnaligned(fromByteOffset: p, as: Int32.self)))
                p += 4
                if len == -1 {
                    starts[i] = -1
                    lengths[i] = 0
                    continue
                }
                guard len >= 0 else {
                    throw PostgresError.malformed("negative field length \(len)", at: offset + (p - pos) - 4)
                }
                guard len <= maxTupleBytes - (p - pos) else {
                    throw PostgresError.malformed("field length \(len) exceeds the \(maxTupleBytes)-byte tuple limit",
                                                  at: offset + (p - pos) - 4)
                }
                guard count - p >= len else { complete = false; carryNeed = p - pos + len; break }
                starts[i] = p
                lengths[i] = len
                p += len
            }
            guard complete else { break }
            try starts.withUnsafeBufferPointer { s in
                try lengths.withUnsafeBufferPointer { l in
                    try body(Tuple(base: UnsafeRawPointer(base), starts: s, lengths: l))
                }
            }
            rows += 1
            offset += p - pos
            pos = p
        }
        if pos == count { carryNeed = 0 }
        return pos
    }
}
