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
    /// Exit code when a second signal (or the end of the shutdown grace) cut the drain short.
    public static let interruptedExitCode: Int32 = 130

    /// Loads the configuration (exit code 2 when it is invalid) and runs the worker.
    public static func run(configPath: String) async -> Int32 {
        let config: LakewriterConfig
        do {
            config = try ConfigLoader().load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 2
        }
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
            let signals = installSignalHandlers(group: group, logger: logger)
            defer { for s in signals { s.cancel() } }
            try await group.run()
            return 0
        } catch let e as WorkerError where e == .shutdownGraceExceeded {
            logger.error("shutdown grace exceeded: unwritten entries stay pending and are read again on the next start")
            return interruptedExitCode
        } catch {
            logger.error("lakewriter stopped on an error", metadata: ["error": "\(error)"])
            return 1
        }
    }

    /// The first SIGTERM/SIGINT starts the graceful drain; the second ends the process at once.
    /// The signals are ignored first, so their default action (termination) never applies.
    static func installSignalHandlers(group: ServiceGroup, logger: Logger) -> [DispatchSourceSignal] {
        let count = Counter()
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

    /// Signals received so far (from the global queue's signal handlers).
    final class Counter: Sendable {
        private let n = Mutex(0)
        func increment() -> Int { n.withLock { $0 += 1; return $0 } }
    }
}

/// Errors that end the worker.
public enum WorkerError: Error, Equatable, CustomStringConvertible {
    /// Uploads were still running when `flush.shutdown_grace` ended; their entries stay pending.
    case shutdownGraceExceeded
    /// Another worker runs with the same consumer name (its lease key is held and renewed).
    case consumerInUse(String)

    public var description: String {
        switch self {
        case .shutdownGraceExceeded: "shutdown grace exceeded with uploads in flight"
        case .consumerInUse(let key):
            "another worker is running with the same redis.consumer (lease \(key) is held and renewed): "
                + "give each replica its own consumer name ($HOSTNAME by default)"
        }
    }
}
