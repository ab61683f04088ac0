/// Entries of one stream from one reply, as raw bytes: every id, field name and value lives in
/// one contiguous buffer (`bytes`), located by offsets in `entries` and `fields`. Nothing is
/// turned into a String; decoders read the slices in place with ``withUnsafeBytes(_:)``.
///
/// An entry deleted (XDEL, trimming) while it was pending comes back from Redis without fields:
/// ``Entry/isDeleted`` is true and ``Entry/fieldCount`` is 0. It still has to be acknowledged
/// (or dead-lettered) to leave the pending list.
public struct StreamBatch: Sendable {
    /// How the entries reached this consumer.
    public enum Source: Sendable, Equatable {
        /// The consumer's own pending entries, re-read after a (re)start.
        case pending
        /// New entries (`XREADGROUP ... >`).
        case new
        /// Entries taken over from another consumer with XAUTOCLAIM.
        case claimed
    }

    /// Where one entry's id and fields are.
    public struct Entry: Sendable, Equatable {
        public var id: StreamID
        /// The id's text in ``StreamBatch/bytes`` (as Redis sent it).
        public var idRange: Range<Int>
        /// Index of the entry's first field in ``StreamBatch/fields``.
        public var fieldsStart: Int
        public var fieldCount: Int
        /// True when the entry was deleted while pending (Redis returned a nil field array).
        public var isDeleted: Bool
        /// The entry's fields as indices into ``StreamBatch/fields``.
        public var fieldIndices: Range<Int> { fieldsStart..<(fieldsStart + fieldCount) }
    }

    /// Where one field's name and value are in ``StreamBatch/bytes``.
    public struct Field: Sendable, Equatable {
        public var name: Range<Int>
        public var value: Range<Int>
    }

    public let stream: String
    public let source: Source
    /// Ids, names and values back to back.
    public let bytes: [UInt8]
    public let entries: [Entry]
    public let fields: [Field]

    public init(stream: String, source: Source, bytes: [UInt8], entries: [Entry], fields: [Field]) {
        self.stream = stream
        self.source = source
        self.bytes = bytes
        self.entries = entries
        self.fields = fields
    }

    public var count: Int { entries.count }

    /// The batch without the entries whose ids are in `ids` (same buffers, fewer entries).
    public func excluding(_ ids: Set<StreamID>) -> StreamBatch {
        StreamBatch(stream: stream, source: source, bytes: bytes, entries: entries.filter { !ids.contains($0.id) },
                    fields: fields)
    }
    public var isEmpty: Bool { entries.isEmpty }
    /// Ids of all entries, in stream order.
    public var ids: [StreamID] { entries.map(\.id) }

    /// Gives the buffer to `body`; slice it with the ranges of ``entries`` and ``fields``.
    public func withUnsafeBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R {
        let r: Result<R, E> = bytes.withUnsafeBytes { raw in
            do throws(E) { return .success(try body(raw)) } catch { return .failure(error) }
        }
        return try r.get()
    }

    /// The bytes of `range` (a field name or value), copied: for tests and diagnostics, not hot paths.
    public func slice(_ range: Range<Int>) -> ArraySlice<UInt8> { bytes[range] }

    /// The bytes of `range` as UTF-8 text: for tests and diagnostics, not hot paths.
    public func string(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }

    /// The value of field `name` in entry `index`, if present. A linear scan that converts `name`
    /// each call: for tests and diagnostics; decoders walk ``fields`` themselves.
    public func value(of name: String, inEntry index: Int) -> Range<Int>? {
        let n = Array(name.utf8)
        for f in entries[index].fieldIndices where bytes[fields[f].name].elementsEqual(n) {
            return fields[f].value
        }
        return nil
    }
}
