import Foundation
import Logging
import Synchronization

/// Where `S3ObjectStore` gets the credentials it signs each request with.
public protocol S3CredentialProvider: Sendable {
    /// Credentials valid now (fetched or refreshed when needed).
    func credentials() async throws -> S3Credentials
    /// Where they come from, for logs and `check-config` (never a secret).
    var source: String { get }
}

/// Fixed credentials: configuration keys, the environment or a profile's static keys.
public struct StaticCredentialProvider: S3CredentialProvider {
    public let value: S3Credentials
    public let source: String

    public init(_ value: S3Credentials, source: String = "static keys") {
        self.value = value
        self.source = source
    }

    public func credentials() async throws -> S3Credentials { value }
}

/// When temporary credentials are refreshed.
public struct CredentialRefresh: Sendable {
    /// Credentials are refreshed this long before their expiration (the SDKs use 5 minutes).
    public var before: Duration
    /// Credentials are never used this close to their expiration: a request must not reach the
    /// server after they expired.
    public var margin: Duration
    /// After a failed refresh (or one that returned credentials already due for refresh), the
    /// next attempt waits this long while the current credentials stay usable.
    public var retryInterval: Duration
    /// The wall clock expirations are compared with (a manual one in tests).
    public var now: @Sendable () -> Date

    public init(before: Duration = .seconds(300), margin: Duration = .seconds(15), retryInterval: Duration = .seconds(10),
                now: @escaping @Sendable () -> Date = { Date() }) {
        self.before = before
        self.margin = margin
        self.retryInterval = retryInterval
        self.now = now
    }
}

/// Temporary credentials from a fetch (STS, the container endpoint, instance metadata), kept
/// until `refresh.before` their expiration.
///
/// Concurrent callers during a fetch share it. A failed refresh while the current credentials
/// are still usable (more than `refresh.margin` before expiring) logs a warning and keeps them;
/// once they are past that margin, callers wait for a fetch and get its error.
public final class RefreshingCredentialProvider: S3CredentialProvider {
    public let source: String
    let refresh: CredentialRefresh
    let logger: Logger
    let fetch: @Sendable () async throws -> S3Credentials

    private struct State {
        var current: S3Credentials?
        var nextAttempt = Date.distantPast
        var inflight: Task<S3Credentials, any Error>?
        var fetches = 0
    }
    private let state = Mutex(State())

    public init(source: String, refresh: CredentialRefresh = CredentialRefresh(), logger: Logger,
                fetch: @escaping @Sendable () async throws -> S3Credentials) {
        self.source = source
        self.refresh = refresh
        self.logger = logger
        self.fetch = fetch
    }

    /// Fetches made so far (successful or not).
    public var fetchCount: Int { state.withLock { $0.fetches } }

    private enum Step {
        case use(S3Credentials)
        case wait(Task<S3Credentials, any Error>)
    }

    public func credentials() async throws -> S3Credentials {
        let now = refresh.now()
        let step: Step = state.withLock { s in
            if let c = s.current {
                guard let expiration = c.expiration else { return .use(c) }
                if now < expiration - refresh.before.timeInterval { return .use(c) }
                if now < expiration - refresh.margin.timeInterval, now < s.nextAttempt { return .use(c) }
            }
            if let task = s.inflight { return .wait(task) }
            let task = Task { try await self.runFetch() }
            s.inflight = task
            return .wait(task)
        }
        switch step {
        case .use(let c): return c
        case .wait(let task): return try await task.value
        }
    }

    /// One fetch (unstructured, so a cancelled caller does not cancel the fetch others share).
    private func runFetch() async throws -> S3Credentials {
        let outcome: Result<S3Credentials, any Error>
        do {
            let fresh = try await fetch()
            if let expiration = fresh.expiration, expiration - refresh.margin.timeInterval <= refresh.now() {
                throw ObjectStoreError(code: .invalidResponse, operation: "GetCredentials",
                                       message: "credentials from \(source) expire at \(expiration), too soon to use")
            }
            outcome = .success(fresh)
        } catch {
            outcome = .failure(error)
        }
        let retryAt = refresh.now() + refresh.retryInterval.timeInterval
        let fallback: S3Credentials? = state.withLock { s in
            s.inflight = nil
            s.fetches += 1
            s.nextAttempt = retryAt
            switch outcome {
            case .success(let fresh):
                s.current = fresh
                return nil
            case .failure:
                if let c = s.current, let expiration = c.expiration, refresh.now() < expiration - refresh.margin.timeInterval {
                    return c
                }
                return nil
            }
        }
        switch outcome {
        case .success(let fresh):
            logger.debug("credentials fetched", metadata: [
                "credentials.source": "\(source)",
                "credentials.expiration": "\(fresh.expiration.map { "\($0)" } ?? "none")",
            ])
            return fresh
        case .failure(let error):
            guard let fallback else { throw error }
            logger.warning("credential refresh failed, using the current credentials until they expire", metadata: [
                "credentials.source": "\(source)", "credentials.expiration": "\(fallback.expiration.map { "\($0)" } ?? "none")",
                "error": "\(error)",
            ])
            return fallback
        }
    }
}

extension Duration {
    var timeInterval: TimeInterval {
        let c = components
        return Double(c.seconds) + Double(c.attoseconds) / 1e18
    }
}
