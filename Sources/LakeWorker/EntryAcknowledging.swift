import RedisStreams

/// What the worker tells Redis about entries once they are durable: acknowledgements and
/// dead-letter copies. ``RedisStreamClient`` is the implementation; unit tests record the calls
/// to check that nothing is acknowledged before its file is stored.
package protocol EntryAcknowledging: Sendable {
    func acknowledge(stream: String, group: String, ids: [StreamID]) async throws
    func deadLetter(entry: Int, of batch: StreamBatch, to deadLetterStream: String, error: String, reason: String,
                    entity: String, maxLength: Int?) async throws
    /// The entry `id` of `stream` as it is in the stream now (nil: deleted or trimmed since).
    func entry(stream: String, id: StreamID) async throws -> StreamBatch?
}

extension RedisStreamClient: EntryAcknowledging {
    package func acknowledge(stream: String, group: String, ids: [StreamID]) async throws {
        _ = try await ack(stream: stream, group: group, ids: ids)
    }

    package func deadLetter(entry: Int, of batch: StreamBatch, to deadLetterStream: String, error: String,
                            reason: String, entity: String, maxLength: Int?) async throws {
        let _: StreamID = try await deadLetter(entry: entry, of: batch, to: deadLetterStream, error: error,
                                               reason: reason, entity: entity, maxLength: maxLength)
    }

    package func entry(stream: String, id: StreamID) async throws -> StreamBatch? {
        let b = try await range(stream: stream, start: id, end: id, count: 1)
        return b.entries.first?.id == id ? b : nil
    }
}
