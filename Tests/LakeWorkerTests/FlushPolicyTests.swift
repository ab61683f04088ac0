@testable import LakeModel
@testable import LakeOutput
@testable import LakeWorker
import Testing

@Suite struct FlushPolicyTests {
    let policy = FlushPolicy(maxRows: 100, maxBytes: 1000, maxAge: .seconds(60), idle: .seconds(10), memoryLimit: 4000)
    let t0 = ContinuousClock.now

    func state(rows: Int = 1, bytes: Int = 10, first: Duration = .zero, last: Duration = .zero) -> FlushPolicy.BufferState<ContinuousClock.Instant> {
        .init(rows: rows, bytes: bytes, firstAppend: t0 + first, lastAppend: t0 + last)
    }

    @Test func keepsAFreshSmallBuffer() {
        #expect(policy.reason(for: state(), now: t0 + .seconds(9)) == nil)
        #expect(policy.reason(for: state(rows: 0, first: .zero), now: t0 + .seconds(600)) == nil)
    }

    @Test func flushesOnRowsAndBytes() {
        #expect(policy.reason(for: state(rows: 100), now: t0) == .rows)
        #expect(policy.reason(for: state(rows: 99, bytes: 1000), now: t0) == .bytes)
    }

    @Test func flushesWhenIdleWithoutNewTraffic() {
        let s = state(first: .zero, last: .seconds(5))
        #expect(policy.reason(for: s, now: t0 + .seconds(14)) == nil)
        #expect(policy.reason(for: s, now: t0 + .seconds(15)) == .idle)
        #expect(policy.deadline(for: s) == t0 + .seconds(15))
    }

    @Test func flushesOnAgeEvenWhenBusy() {
        let s = state(first: .zero, last: .seconds(59))
        #expect(policy.reason(for: s, now: t0 + .seconds(60)) == .age)
        #expect(policy.deadline(for: s) == t0 + .seconds(60))
    }

    @Test func memoryVictimsAreLargestFirstDownToLowWater() {
        let buffers: [(id: String, bytes: Int)] = [("a", 500), ("b", 2000), ("c", 1200), ("d", 300)]
        #expect(policy.memoryVictims(buffers) == ["b"])  // 4000 → 2000, the low-water mark
        #expect(policy.memoryVictims([(id: "a", bytes: 1500), (id: "b", bytes: 1600), (id: "c", bytes: 1000)]) == ["b", "a"])
        #expect(policy.memoryVictims([(id: "a", bytes: 3999)]).isEmpty)
        #expect(policy.mustRelieveMemory(totalBytes: 4000))
    }

    @Test func encodedSizeIsLearnedFromTheEntitysFiles() {
        var e = EncodedSizeEstimator()
        // Before any file: column data as is.
        #expect(e.estimate(rawBytes: 1000) == 1000)
        e.learn(rawBytes: 4000, fileBytes: 1000)
        #expect(e.ratio == 0.25 && e.estimate(rawBytes: 1000) == 250)
        // Recent files weigh more: 0.75 * (1000, 4000) + (3000, 4000) = (3750, 7000).
        e.learn(rawBytes: 4000, fileBytes: 3000)
        #expect(abs(e.ratio - 3750.0 / 7000.0) < 1e-9)
        // Bigger files weigh more than small ones.
        var f = EncodedSizeEstimator()
        f.learn(rawBytes: 1_000_000, fileBytes: 200_000)
        f.learn(rawBytes: 1000, fileBytes: 3000)
        #expect(f.ratio < 0.21)
        // Bounded either way; empty files teach nothing.
        var g = EncodedSizeEstimator()
        g.learn(rawBytes: 10, fileBytes: 1000)
        #expect(g.ratio == 4)
        g.learn(rawBytes: 0, fileBytes: 100)
        #expect(g.ratio == 4)
        var h = EncodedSizeEstimator()
        h.learn(rawBytes: 1_000_000, fileBytes: 1)
        #expect(h.ratio == 0.01)
    }
}


/// The liveness rules on a synthetic clock.
@Suite struct LivenessTests {
    @Test func progressIsExpectedOnlyWhileThereIsWork() {
        let t0 = ContinuousClock.now
        let l = Liveness(timeout: .seconds(60), now: t0)
        // Nothing to do: alive however long nothing happens.
        #expect(l.check(now: t0 + .seconds(3600)) == nil)
        // Entries wait from t+1h: the reader has 60 s from then.
        l.waiting(500, now: t0 + .seconds(3600))
        #expect(l.check(now: t0 + .seconds(3650)) == nil)
        let hung = l.check(now: t0 + .seconds(3661))
        #expect(hung?.contains("read loop") == true && hung?.contains("500 entries") == true)
        l.readProgress(now: t0 + .seconds(3662))
        #expect(l.check(now: t0 + .seconds(3700)) == nil)
        // Paused for memory: the reader owes nothing; resumed, its clock restarts.
        l.paused(true, now: t0 + .seconds(3700))
        #expect(l.check(now: t0 + .seconds(5000)) == nil)
        l.paused(false, now: t0 + .seconds(5000))
        #expect(l.check(now: t0 + .seconds(5059)) == nil)
        #expect(l.check(now: t0 + .seconds(5061)) != nil)
        l.waiting(0, now: t0 + .seconds(5061))
        #expect(l.check(now: t0 + .seconds(9000)) == nil)
        // A flush whose attempt does not end for longer than the timeout.
        l.flushStarted(now: t0 + .seconds(9000))
        #expect(l.check(now: t0 + .seconds(9059)) == nil)
        #expect(l.check(now: t0 + .seconds(9061))?.contains("no flush attempt ended") == true)
        l.flushProgress(now: t0 + .seconds(9061))  // a failed attempt, retried: progress
        #expect(l.check(now: t0 + .seconds(9100)) == nil)
        l.flushEnded(now: t0 + .seconds(9100))
        #expect(l.check(now: t0 + .seconds(20000)) == nil)
        // `none`: never fails.
        let off = Liveness(timeout: nil, now: t0)
        off.waiting(1, now: t0)
        #expect(off.check(now: t0 + .seconds(100_000)) == nil)
    }
}
