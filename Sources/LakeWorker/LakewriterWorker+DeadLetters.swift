import DeltaLake
import Foundation
import LakeModel
import LakeOutput
import Logging
import ObjectStore
import Parquet
import RedisStreams
import Retrying

/// Reading: a stream batch goes into the buffers; what cannot be written is dead-lettered
/// (`{stream}:dlq`, the layout of ``RedisStreamClient/deadLetter(entry:of:to:error:reason:entity:maxLength:)``)
/// and acknowledged with the entries that have nothing to write.
extension LakewriterWorker {
    // MARK: Reading

    func handle(_ read: StreamBatch, state: WorkerState) async throws {
        metrics.eventsConsumed(stream: read.stream, read.count)
        var batch = read
        // Delta tables: re-read entries (own pending ones after a crash, claimed ones) that a
        // commit already holds are acknowledged instead of written again (exactly once).
        if batch.source != .new, let indexes = committedEntries[batch.stream], !batch.isEmpty {
            let ids = batch.entries.map { EntryID(ms: $0.id.milliseconds, seq: $0.id.sequence) }
            var done = Set<EntryID>()
            for index in indexes {
                do { done.formUnion(try await index.committed(stream: batch.stream, ids)) } catch {
                    logger.warning("cannot read the delta log for committed entries; they may be written twice",
                                   metadata: ["stream": "\(batch.stream)", "error": "\(error)"])
                }
            }
            if !done.isEmpty {
                let already = Set(batch.entries.map(\.id).filter { done.contains(EntryID(ms: $0.milliseconds, seq: $0.sequence)) })
                try await retrying("XACK", stream: batch.stream) {
                    try await self.acknowledge(stream: batch.stream, ids: Array(already))
                }
                metrics.alreadyCommitted(stream: batch.stream, already.count)
                logger.info("re-read entries already in the Delta table: acknowledged, not written again", metadata: [
                    "stream": "\(batch.stream)", "entries": .stringConvertible(already.count),
                ])
                batch = batch.excluding(already)
                if batch.isEmpty { return }
            }
        }
        // Re-read entries (own pending ones, claimed ones) carry a delivery count: past
        // `max_deliveries` they are dead-lettered, so no entry can make a crash loop.
        var redelivered: [StreamID: Int] = [:]
        if batch.source != .new, let limit = config.redis.maxDeliveries, !batch.isEmpty {
            redelivered = await deliveriesAbove(limit, in: batch)
        }
        let result = await state.ingest(batch, now: .now, redelivered: redelivered)
        if result.deadLetters.isEmpty && result.ackNow.isEmpty { return }
        var ackIDs = result.ackNow
        for d in result.deadLetters {
            let entry = batch.entries[d.entry]
            try await retrying("dead-letter XADD", stream: batch.stream) {
                try await self.entries.deadLetter(entry: d.entry, of: batch, to: batch.stream + ":dlq", error: d.error,
                                                  reason: d.reason, entity: d.entity,
                                                  maxLength: self.config.redis.deadLetterMaxLength)
            }
            logger.warning("dead letter", metadata: [
                "stream": "\(batch.stream)", "id": "\(entry.id)", "entity": "\(d.entity)", "error": "\(d.error)",
            ])
            metrics.deadLetter(stream: batch.stream, entity: d.entity, reason: d.reason)
            ackIDs.append(entry.id)
        }
        try await retrying("XACK", stream: batch.stream) {
            try await self.acknowledge(stream: batch.stream, ids: ackIDs)
        }
    }

    /// The entries of `batch` that XPENDING's extended form says were delivered more than
    /// `limit` times, with their counts. Paged over the batch's id range (this consumer's
    /// entries only); a failure is logged and checks nothing (the next re-read checks again).
    func deliveriesAbove(_ limit: Int, in batch: StreamBatch) async -> [StreamID: Int] {
        var lo = batch.entries[0].id, hi = lo
        for e in batch.entries {
            if e.id < lo { lo = e.id }
            if e.id > hi { hi = e.id }
        }
        var out: [StreamID: Int] = [:]
        var start = lo
        // Entries of this consumer inside the range that are not in the batch (held ones) make
        // more pages; the bound keeps a huge pending list from stalling the read.
        for _ in 0..<64 {
            let page: [PendingEntry]
            do {
                page = try await client.pendingEntries(stream: batch.stream, group: config.redis.group, start: start, end: hi,
                                                       count: max(batch.count, 100), consumer: config.redis.consumer)
            } catch {
                logger.warning("XPENDING for delivery counts failed; not checking redis.max_deliveries for this batch",
                               metadata: ["stream": "\(batch.stream)", "error": "\(error)"])
                return [:]
            }
            for p in page where p.deliveries > limit { out[p.id] = p.deliveries }
            guard let last = page.last, page.count >= max(batch.count, 100), last.id < hi else { break }
            start = last.id.successor
        }
        return out
    }

    /// XACK, remembering the greatest id (a destroyed group is recreated after it).
    func acknowledge(stream: String, ids: [StreamID]) async throws {
        try await entries.acknowledge(stream: stream, group: config.redis.group, ids: ids)
        acknowledged.record(stream: stream, ids: ids)
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
