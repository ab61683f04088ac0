import CHiredis

/// A reply as flat tokens, depth first, with every string's bytes in one buffer (see
/// `lw_flat` in the CHiredis shim): what stream reads are parsed into, so that a reply of a
/// thousand entries does not cost hiredis thousands of allocations and frees.
///
/// Owned by one thread (a reader or command thread); the buffers are reused reply after reply.
final class FlatReply {
    let storage: UnsafeMutablePointer<lw_flat>

    init() {
        storage = .allocate(capacity: 1)
        storage.initialize(to: lw_flat())
    }

    deinit {
        lw_flat_release(storage)
        storage.deallocate()
    }

    /// Tokens of the last reply.
    var count: Int { storage.pointee.count }

    subscript(i: Int) -> lw_flat_token { storage.pointee.tokens[i] }

    static func isString(_ t: lw_flat_token) -> Bool {
        t.type == REDIS_REPLY_STRING || t.type == REDIS_REPLY_STATUS
    }

    /// A string token's bytes (valid until the next reply is read into this object).
    func bytes(_ t: lw_flat_token) -> UnsafeRawBufferPointer {
        span(Int(t.value)..<(Int(t.value) + Int(t.length)))
    }

    /// Bytes `range` of the reply's string buffer (strings are stored in reply order, so the
    /// strings of one section are one span).
    func span(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        guard !range.isEmpty, let base = storage.pointee.bytes else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: base + range.lowerBound, count: range.count)
    }

    func text(_ t: lw_flat_token) -> String { String(decoding: bytes(t), as: UTF8.self) }

    /// Replaces the content with `reply`'s tree, flattened (for replies read as objects, like
    /// XAUTOCLAIM's on the command connection; not a hot path).
    func load(_ reply: Reply) {
        storage.pointee.count = 0
        storage.pointee.length = 0
        append(reply)
    }

    private func append(_ r: Reply) {
        let ok: Int32
        switch r.type {
        case REDIS_REPLY_ARRAY:
            ok = lw_flat_push(storage, REDIS_REPLY_ARRAY, Int64(r.count), nil, 0)
            for i in 0..<r.count { append(r[i]) }
        case REDIS_REPLY_INTEGER:
            ok = lw_flat_push(storage, REDIS_REPLY_INTEGER, r.integer, nil, 0)
        case REDIS_REPLY_NIL:
            ok = lw_flat_push(storage, REDIS_REPLY_NIL, 0, nil, 0)
        default:
            // A zero-length string still needs a non-null pointer to count as a string token.
            let b = r.bytes
            ok = withUnsafeBytes(of: 0) { empty in
                lw_flat_push(storage, r.type, 0, (b.baseAddress ?? empty.baseAddress!).assumingMemoryBound(to: CChar.self), b.count)
            }
        }
        precondition(ok != 0, "out of memory flattening a reply")
    }
}
