import Foundation
import Logging

/// The thread behind ``RedisStreamClient``: one hiredis connection, a queue of commands from any
/// task, and pipelining: every command queued while the previous round trip was in flight is sent
/// in one write and its replies read back in order, so many concurrent XACKs cost one round trip.
///
/// `@unchecked Sendable`: the queue, `stopped` and `status` are only touched with `condition`
/// locked; the connection is a local of the thread's loop and never leaves that thread.
final class CommandThread: @unchecked Sendable {
    struct Job {
        var argv: Argv
        var operation: String
        var stream: String?
        /// Safe to send again when the connection broke before its reply arrived (XACK, reads).
        var retryable: Bool
        var attempts = 0
        /// Called on the thread with the reply (valid only during the call) or the error.
        var deliver: @Sendable (Result<Reply, RedisError>) -> Void
    }

    private let configuration: RedisConfiguration
    private let maxAttempts: Int
    private let backoff: Backoff
    private let logger: Logger
    private let condition = NSCondition()
    private var queue: [Job] = []
    private var stopped = false
    private var status = ConnectionStatus()

    /// The cluster slot whose owner this thread talks to (nil: any node, or not a cluster).
    private let slot: Int?

    init(configuration: RedisConfiguration, maxAttempts: Int, backoff: Backoff, logger: Logger, slot: Int? = nil) {
        self.configuration = configuration
        self.slot = slot
        self.maxAttempts = max(1, maxAttempts)
        self.backoff = backoff
        self.logger = logger
        BlockingThread.start(name: "redis-commands") { [self] in loop() }
    }

    var currentStatus: ConnectionStatus {
        condition.lock()
        defer { condition.unlock() }
        return status
    }

    func submit(_ job: Job) {
        condition.lock()
        if stopped {
            condition.unlock()
            job.deliver(.failure(RedisError(.stopped, operation: job.operation, stream: job.stream,
                                            message: "the client was closed")))
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Runs one command on the thread and decodes its reply there.
    func run<T: Sendable>(_ argv: Argv, operation: String, stream: String?, retryable: Bool,
                          decode: @escaping @Sendable (Reply) throws(RedisError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, Error>) in
            submit(Job(argv: argv, operation: operation, stream: stream, retryable: retryable) { result in
                switch result {
                case .success(let reply):
                    do { continuation.resume(returning: try decode(reply)) } catch {
                        continuation.resume(throwing: error)
                    }
                case .failure(let error):
                    continuation.resume(throwing: error)
                }
            })
        }
    }

    private func record(_ error: RedisError, state: ConnectionStatus.State? = nil) {
        condition.lock()
        status.errors += 1
        status.lastError = error
        if let state { status.state = state }
        condition.unlock()
    }

    private func loop() {
        var connection: RedisConnection?
        var everConnected = false
        var route = Route(slot: slot)
        while true {
            condition.lock()
            while queue.isEmpty && !stopped { condition.wait() }
            if stopped {
                let rest = queue
                queue.removeAll()
                status.state = .stopped
                condition.unlock()
                for job in rest {
                    job.deliver(.failure(RedisError(.stopped, operation: job.operation, stream: job.stream,
                                                    message: "the client was closed")))
                }
                return
            }
            var jobs = queue
            queue.removeAll()
            condition.unlock()

            if connection?.isStale == true {
                logger.info("the sentinels named a new master, reconnecting")
                connection = nil
            }
            var attempt = 0
            while connection == nil {
                do {
                    connection = try NodeResolver.open(configuration, socketTimeout: configuration.commandTimeout,
                                                       clientName: "lakewriter-commands", route: route)
                    condition.lock()
                    if everConnected { status.reconnects += 1 }
                    status.state = .connected
                    condition.unlock()
                    everConnected = true
                    logger.debug("redis command connection open", metadata: ["redis.endpoint": "\(configuration)"])
                } catch {
                    attempt += 1
                    record(error, state: error.isRetryable ? .reconnecting : .failed)
                    if !error.isRetryable || attempt >= maxAttempts || isStopped {
                        logger.warning("redis command connection failed", metadata: ["redis.error": "\(error)"])
                        for job in jobs { job.deliver(.failure(error.with(stream: job.stream))) }
                        jobs = []
                        break
                    }
                    sleep(backoff.delay(attempt: attempt - 1))
                }
            }
            guard let conn = connection, !jobs.isEmpty else { continue }

            // Pipeline: queue everything, then read the replies in order.
            var retry: [Job] = []
            var broken: RedisError?
            for job in jobs {
                do { try conn.append(job.argv, operation: job.operation, stream: job.stream) } catch {
                    broken = error
                    break
                }
            }
            var loadingDelay = false
            var redirected: RedisError?
            for var job in jobs {
                if let broken {
                    job.attempts += 1
                    if job.retryable && job.attempts < maxAttempts { retry.append(job) } else {
                        job.deliver(.failure(broken.with(stream: job.stream)))
                    }
                    continue
                }
                do {
                    try conn.readReply(operation: job.operation, stream: job.stream) { reply in
                        job.deliver(.success(reply))
                    }
                } catch where error.breaksConnection {
                    broken = error
                    record(error, state: .reconnecting)
                    logger.warning("redis command connection lost", metadata: ["redis.error": "\(error)"])
                    job.attempts += 1
                    if job.retryable && job.attempts < maxAttempts { retry.append(job) } else {
                        job.deliver(.failure(error))
                    }
                } catch where error.isRedirect && route.redirects < 64 {
                    // Not run on this node (MOVED, ASK, READONLY, CLUSTERDOWN, TRYAGAIN): safe to
                    // send again to the right one, whatever the command.
                    if redirected == nil { redirected = error }
                    retry.append(job)
                } catch where error.code == .loading && job.retryable && job.attempts + 1 < maxAttempts {
                    job.attempts += 1
                    loadingDelay = true
                    retry.append(job)
                } catch {
                    if error.code != .busyGroup { record(error) }
                    job.deliver(.failure(error))
                }
            }
            if broken != nil {
                connection = nil
                route.reset()
            }
            if let redirected {
                connection = nil
                logger.info("redis redirected a command, reconnecting", metadata: ["redis.error": "\(redirected)"])
                if route.follow(redirected) { sleep(backoff.delay(attempt: min(route.redirects, 8))) }
            } else if broken == nil {
                route.succeeded()
            }
            if !retry.isEmpty {
                if loadingDelay { sleep(backoff.delay(attempt: retry[0].attempts)) }
                condition.lock()
                queue.insert(contentsOf: retry, at: 0)
                condition.unlock()
            }
        }
    }

    private var isStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }

    private func sleep(_ d: Duration) {
        condition.lock()
        _ = condition.wait(for: d) { stopped }
        condition.unlock()
    }
}
