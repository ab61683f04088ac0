import LakeModel
import LakeOutput
import LakeDecoding
import Dispatch
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// `lakewriter run`: the worker and its HTTP endpoint in one service group, drained on
/// SIGTERM/SIGINT. A second signal exits at once without acknowledging anything more.
public enum WorkerMain {
    /// Exit code when a second signal or the end of `flush.shutdown_grace` cut the drain short
    /// (the entries not yet written stay pending). The backfill uses the same code when interrupted.
    public static let interruptedExitCode: Int32 = 130

    /// Loads the configuration (exit code 2 when it is invalid) and runs the worker; `logLevel`
    /// (`--log-level`) overrides `log.level`.
    public static func run(configPath: String, logLevel: String? = nil) async -> Int32 {
        var config: LakewriterConfig
        do {
            config = try ConfigLoader().load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 2
        }
        if let logLevel { config.log.level = logLevel }
        if let missing = await config.storage.missingCredentials() {
            FileHandle.standardError.write(Data("error: \(configPath): \(missing)\n".utf8))
            return 2
        }
        return await run(config: config)
    }

    /// Runs until a signal drains the worker; returns the process exit code.
    public static func run(config: LakewriterConfig) async -> Int32 {
        LogOutput.bootstrap(config.log)
        var logger = Logger(label: "lakewriter")
        logger.logLevel = Logger.Level(rawValue: config.log.level) ?? .info
        let metrics = WorkerMetrics()
        let count = Counter()
        do {
            let worker = try LakewriterWorker(config: config, logger: logger, metrics: metrics)
            let http = try HealthServer(listen: config.http.listen, metrics: metrics, logger: logger,
                                        readiness: { await worker.readiness() }, liveness: { worker.liveness() })
            // Services shut down in reverse order: the worker drains first, the HTTP endpoint
            // (metrics, readiness) stays up until it has.
            var groupConfig = ServiceGroupConfiguration(
                services: [.init(service: http), .init(service: worker, successTerminationBehavior: .gracefullyShutdownGroup)],
                logger: logger)
            groupConfig.maximumGracefulShutdownDuration = config.flush.shutdownGrace
            let group = ServiceGroup(configuration: groupConfig)
            let signals = installSignalHandlers(group: group, logger: logger, count: count)
            defer { for s in signals { s.cancel() } }
            try await group.run()
            return 0
        } catch {
            switch exitCode(for: error, drainStarted: count.firstSignal, grace: config.flush.shutdownGrace) {
            case interruptedExitCode:
                logger.error("shutdown grace exceeded: exiting with 130; unwritten entries stay pending and are read again on the next start",
                             metadata: ["flush.shutdown_grace": "\(config.flush.shutdownGrace)"])
                return interruptedExitCode
            default:
                logger.error("lakewriter stopped on an error", metadata: ["error": "\(error)"])
                return 1
            }
        }
    }

    /// 130 when the drain was cut short by `flush.shutdown_grace`, else 1. When the grace ends,
    /// the service group cancels every service, and whichever stops first reports the
    /// cancellation (`CancellationError`, or the worker's `shutdownGraceExceeded`): any error
    /// after the grace has run out since the first signal is that cut, not a failure of its own.
    static func exitCode(for error: any Error, drainStarted: ContinuousClock.Instant?, grace: Duration,
                         now: ContinuousClock.Instant = .now) -> Int32 {
        if let e = error as? WorkerError, e == .shutdownGraceExceeded { return interruptedExitCode }
        if let drainStarted, drainStarted.duration(to: now) >= grace { return interruptedExitCode }
        return 1
    }

    /// The first SIGTERM/SIGINT starts the graceful drain; the second ends the process at once.
    /// The signals are ignored first, so their default action (termination) never applies.
    static func installSignalHandlers(group: ServiceGroup, logger: Logger, count: Counter) -> [DispatchSourceSignal] {
        return [SIGTERM, SIGINT].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if count.increment() == 1 {
                    logger.info("signal received: draining (a second signal exits at once)", metadata: ["signal": "\(sig)"])
                    Task { await group.triggerGracefulShutdown() }
                } else {
                    FileHandle.standardError.write(Data("lakewriter: second signal, exiting without draining\n".utf8))
                    _exit(interruptedExitCode)
                }
            }
            source.resume()
            return source
        }
    }

    /// Signals received so far (from the global queue's signal handlers), and when the first came.
    final class Counter: Sendable {
        private let state = Mutex((n: 0, first: ContinuousClock.Instant?.none))
        func increment() -> Int {
            state.withLock {
                $0.n += 1
                if $0.first == nil { $0.first = .now }
                return $0.n
            }
        }
        var firstSignal: ContinuousClock.Instant? { state.withLock { $0.first } }
    }
}

/// Errors that end the worker.
public enum WorkerError: Error, Equatable, CustomStringConvertible {
    /// Uploads were still running when `flush.shutdown_grace` ended; their entries stay pending.
    case shutdownGraceExceeded
    /// Another worker runs with the same consumer name (its lease key is held and renewed).
    case consumerInUse(String)
    /// A configuration the Redis deployment cannot serve (streams of a cluster without hash tags).
    case redisLayout(String)

    public var description: String {
        switch self {
        case .redisLayout(let why): why
        case .shutdownGraceExceeded: "shutdown grace exceeded with uploads in flight"
        case .consumerInUse(let key):
            "another worker is running with the same redis.consumer (lease \(key) is held and renewed): "
                + "give each replica its own consumer name ($HOSTNAME by default)"
        }
    }
}
