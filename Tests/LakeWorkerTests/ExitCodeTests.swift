@testable import LakeWorker
import Testing

/// `lakewriter run`'s exit code when the service group ends on an error: 130 once the drain ran
/// past `flush.shutdown_grace` (whatever error the cancelled services report), else 1.
@Suite struct ExitCodeTests {
    struct Other: Error {}

    @Test func graceExceededIs130AndOtherErrorsAre1() {
        let now = ContinuousClock.now
        let grace = Duration.seconds(25)
        let signalled = now.advanced(by: .seconds(-26))
        #expect(WorkerMain.exitCode(for: CancellationError(), drainStarted: signalled, grace: grace, now: now) == 130)
        #expect(WorkerMain.exitCode(for: Other(), drainStarted: signalled, grace: grace, now: now) == 130)
        #expect(WorkerMain.exitCode(for: WorkerError.shutdownGraceExceeded, drainStarted: nil, grace: grace, now: now) == 130)
        // No signal yet, or still within the grace: a failure of its own.
        #expect(WorkerMain.exitCode(for: CancellationError(), drainStarted: nil, grace: grace, now: now) == 1)
        #expect(WorkerMain.exitCode(for: Other(), drainStarted: now.advanced(by: .seconds(-3)), grace: grace, now: now) == 1)
        #expect(WorkerMain.exitCode(for: WorkerError.consumerInUse("k"), drainStarted: nil, grace: grace, now: now) == 1)
    }
}
