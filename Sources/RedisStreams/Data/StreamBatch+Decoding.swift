import CHiredis

/// One stream's part of a reply, copied out of the hiredis reply tree.
struct DecodedStream {
    var batch: StreamBatch
    /// Entries in the reply before `skipThrough` filtering (0 means the pending list is exhausted).
    var replyCount: Int
    /// The last id in the reply, filtered or not.
    var lastID: StreamID?
}

extension StreamBatch {
    /// Copies an array of `[id, [field, value, ...] | nil]` (XREADGROUP, XRANGE, XAUTOCLAIM entries)
    /// into one batch: a first pass sizes the buffers, the second copies each byte once.
    /// Entries with an id ≤ `skipThrough` are left out (already delivered by this process).
    static func decode(entries list: Reply, stream: String, source: Source, skipThrough: StreamID?,
                       operation: String) throws(RedisError) -> DecodedStream {
        func bad(_ why: String) -> RedisError {
            RedisError(.unexpectedReply, operation: operation, stream: stream, message: why)
        }
        guard list.isArray else {
            if list.isNil { return DecodedStream(batch: StreamBatch(stream: stream, source: source, bytes: [], entries: [], fields: []), replyCount: 0, lastID: nil) }
            throw bad("entry list is not an array")
        }
        let n = list.count
        var byteCount = 0
        var fieldCount = 0
        for i in 0..<n {
            let e = list[i]
            guard e.isArray, e.count == 2, e[0].isString else { throw bad("entry \(i) is not [id, fields]") }
            byteCount += e[0].bytes.count
            let f = e[1]
            if f.isArray {
                guard f.count % 2 == 0 else { throw bad("entry \(e[0].text) has an odd field list") }
                for j in 0..<f.count {
                    let x = f[j]
                    guard x.isString else { throw bad("entry \(e[0].text) has a non-string field") }
                    byteCount += x.bytes.count
                }
                fieldCount += f.count / 2
            } else if !f.isNil {
                throw bad("entry \(e[0].text) has fields of an unexpected type")
            }
        }
        var entries: [Entry] = []
        entries.reserveCapacity(n)
        var fields: [Field] = []
        fields.reserveCapacity(fieldCount)
        var lastID: StreamID?
        var failure: RedisError?
        // Second pass: every id, name and value memcpy'd once into the batch's buffer.
        let bytes = [UInt8](unsafeUninitializedCapacity: byteCount) { buffer, initialized in
            let base = buffer.baseAddress
            var at = 0
            @inline(__always) func copy(_ r: Reply) -> Range<Int> {
                let src = r.bytes
                if src.count > 0 { (base! + at).update(from: src.baseAddress!.assumingMemoryBound(to: UInt8.self), count: src.count) }
                at += src.count
                return (at - src.count)..<at
            }
            for i in 0..<n {
                let e = list[i]
                guard let id = StreamID(bytes: e[0].bytes) else {
                    failure = bad("malformed entry id '\(e[0].text)'")
                    break
                }
                lastID = id
                if let skipThrough, id <= skipThrough { continue }
                let idRange = copy(e[0])
                let f = e[1]
                let start = fields.count
                if f.isArray {
                    var j = 0
                    while j < f.count {
                        let name = copy(f[j])
                        let value = copy(f[j + 1])
                        fields.append(Field(name: name, value: value))
                        j += 2
                    }
                }
                entries.append(Entry(id: id, idRange: idRange, fieldsStart: start,
                                     fieldCount: fields.count - start, isDeleted: !f.isArray))
            }
            initialized = at
        }
        if let failure { throw failure }
        return DecodedStream(batch: StreamBatch(stream: stream, source: source, bytes: bytes, entries: entries,
                                                fields: fields),
                             replyCount: n, lastID: lastID)
    }

    /// Splits an XREADGROUP reply (`nil` on BLOCK timeout, else `[[stream, entries], ...]`).
    static func decodeRead(_ reply: Reply, source: Source, skipThrough: (String) -> StreamID?,
                           operation: String) throws(RedisError) -> [DecodedStream] {
        if reply.isNil { return [] }
        guard reply.isArray else {
            throw RedisError(.unexpectedReply, operation: operation, message: "XREADGROUP reply is not an array")
        }
        var out: [DecodedStream] = []
        out.reserveCapacity(reply.count)
        for i in 0..<reply.count {
            let s = reply[i]
            guard s.isArray, s.count == 2, s[0].isString else {
                throw RedisError(.unexpectedReply, operation: operation, message: "stream section \(i) is not [name, entries]")
            }
            let name = s[0].text
            out.append(try decode(entries: s[1], stream: name, source: source, skipThrough: skipThrough(name),
                                  operation: operation))
        }
        return out
    }
}
