import CHiredis

/// One stream's part of a reply, copied out of the flat reply.
struct DecodedStream {
    var batch: StreamBatch
    /// Entries in the reply before `skipThrough` filtering (0 means the pending list is exhausted).
    var replyCount: Int
    /// The last id in the reply, filtered or not.
    var lastID: StreamID?
}

extension StreamBatch {
    /// Decodes an array of `[id, [field, value, ...] | nil]` (XREADGROUP, XRANGE, XAUTOCLAIM
    /// entries) starting at token `i` of `reply`, and leaves `i` after it. The section's strings
    /// are contiguous in the flat reply's buffer, so the batch's bytes are one copy of that span.
    /// Entries with an id ≤ `skipThrough` are left out (already delivered by this process).
    static func decode(entries reply: FlatReply, at i: inout Int, stream: String, source: Source,
                       skipThrough: StreamID?, operation: String) throws(RedisError) -> DecodedStream {
        func bad(_ why: String) -> RedisError {
            RedisError(.unexpectedReply, operation: operation, stream: stream, message: why)
        }
        let empty = DecodedStream(batch: StreamBatch(stream: stream, source: source, bytes: [], entries: [], fields: []),
                                  replyCount: 0, lastID: nil)
        guard i < reply.count else { throw bad("the reply ends before the entry list") }
        let list = reply[i]
        i += 1
        if list.type == REDIS_REPLY_NIL { return empty }
        guard list.type == REDIS_REPLY_ARRAY else { throw bad("entry list is not an array") }
        let n = Int(list.value)
        if n == 0 { return empty }
        var entries: [Entry] = []
        entries.reserveCapacity(n)
        var fields: [Field] = []
        fields.reserveCapacity(n * 4)
        var lastID: StreamID?
        var first = 0, end = 0  // the byte span of the section's strings
        @inline(__always) func range(_ t: lw_flat_token) -> Range<Int> {
            let lo = Int(t.value) - first
            return lo..<(lo + Int(t.length))
        }
        let count = reply.count
        for k in 0..<n {
            guard i + 2 < count, reply[i].type == REDIS_REPLY_ARRAY, reply[i].value == 2, FlatReply.isString(reply[i + 1])
            else { throw bad("entry \(k) is not [id, fields]") }
            let idToken = reply[i + 1]
            let f = reply[i + 2]
            i += 3
            if k == 0 { first = Int(idToken.value) }
            guard let id = StreamID(bytes: reply.bytes(idToken)) else {
                throw bad("malformed entry id '\(reply.text(idToken))'")
            }
            lastID = id
            end = Int(idToken.value) + Int(idToken.length)
            let start = fields.count
            if f.type == REDIS_REPLY_ARRAY {
                let m = Int(f.value)
                guard m % 2 == 0 else { throw bad("entry \(reply.text(idToken)) has an odd field list") }
                guard i + m <= count else { throw bad("the reply ends inside entry \(reply.text(idToken))") }
                var j = i
                while j < i + m {
                    let name = reply[j], value = reply[j + 1]
                    guard FlatReply.isString(name), FlatReply.isString(value) else {
                        throw bad("entry \(reply.text(idToken)) has a non-string field")
                    }
                    fields.append(Field(name: range(name), value: range(value)))
                    end = Int(value.value) + Int(value.length)
                    j += 2
                }
                i += m
            } else if f.type != REDIS_REPLY_NIL {
                throw bad("entry \(reply.text(idToken)) has fields of an unexpected type")
            }
            if let skipThrough, id <= skipThrough {
                fields.removeLast(fields.count - start)
                continue
            }
            entries.append(Entry(id: id, idRange: range(idToken), fieldsStart: start,
                                 fieldCount: fields.count - start, isDeleted: f.type != REDIS_REPLY_ARRAY))
        }
        return DecodedStream(batch: StreamBatch(stream: stream, source: source, bytes: [UInt8](reply.span(first..<end)), entries: entries,
                                                fields: fields),
                             replyCount: n, lastID: lastID)
    }

    /// Splits an XREADGROUP reply (`nil` on BLOCK timeout, else `[[stream, entries], ...]`).
    static func decodeRead(_ reply: FlatReply, source: Source, skipThrough: (String) -> StreamID?,
                           operation: String) throws(RedisError) -> [DecodedStream] {
        guard reply.count > 0, reply[0].type != REDIS_REPLY_NIL else { return [] }
        let root = reply[0]
        guard root.type == REDIS_REPLY_ARRAY else {
            throw RedisError(.unexpectedReply, operation: operation, message: "XREADGROUP reply is not an array")
        }
        var out: [DecodedStream] = []
        out.reserveCapacity(Int(root.value))
        var i = 1
        for s in 0..<Int(root.value) {
            guard i + 1 < reply.count, reply[i].type == REDIS_REPLY_ARRAY, reply[i].value == 2, FlatReply.isString(reply[i + 1]) else {
                throw RedisError(.unexpectedReply, operation: operation, message: "stream section \(s) is not [name, entries]")
            }
            let name = reply.text(reply[i + 1])
            i += 2
            out.append(try decode(entries: reply, at: &i, stream: name, source: source, skipThrough: skipThrough(name),
                                  operation: operation))
        }
        return out
    }
}
