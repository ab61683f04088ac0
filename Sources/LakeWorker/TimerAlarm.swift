import Synchronization

/// The worker timer's sleep: until a deadline (nil: until woken), cut short by ``wake()``.
///
/// A wake that comes while nobody sleeps is kept, so the next ``sleep(until:)`` returns at once:
/// a buffer created between the timer's tick and its sleep is never missed.
package final class TimerAlarm: Sendable {
    private struct State {
        var sleeper: Task<Void, Never>?
        var pending = false
    }
    private let state = Mutex(State())

    package init() {}

    /// Returns at `deadline`, at a ``wake()``, or when the calling task is cancelled.
    package func sleep(until deadline: ContinuousClock.Instant?) async {
        let sleeper = Task { () -> Void in
            if let deadline {
                try? await Task.sleep(until: deadline, clock: .continuous)
            } else {
                try? await Task.sleep(for: .seconds(86_400))
            }
        }
        let woken = state.withLock { s -> Bool in
            if s.pending {
                s.pending = false
                return true
            }
            s.sleeper = sleeper
            return false
        }
        if woken { sleeper.cancel() }
        await withTaskCancellationHandler {
            await sleeper.value
        } onCancel: {
            sleeper.cancel()
        }
        state.withLock { $0.sleeper = nil }
    }

    /// Ends the current sleep, or the next one if nobody sleeps now.
    package func wake() {
        state.withLock { s in
            if let t = s.sleeper {
                t.cancel()
                s.sleeper = nil
            } else {
                s.pending = true
            }
        }
    }
}
