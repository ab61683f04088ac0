import Foundation

/// Starts the dedicated OS thread a hiredis connection lives on. hiredis blocks in read(2) and
/// write(2), so its calls must never run on Swift's cooperative pool, where a blocked thread
/// starves every other task.
enum BlockingThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread {
            // hiredis writes with write(2): a server that closed the socket would raise SIGPIPE and
            // kill the process. Blocking it on this thread (the only one that touches the socket)
            // turns that into an EPIPE error, without changing the process-wide disposition.
            var set = sigset_t()
            sigemptyset(&set)
            sigaddset(&set, SIGPIPE)
            pthread_sigmask(SIG_BLOCK, &set, nil)
            body()
        }
        thread.name = name
        thread.start()
    }
}

extension NSCondition {
    /// Waits (the condition must be locked) until `deadline` or until `stop()` returns true,
    /// re-checking after each signal. Returns the final `stop()`.
    func wait(for duration: Duration, orUntil stop: () -> Bool) -> Bool {
        let c = duration.components
        let deadline = Date(timeIntervalSinceNow: Double(c.seconds) + Double(c.attoseconds) * 1e-18)
        while !stop() {
            if !wait(until: deadline) { break }
        }
        return stop()
    }
}
