import Synchronization

/// Whether the worker is hung, for `/healthz`: progress is expected of the read loop while
/// entries wait in Redis (and reading is not paused for memory), and of the flushes while a file
/// is being written. A reader that retries a lost connection, or an upload attempt that fails
/// and is retried, is progress: restarting would not help either. With nothing to do, nothing is
/// expected, so an idle stream never fails the probe.
final class Liveness: Sendable {
    private struct State {
        var lastRead: ContinuousClock.Instant
        var lastFlush: ContinuousClock.Instant
        /// Entries not yet delivered to the group, as housekeeping last saw them.
        var waiting = 0
        var paused = false
        var flushing = 0
    }
    let timeout: Duration?
    private let state: Mutex<State>

    init(timeout: Duration?, now: ContinuousClock.Instant = .now) {
        self.timeout = timeout
        state = Mutex(State(lastRead: now, lastFlush: now))
    }

    /// The read loop handled a batch, or the reader retried its connection.
    func readProgress(now: ContinuousClock.Instant = .now) { state.withLock { $0.lastRead = now } }

    /// A flush started, or one of its attempts ended (written, or failed and retried).
    func flushProgress(now: ContinuousClock.Instant = .now) { state.withLock { $0.lastFlush = now } }

    func flushStarted(now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            if s.flushing == 0 { s.lastFlush = now }
            s.flushing += 1
        }
    }

    func flushEnded(now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            s.flushing -= 1
            s.lastFlush = now
        }
    }

    /// Entries waiting to be read (XINFO GROUPS lag); work appearing starts the reader's clock.
    func waiting(_ n: Int, now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            if s.waiting == 0 && n > 0 { s.lastRead = now }
            s.waiting = n
        }
    }

    /// Reading paused because memory is at the limit (the flushes are expected to move instead).
    func paused(_ on: Bool, now: ContinuousClock.Instant = .now) {
        state.withLock { s in
            if s.paused && !on { s.lastRead = now }
            s.paused = on
        }
    }

    /// Nil while alive, else what is stuck.
    func check(now: ContinuousClock.Instant = .now) -> String? {
        guard let timeout else { return nil }
        return state.withLock { s -> String? in
            let readIdle = s.lastRead.duration(to: now), flushIdle = s.lastFlush.duration(to: now)
            if s.flushing > 0 && flushIdle > timeout {
                return "no flush attempt ended for \(Int(flushIdle.seconds)) s while \(s.flushing) file(s) are being written"
            }
            if s.waiting > 0 && !s.paused && readIdle > timeout {
                return "the read loop made no progress for \(Int(readIdle.seconds)) s while \(s.waiting) entries wait"
            }
            return nil
        }
    }
}
