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

