import LakeModel
import LakeOutput
import Logging
import Parquet
import RedisStreams

/// A buffer the encoder refuses must never block its entity: the offending rows are found,
/// dead-lettered (reason `encode`, with the entry's fields as they are in the stream) and
/// acknowledged, and the rest is written as usual.
///
/// Rows are validated while decoding, so this is the path of a bug, not of bad input. The rows
/// are those the column builders recorded as failed (every one, not only the first). A failure
/// of the batch as a whole (columns of different lengths: a decoder bug) cannot be pinned on
/// rows: the entries then stay pending and the error is logged, as nothing may be lost.
extension LakewriterWorker {
    /// Handles an encode failure of `job`. False when nothing could be singled out (the entries
    /// then stay pending, as before).
    func salvage(_ job: FlushJob, failure: ParquetUpload.EncodeFailure, state: WorkerState) async -> Bool {
        // Rows map to entry ids in order only for an entity read from one stream (always the case).
        guard !job.salvaged, job.ids.count == 1, job.ids[0].ids.count == job.rows,
              job.batch.columns.allSatisfy({ $0.rowCount == job.rows }) else { return false }
        let (bad, complete) = job.batch.failedRows
        guard !bad.isEmpty, complete, bad.last! < job.rows else { return false }
        let stream = job.ids[0].stream, ids = job.ids[0].ids
        logger.error("the encoder refused rows: dead-lettering them and writing the rest", metadata: [
            "entity": "\(job.entity)", "rows": "\(job.rows)", "refused": "\(bad.count)", "error": "\(failure)",
        ])
        let isBad = Set(bad)
        do {
            for r in bad {
                let id = ids[r]
                let why = job.batch.failure(ofRow: r).map { "\($0)" } ?? "\(failure)"
                let error = "entity \(job.entity): the Parquet encoder refused the row: \(why) (stream \(stream), id \(id))"
                if let entry = try await entries.entry(stream: stream, id: id) {
                    try await retrying("dead-letter XADD", stream: stream) {
                        try await self.entries.deadLetter(entry: 0, of: entry, to: stream + ":dlq", error: error,
                                                          reason: "encode", entity: job.entity,
                                                          maxLength: self.config.redis.deadLetterMaxLength)
                    }
                    logger.warning("dead letter", metadata: [
                        "stream": "\(stream)", "id": "\(id)", "entity": "\(job.entity)", "error": "\(error)",
                    ])
                } else {
                    logger.error("a refused row's entry is no longer in the stream (deleted or trimmed): acknowledged without a dead letter",
                                 metadata: ["stream": "\(stream)", "id": "\(id)", "entity": "\(job.entity)", "error": "\(error)"])
                }
                metrics.deadLetter(stream: stream, entity: job.entity, reason: "encode")
            }
            let badIDs = bad.map { ids[$0] }
            try await retrying("XACK", stream: stream) {
                try await self.acknowledge(stream: stream, ids: badIDs)
            }
        } catch {
            return true  // cancelled at shutdown: the unacknowledged entries stay pending
        }
        guard bad.count < job.rows else { return true }
        let keys = (0..<job.rows).map { isBad.contains($0) ? 1 : 0 }
        guard let good = job.batch.split(byRowKeys: keys).first(where: { $0.key == 0 })?.batch else { return true }
        var rest = job
        rest.batch = good
        rest.rows = good.rowCount
        rest.ids = [(stream, ids.indices.filter { !isBad.contains($0) }.map { ids[$0] })]
        rest.rawBytes = good.byteCount
        rest.salvaged = true
        await flush(rest, state: state)
        return true
    }
}
