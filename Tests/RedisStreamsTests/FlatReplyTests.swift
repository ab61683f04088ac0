import CHiredis
@testable import RedisStreams
import Testing

/// The flat-token decoder of stream replies, on replies built token by token: well-formed ones
/// decode to the same batch a server's reply gives (see ConsumerTests), malformed ones are a
/// clear `unexpectedReply` error naming the stream, never a crash.
@Suite struct FlatReplyTests {
    enum Node {
        case s(String), array([Node]), null, int(Int64)
        /// An array header announcing `count` elements followed by `items` (a reply cut short).
        case short(Int, [Node])
    }

    static func flat(_ root: Node) -> FlatReply {
        let f = FlatReply()
        func push(_ n: Node) {
            switch n {
            case .s(let text):
                var bytes = Array(text.utf8)
                if bytes.isEmpty { bytes = [0] }  // a non-null pointer; the length says 0
                _ = bytes.withUnsafeBufferPointer { p in
                    p.withMemoryRebound(to: CChar.self) { lw_flat_push(f.storage, REDIS_REPLY_STRING, 0, $0.baseAddress, text.utf8.count) }
                }
            case .array(let items):
                _ = lw_flat_push(f.storage, REDIS_REPLY_ARRAY, Int64(items.count), nil, 0)
                items.forEach(push)
            case .short(let count, let items):
                _ = lw_flat_push(f.storage, REDIS_REPLY_ARRAY, Int64(count), nil, 0)
                items.forEach(push)
            case .null: _ = lw_flat_push(f.storage, REDIS_REPLY_NIL, 0, nil, 0)
            case .int(let v): _ = lw_flat_push(f.storage, REDIS_REPLY_INTEGER, v, nil, 0)
            }
        }
        push(root)
        return f
    }

    static func read(_ root: Node) throws(RedisError) -> [DecodedStream] {
        try StreamBatch.decodeRead(flat(root), source: .new, skipThrough: { _ in nil }, operation: "XREADGROUP")
    }

    @Test func wellFormedReplies() throws {
        let decoded = try Self.read(.array([
            .array([.s("a"), .array([
                .array([.s("1-0"), .array([.s("k"), .s("v"), .s("empty"), .s("")])]),
                .array([.s("2-5"), .null]),  // deleted while pending
            ])]),
            .array([.s("b"), .array([])]),
        ]))
        #expect(decoded.count == 2)
        let a = decoded[0].batch
        #expect(a.stream == "a" && a.count == 2 && decoded[0].lastID == StreamID(milliseconds: 2, sequence: 5))
        #expect(a.string(a.entries[0].idRange) == "1-0")
        #expect(a.string(a.value(of: "k", inEntry: 0)!) == "v")
        #expect(a.value(of: "empty", inEntry: 0)?.isEmpty == true)
        #expect(a.entries[1].isDeleted && a.entries[1].fieldCount == 0)
        #expect(decoded[1].batch.isEmpty && decoded[1].replyCount == 0)
        // A BLOCK timeout is a nil reply: nothing to deliver.
        #expect(try Self.read(.null).isEmpty)
    }

    @Test(arguments: [
        ("not an array", Node.int(3), "not an array"),
        ("section not a pair", .array([.array([.s("a")])]), "stream section 0"),
        ("entries not a list", .array([.array([.s("a"), .int(1)])]), "entry list is not an array"),
        ("entry not a pair", .array([.array([.s("a"), .array([.array([.s("1-0")])])])]), "entry 0 is not [id, fields]"),
        ("bad id", .array([.array([.s("a"), .array([.array([.s("x-1"), .null])])])]), "malformed entry id 'x-1'"),
        ("odd fields", .array([.array([.s("a"), .array([.array([.s("1-0"), .array([.s("k")])])])])]), "odd field list"),
        ("nested field", .array([.array([.s("a"), .array([.array([.s("1-0"), .array([.s("k"), .array([])])])])])]), "non-string field"),
        ("fields an integer", .array([.array([.s("a"), .array([.array([.s("1-0"), .int(7)])])])]), "unexpected type"),
        ("cut short", .array([.array([.s("a"), .short(2, [.array([.s("1-0"), .null])])])]), "entry 1"),
        ("fields cut short", .array([.array([.s("a"), .array([.array([.s("1-0"), .short(4, [.s("k"), .s("v")])])])])]), "ends inside entry 1-0"),
    ])
    func malformedRepliesAreErrors(_ label: String, _ reply: Node, _ expected: String) {
        do {
            _ = try Self.read(reply)
            Issue.record("\(label): decoded without error")
        } catch {
            #expect(error.code == .unexpectedReply, "\(label)")
            #expect("\(error)".contains(expected), "\(label): \(error)")
        }
    }
}
