import Logging
import RedisStreams

/// One worker per consumer name: a lease key `lakewriter:lease:{group}:{consumer}` holding a
/// random token, set with `SET … NX PX ttl` at start and renewed by the housekeeping loop.
///
/// Two workers with the same consumer name would both process the same pending entries
/// (everything written twice, silently). A worker that finds the lease held waits up to two
/// lease periods for it to lapse (a crashed worker's lease expires, so a restart waits at most
/// `redis.consumer_lease`), then refuses to start with ``WorkerError/consumerInUse(_:)``.
final class ConsumerLease: Sendable {
    let key: String
    let token: String
    let ttl: Duration
    let client: RedisStreamClient

    init(client: RedisStreamClient, group: String, consumer: String, ttl: Duration) {
        self.client = client
        self.key = "lakewriter:lease:\(group):\(consumer)"
        self.ttl = ttl
        var rng = SystemRandomNumberGenerator()
        self.token = String(rng.next(), radix: 36) + String(rng.next(), radix: 36)
    }

    var ttlMillis: String { String(max(1, ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)) }

    /// Takes the lease, waiting while another worker holds it (up to two lease periods).
    func acquire(logger: Logger) async throws {
        let deadline = ContinuousClock.now + ttl * 2
        var warned = false
        while true {
            let r = try await client.command(["SET", key, token, "NX", "PX", ttlMillis])
            if r.text == "OK" { return }
            if ContinuousClock.now >= deadline {
                throw WorkerError.consumerInUse(key)
            }
            if !warned {
                warned = true
                logger.warning("another worker holds this consumer name; waiting for its lease to lapse", metadata: [
                    "lease": "\(key)", "lease_ttl": "\(ttl)",
                ])
            }
            try await Task.sleep(for: min(ttl / 3, .seconds(5)))
        }
    }

    static let renewScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
        if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 2 end
        return 0
        """
    static let releaseScript = """
        if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
        return 0
        """

    /// Extends the lease (or takes it again when it lapsed meanwhile); false when another worker
    /// holds it now.
    func renew() async throws -> Bool {
        let r = try await client.command(["EVAL", Self.renewScript, "1", key, token, ttlMillis])
        return (r.int ?? 0) != 0
    }

    /// Gives the lease up (only if it is still ours), so a restart can start at once.
    func release() async {
        _ = try? await client.command(["EVAL", Self.releaseScript, "1", key, token])
    }
}
