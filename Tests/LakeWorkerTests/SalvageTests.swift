@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Foundation
import Logging
@testable import Parquet
import RedisStreams
import Testing
import TestSupport

/// A buffer the encoder refuses never blocks its entity: the refused rows are dead-lettered
/// (with the entry's fields from the stream) and acknowledged, the rest is written and
/// acknowledged after its file, and the file holds exactly the other rows.
@Suite struct SalvageTests {
    func run(poison: (inout RowBatch) -> Void) async throws -> (RecordingAcks, String) {
        let lake = try TestEnvironment.temporaryDirectory("salvage").path
        var config = try WorkerStateTests.config("max_rows: 100")
        config.storage.url = "file://" + lake
        let acks = RecordingAcks(lake: lake) { id in
            let i = Int(id.milliseconds - 1_700_000_000_000)
            return WorkerStateTests.clicks(i..<(i + 1))
        }
        let worker = try LakewriterWorker(config: config, logger: Logger(label: "test"), metrics: WorkerMetrics(),
                                          store: nil, entries: acks, flushConcurrency: 1)
        let (jobs, continuation) = AsyncStream<FlushJob>.makeStream()
        let state = try WorkerState(config: config, metrics: worker.metrics, logger: Logger(label: "test"), jobs: continuation)
        _ = await state.ingest(WorkerStateTests.clicks(0..<6), now: .now)
        await state.sealAll(reason: .shutdown)
        var it = jobs.makeAsyncIterator()
        var job = try #require(await it.next())
        poison(&job.batch)
        await worker.flush(job, state: state)
        return (acks, lake)
    }

    static func users(_ lake: String) throws -> [ReadbackValue] {
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        #expect(files.count == 1)
        guard let f = files.first else { return [] }
        let (_, table) = try #require(try ParquetReadback.values(path: lake + "/" + f).first)
        let u = try #require(table.columns?.firstIndex(of: "user"))
        return table.rows?.map { $0[u] } ?? []
    }

    /// Rows the builders marked as refused (the encoder's own validation says no).
    @Test func markedRowsAreDeadLetteredAndTheRestWritten() async throws {
        let (acks, lake) = try await run { b in
            let c = b.columns.firstIndex { $0.descriptor.dottedPath == "user" }!
            b.columns[c].firstError = ParquetError(.valueOutOfRange, column: "user", row: 1, message: "injected")
            b.columns[c].failedRowList = [1, 4]
        }
        let events = acks.events.withLock { $0 }
        #expect(events == [
            "dlq clicks:dlq 1700000000001-0 clicks", "dlq clicks:dlq 1700000000004-0 clicks",
            "ack clicks 2 after 0 file(s)", "ack clicks 4 after 1 file(s)",
        ])
        let errors = acks.deadLetterErrors.withLock { $0 }
        #expect(errors[0].contains("the Parquet encoder refused the row") && errors[0].contains("injected"))
        #expect(errors[1].contains("id 1700000000004-0"))
        guard TestEnvironment.python != nil || TestEnvironment.isCI else { return }
        #expect(try Self.users(lake) == [0, 2, 3, 5].map { ReadbackValue.string("\($0)") })
    }

    /// A failure of the batch as a whole (a column longer than the others: a decoder bug)
    /// cannot be pinned on rows: nothing is dead-lettered, acknowledged or written, and nothing crashes.
    @Test func aWholeBatchFailureKeepsTheEntriesPending() async throws {
        let (acks, lake) = try await run { b in
            let c = b.columns.firstIndex { $0.descriptor.dottedPath == "user" }!
            b.columns[c].appendInt64(99)
        }
        #expect(acks.events.withLock { $0 }.isEmpty)
        let files = (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".parquet") }
        #expect(files.isEmpty)
    }
}
