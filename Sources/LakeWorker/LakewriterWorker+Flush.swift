import DeltaLake
import Foundation
import LakeModel
import LakeOutput
import Logging
import ObjectStore
import Parquet
import RedisStreams
import Retrying

/// Flushing: sealed buffers become files (encoded and uploaded row group by row group), and
/// their entries are acknowledged once the file is durable.
extension LakewriterWorker {
    // MARK: Flushing

    func runFlushes(_ jobs: AsyncStream<FlushJob>, state: WorkerState) async {
        await withTaskGroup(of: Void.self) { group in
            var running = 0
            for await job in jobs {
                if running >= flushConcurrency {
                    await group.next()
                    running -= 1
                }
                running += 1
                group.addTask {
                    self.alive.flushStarted()
                    await self.flush(job, state: state)
                    self.alive.flushEnded()
                    await state.completed(job)
                }
            }
        }
    }

    /// Writes one file, retrying the upload until it succeeds (storage down or slow never drops
    /// or acknowledges data), then acknowledges its entries. The file is encoded while it is
    /// uploaded, row group by row group; a retry encodes it again from the kept batch.
    func flush(_ job: FlushJob, state: WorkerState) async {
        let start = ContinuousClock.now
        let key = ObjectKeys.dataFile(entity: job.entity, partition: job.partition, id: UUIDv7())
        let upload = parquetUpload(job)
        var attempt = 0
        var failing = false
        defer { if failing { Task { await state.flushFailing(false) } } }
        // Versions this file's rows (or earlier files') were decoded with, not yet recorded.
        var schemas: [EntitySchema] = []
        if let v = job.schemaVersion, let recorder = state.recorder {
            schemas = recorder.unrecorded(entity: job.entity, through: v)
        }
        let fileBatch: RowBatch
        do { fileBatch = try job.fileBatch() } catch {
            // Only a schema left without columns fails, and `_stream_id` always remains.
            logger.error("cannot leave the partition columns out of the file; entries stay pending", metadata: [
                "entity": "\(job.entity)", "error": "\(error)",
            ])
            metrics.flushFailed(entity: job.entity)
            return
        }
        var written: ParquetUpload.Result
        while true {
            do {
                while let s = schemas.first {
                    try await state.recorder!.store.record(s)
                    state.recorder!.markRecorded(s)
                    logger.info("schema version recorded", metadata: ["entity": "\(job.entity)", "key": "\(s.recordKey)"])
                    schemas.removeFirst()
                }
                written = try await upload.run(fileBatch, key: key, store: store)
                storageReady.set(nil)
                break
            } catch let error as ParquetUpload.EncodeFailure {
                // Rows were validated while decoding, so this is a bug. The refused rows go to the
                // dead-letter stream and the rest is written; when they cannot be singled out, the
                // entries stay pending (read again after a restart) rather than be lost.
                if await salvage(job, failure: error, state: state) { return }
                logger.error("encoding failed; entries stay pending", metadata: [
                    "entity": "\(job.entity)", "rows": .stringConvertible(job.rows), "error": "\(error)",
                ])
                metrics.flushFailed(entity: job.entity)
                return
            } catch {
                if Task.isCancelled {
                    abandoned.withLock { $0 += 1 }
                    logger.warning("upload abandoned at shutdown; entries stay pending", metadata: [
                        "entity": "\(job.entity)", "key": "\(key)", "rows": .stringConvertible(job.rows),
                    ])
                    return
                }
                attempt += 1
                alive.flushProgress()
                if !failing { failing = true; await state.flushFailing(true) }
                storageReady.set("\(error)")
                metrics.flushFailed(entity: job.entity)
                logger.error("upload failed, retrying", metadata: [
                    "entity": "\(job.entity)", "key": "\(key)", "attempt": .stringConvertible(attempt), "error": "\(error)",
                ])
                do {
                    try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(30)).delay(attempt: attempt - 1))
                } catch {
                    abandoned.withLock { $0 += 1 }
                    return
                }
            }
        }
        if let table = deltaTables[job.entity] {
            guard await commitToDelta(job, table: table, key: key, fileBatch: fileBatch, written: written) else { return }
        }
        let elapsed = start.duration(to: .now)
        await state.learnEncodedSize(entity: job.entity, rawBytes: job.rawBytes, fileBytes: written.bytes)
        metrics.fileWritten(entity: job.entity, rows: job.rows, bytes: written.bytes, duration: elapsed, reason: job.reason,
                            encode: written.encodeDuration, upload: written.uploadDuration)
        logger.info("file written", metadata: [
            "entity": "\(job.entity)", "key": "\(key)", "rows": .stringConvertible(job.rows), "bytes": .stringConvertible(written.bytes),
            "row_groups": .stringConvertible(written.rowGroups), "parts": .stringConvertible(written.parts),
            "seconds": .stringConvertible((elapsed.seconds * 1000).rounded() / 1000), "reason": "\(job.reason.rawValue)",
        ])
        for (stream, ids) in job.ids {
            do {
                try await retrying("XACK", stream: stream) {
                    try await self.acknowledge(stream: stream, ids: ids)
                }
            } catch {
                logger.warning("acknowledgement abandoned at shutdown; the entries will be read again",
                               metadata: ["stream": "\(stream)", "entries": .stringConvertible(ids.count)])
            }
        }
    }

    /// Commits a durable file to its entity's Delta table, retrying storage errors until it lands
    /// (a retried PUT that did land is recognised). False when the entries must stay pending: the
    /// worker is stopping, or the commit conflicts (the file stays out of the table, unreferenced).
    func commitToDelta(_ job: FlushJob, table: DeltaTable, key: String, fileBatch: RowBatch,
                       written: ParquetUpload.Result) async -> Bool {
        let started = ContinuousClock.now
        let partitionColumns = job.partition.fields.map(\.column)
        let add = DeltaAdd(path: String(key.dropFirst(job.entity.count + 1)),
                           partitionValues: job.partition.fields.map { ($0.column, $0.value) },
                           size: Int64(written.bytes), modificationTime: Int64(Date().timeIntervalSince1970 * 1000),
                           stats: written.metadata.map { DeltaStats.json(schema: fileBatch.schema, metadata: $0) })
        var commit = DeltaCommit(adds: [add], schema: job.batch.schema, partitionColumns: partitionColumns,
                                 schemaVersion: job.schemaVersion ?? 1)
        commit.info = [("entity", job.entity), ("streams", job.ids.map(\.stream).joined(separator: ",")),
                       ("rows", String(job.rows))]
        do {
            commit.entries = try job.ids.map { ($0.stream, try EntryRecord.encode($0.ids.map { EntryID(ms: $0.milliseconds, seq: $0.sequence) })) }
        } catch {
            // Without the record a crash before the XACK writes these rows twice (at-least-once).
            logger.warning("delta commit without its entry record", metadata: ["entity": "\(job.entity)", "error": "\(error)"])
        }
        commit.transactions = job.ids.map { "lakewriter:\(config.redis.group):\($0.stream)" }
        let retriedBefore = await table.conflictsRetried
        var attempt = 0
        while true {
            do {
                let version = try await table.commit(commit)
                let conflicts = await table.conflictsRetried - retriedBefore
                metrics.deltaCommitted(entity: job.entity, duration: started.duration(to: .now), conflicts: conflicts)
                logger.debug("delta commit", metadata: ["entity": "\(job.entity)", "version": "\(version)", "key": "\(key)"])
                if killAfterCommit > 0 && Double.random(in: 0..<1) < killAfterCommit {
                    logger.critical("fault injection: SIGKILL after the delta commit, before XACK (LAKEWRITER_FAULT_KILL_AFTER_COMMIT)")
                    kill(getpid(), SIGKILL)
                }
                return true
            } catch let error as DeltaError {
                if case .log = error {} else {
                    logger.error("delta commit refused; the file stays out of the table and its entries pending", metadata: [
                        "entity": "\(job.entity)", "key": "\(key)", "error": "\(error)",
                    ])
                    metrics.flushFailed(entity: job.entity)
                    return false
                }
                attempt += 1
                logger.error("delta commit failed, retrying", metadata: ["entity": "\(job.entity)", "error": "\(error)"])
            } catch {
                attempt += 1
                metrics.flushFailed(entity: job.entity)
                logger.error("delta commit failed, retrying", metadata: [
                    "entity": "\(job.entity)", "key": "\(key)", "attempt": .stringConvertible(attempt), "error": "\(error)",
                ])
            }
            if Task.isCancelled {
                abandoned.withLock { $0 += 1 }
                logger.warning("delta commit abandoned at shutdown; the file is not in the table, entries stay pending",
                               metadata: ["entity": "\(job.entity)", "key": "\(key)"])
                return false
            }
            alive.flushProgress()
            do {
                try await Task.sleep(for: Backoff(initial: .milliseconds(100), maximum: .seconds(30)).delay(attempt: attempt - 1))
            } catch {
                abandoned.withLock { $0 += 1 }
                return false
            }
        }
    }

    /// How a job's file is encoded and uploaded (the batch through ``FlushJob/fileBatch()``).
    func parquetUpload(_ job: FlushJob) -> ParquetUpload {
        var props = config.parquet.writerProperties
        props.keyValueMetadata["lakewriter.entity"] = job.entity
        if let v = job.schemaVersion { props.keyValueMetadata["lakewriter.schema_version"] = String(v) }
        return ParquetUpload(properties: props, options: config.storage.writerOptions)
    }
}
