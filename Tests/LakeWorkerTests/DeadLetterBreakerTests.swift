@testable import LakeModel
@testable import LakeWorker
import Foundation
import Logging
@testable import RedisStreams
import Testing

/// The dead-letter breaker and the redelivery limit inside the worker's state, with an injected
/// clock: the share is measured over a sliding window, the entry that passes it is held (not
/// dead-lettered), later entries of the entity are held too, and held ids count as the worker's own.
@Suite struct DeadLetterBreakerTests {
    let t0 = ContinuousClock.now

    func state(_ deadLetters: String = "breaker_ratio: 0.5, breaker_window: 10s, breaker_min_entries: 10") throws
        -> (WorkerState, EntityPauses) {
        let config = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {url: "redis://127.0.0.1:1/0"}
            dead_letters: {\(deadLetters)}
            entities:
              clicks:
                stream: clicks
                payload: json:data
                columns:
                  user: int64 not null
            """)
        let pauses = EntityPauses()
        let (_, continuation) = AsyncStream<FlushJob>.makeStream()
        return (try WorkerState(config: config, metrics: WorkerMetrics(), logger: Logger(label: "test"), jobs: continuation,
                                pauses: pauses), pauses)
    }

    /// `good` valid entries then `bad` ones (a word for an int64), ids from `first` on.
    func batch(good: Int = 0, bad: Int = 0, first: Int) -> StreamBatch {
        var b = BatchBuilder("clicks")
        for i in 0..<(good + bad) {
            b.add("1700000000000-\(first + i)", [("data", i < good ? #"{"user": \#(i)}"# : #"{"user": "x\#(i)"}"#)])
        }
        return b.batch
    }

    @Test func theShareIsMeasuredOverTheWindowAndTheEntityIsPausedPastIt() async throws {
        let (s, pauses) = try state()
        // Half of 12: not more than the ratio.
        var r = await s.ingest(batch(good: 6, bad: 6, first: 0), now: t0)
        #expect(r.deadLetters.count == 6 && r.rows == 6)
        // The window moved on: 9 failures alone are fewer than min_entries.
        r = await s.ingest(batch(bad: 9, first: 100), now: t0 + .seconds(11))
        #expect(r.deadLetters.count == 9 && pauses.reason == nil)
        // The 10th trips it: held, not dead-lettered; so is everything after it, good or bad.
        r = await s.ingest(batch(bad: 1, first: 200), now: t0 + .seconds(11))
        #expect(r.deadLetters.isEmpty && r.ackNow.isEmpty && r.rows == 0)
        r = await s.ingest(batch(good: 3, bad: 3, first: 300), now: t0 + .seconds(12))
        #expect(r.deadLetters.isEmpty && r.ackNow.isEmpty && r.rows == 0)
        let why = try #require(pauses.reason)
        #expect(why.contains("entity clicks paused by the dead-letter breaker: 10 of its last 10 entries"), "\(why)")
        #expect(why.contains("dead_letters.breaker: off") && !why.contains("\n"), "\(why)")
        // Held ids are the worker's own: kept fresh, never claimed back.
        let held = await s.heldIDs(stream: "clicks")
        for i in [200, 300, 305] { #expect(held.contains(StreamID("1700000000000-\(i)")!)) }
    }

    @Test func breakerOffDeadLettersEverything() async throws {
        let (s, pauses) = try state("breaker: off, breaker_min_entries: 1")
        let r = await s.ingest(batch(bad: 50, first: 0), now: t0)
        #expect(r.deadLetters.count == 50 && pauses.reason == nil)
    }

    @Test func entriesPastMaxDeliveriesAreDeadLetteredAsRedelivered() async throws {
        let (s, _) = try state()
        let b = batch(good: 3, first: 0)
        let r = await s.ingest(b, now: t0, redelivered: [b.entries[1].id: 11])
        #expect(r.rows == 2)
        #expect(r.deadLetters.map(\.reason) == ["redelivered"] && r.deadLetters.first?.entry == 1)
        #expect(r.deadLetters.first?.error.contains("delivered 11 times, more than redis.max_deliveries (10)") == true)
    }
}
