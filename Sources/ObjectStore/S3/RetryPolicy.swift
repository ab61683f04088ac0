import Retrying
import Synchronization

/// When and how long to wait before retrying a failed S3 request.
///
/// Exponential backoff with full jitter (``Backoff``: a uniformly random delay between zero and
/// `min(maxDelay, baseDelay * 2^attempt)`), at most `maxAttempts` attempts per request,
/// and a retry budget shared by all requests of a store so a failing service is not
/// hammered by every in-flight part retrying in lockstep.
public struct RetryPolicy: Sendable {
    /// Attempts per request, the first one included. Default 5.
    public var maxAttempts: Int
    /// Default 100 ms.
    public var baseDelay: Duration
    /// Default 20 s.
    public var maxDelay: Duration
    /// Tokens in the shared budget. Default 500.
    public var budgetCapacity: Int
    /// Tokens a retry takes (a timeout takes twice as many). Default 5.
    public var retryCost: Int
    /// Tokens a success gives back. Default 1.
    public var successRefund: Int

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(100), maxDelay: Duration = .seconds(20),
                budgetCapacity: Int = 500, retryCost: Int = 5, successRefund: Int = 1) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.budgetCapacity = budgetCapacity
        self.retryCost = retryCost
        self.successRefund = successRefund
    }

    /// Never retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1 for the first retry): the package's one
    /// ``Backoff`` formula from `baseDelay` to `maxDelay`.
    func delay(beforeRetry retry: Int) -> Duration {
        Backoff(initial: baseDelay, maximum: maxDelay, jitter: .full).delay(attempt: retry - 1)
    }
}

/// Why a request is being retried, for metrics and logs.
public struct RetryEvent: Sendable {
    public var operation: String
    public var key: String?
    /// The attempt that failed (1-based).
    public var attempt: Int
    public var status: Int?
    public var reason: String
}

/// One attempt of one request, answered (`status`) or failed in transport (`status` nil), for
/// `lakewriter_store_requests_total{operation, status}`.
public struct RequestEvent: Sendable {
    public var operation: String
    public var status: Int?
}

/// A token bucket shared by every request of one store.
final class RetryBudget: Sendable {
    private let tokens: Mutex<Int>
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        self.tokens = Mutex(capacity)
    }

    /// Takes `cost` tokens if there are that many.
    func acquire(_ cost: Int) -> Bool {
        tokens.withLock { t in
            guard t >= cost else { return false }
            t -= cost
            return true
        }
    }

    func refund(_ amount: Int) {
        tokens.withLock { t in t = min(capacity, t + amount) }
    }

    var available: Int { tokens.withLock { $0 } }
}
