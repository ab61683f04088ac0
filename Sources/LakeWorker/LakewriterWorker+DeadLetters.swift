import Foundation
import LakeModel
import LakeOutput
import Logging
import ObjectStore
import Parquet
import RedisStreams
import Retrying

/// Reading: a stream batch goes into the buffers; what cannot be written is dead-lettered
/// (`{stream}:dlq`, the layout of ``RedisStreamClient/deadLetter(entry:of:to:error:entity:maxLength:)``)
/// and acknowledged with the entries that have nothing to write.
extension LakewriterWorker {
    // MARK: Reading

    func handle(_ batch: StreamBatch, state: WorkerState) async throws {
        metrics.eventsConsumed(stream: batch.stream, batch.count)
        let result = await state.ingest(batch, now: .now)
        if result.deadLetters.isEmpty && result.ackNow.isEmpty { return }
        var ackIDs = result.ackNow
        for d in result.deadLetters {
            let entry = batch.entries[d.entry]
            try await retrying("dead-letter XADD", stream: batch.stream) {
                try await self.entries.deadLetter(entry: d.entry, of: batch, to: batch.stream + ":dlq", error: d.error,
                                                  entity: d.entity, maxLength: self.config.redis.deadLetterMaxLength)
            }
            logger.warning("dead letter", metadata: [
                "stream": "\(batch.stream)", "id": "\(entry.id)", "entity": "\(d.entity)", "error": "\(d.error)",
            ])
            metrics.deadLetter(stream: batch.stream, entity: d.entity, reason: d.reason)
            ackIDs.append(entry.id)
        }
        try await retrying("XACK", stream: batch.stream) {
            try await self.entries.acknowledge(stream: batch.stream, group: self.config.redis.group, ids: ackIDs)
        }
    }

    /// Retries a Redis call while the connection recovers; gives up only on cancellation.
    /// An error `retrying` passes on at once instead of retrying.
    struct Fatal: Error {
        var error: any Error
    }

    func retrying(_ what: String, stream: String, _ body: () async throws -> Void) async throws {
        var attempt = 0
        while true {
            do {
                try await body()
                return
            } catch let f as Fatal {
                throw f.error
            } catch {
                if Task.isCancelled { throw CancellationError() }
                attempt += 1
                logger.warning("redis call failed, retrying", metadata: [
                    "operation": "\(what)", "stream": "\(stream)", "attempt": .stringConvertible(attempt), "error": "\(error)",
                ])
                try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(5)).delay(attempt: attempt - 1))
            }
        }
    }
}
