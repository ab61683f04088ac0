/// The one retry-delay formula of the package (Redis reconnects and commands, S3 requests, the
/// worker's upload and acknowledgement retries): exponential from `initial`, capped at
/// `maximum`, with jitter so that many workers do not hammer a restarting server in lock-step.
public struct Backoff: Sendable, Equatable {
    /// How the delay is drawn under the ceiling d = min(maximum, initial·2^attempt).
    public enum Jitter: Sendable, Equatable {
        /// Uniform in [d/2, d]: spread, but never an immediate retry (reconnects, the worker).
        case equal
        /// Uniform in [0, d] (AWS's recommendation for request retries: many parallel part
        /// uploads retrying spread the most).
        case full
    }

    /// First delay. Default 50 ms.
    public var initial: Duration
    /// Largest delay. Default 2 s.
    public var maximum: Duration

    public var jitter: Jitter

    public init(initial: Duration = .milliseconds(50), maximum: Duration = .seconds(2), jitter: Jitter = .equal) {
        self.initial = initial
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (0-based: 0 is the first retry), drawn under the
    /// ceiling d = min(maximum, initial·2^attempt) as `jitter` says.
    public func delay(attempt: Int) -> Duration {
        let d = ceiling(attempt: attempt)
        let ns = d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
        guard ns > 1 else { return d }
        switch jitter {
        case .equal: return .nanoseconds(ns / 2 + Int64.random(in: 0...(ns / 2)))
        case .full: return .nanoseconds(Int64.random(in: 0...ns))
        }
    }

    /// The largest delay attempt `attempt` can draw: min(maximum, initial·2^attempt).
    public func ceiling(attempt: Int) -> Duration {
        min(initial * (1 << min(max(attempt, 0), 20)), maximum)
    }
}
