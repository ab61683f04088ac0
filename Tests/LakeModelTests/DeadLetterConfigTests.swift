@testable import LakeModel
import Testing

/// `redis.max_deliveries` and the `dead_letters` breaker keys: defaults, `none`/`off`, and the
/// errors for values out of range.
@Suite struct DeadLetterConfigTests {
    let entity = "entities: {e: {stream: s, columns: {a: int64}}}\n"

    @Test func defaultsAndExplicitValues() throws {
        let d = try ConfigLoader(environment: [:]).load(yaml: entity)
        #expect(d.redis.maxDeliveries == 10)
        #expect(d.deadLetters == DeadLetterConfig())
        #expect(d.deadLetters.breaker && d.deadLetters.breakerRatio == 0.5 && d.deadLetters.breakerWindow == .seconds(60)
                && d.deadLetters.breakerMinEntries == 20)
        let c = try ConfigLoader(environment: [:]).load(yaml: """
            redis: {max_deliveries: none}
            dead_letters: {breaker: off, breaker_ratio: 0.25, breaker_window: 5m, breaker_min_entries: 100}
            """ + "\n" + entity)
        #expect(c.redis.maxDeliveries == nil)
        #expect(!c.deadLetters.breaker && c.deadLetters.breakerRatio == 0.25 && c.deadLetters.breakerWindow == .seconds(300)
                && c.deadLetters.breakerMinEntries == 100)
        #expect(c.maskedYAML.contains("max_deliveries: none") && c.maskedYAML.contains("breaker: off"))
        #expect(try ConfigLoader(environment: [:]).load(yaml: c.maskedYAML) == c)
        #expect(try ConfigLoader(environment: [:]).load(yaml: "redis: {max_deliveries: 3}\n" + entity).redis.maxDeliveries == 3)
    }

    @Test func outOfRangeValuesAreErrorsWithTheirKey() throws {
        for (yaml, message) in [
            ("redis: {max_deliveries: 0}", "redis.max_deliveries: must be at least 1"),
            ("redis: {max_deliveries: many}", "redis.max_deliveries: expected an integer"),
            ("dead_letters: {breaker_ratio: 1.5}", "dead_letters.breaker_ratio: expected a share between 0 and 1"),
            ("dead_letters: {breaker_ratio: 0}", "dead_letters.breaker_ratio: expected a share between 0 and 1"),
            ("dead_letters: {breaker_window: 100ms}", "dead_letters.breaker_window: must be between 1s and 24h"),
            ("dead_letters: {breaker_min_entries: 0}", "dead_letters.breaker_min_entries: must be at least 1"),
            ("dead_letters: {breaker: maybe}", "dead_letters.breaker: expected true or false"),
            ("dead_letters: {ratio: 0.5}", "dead_letters.ratio: unknown key"),
        ] {
            #expect(throws: ConfigError.self) { try ConfigLoader(environment: [:]).load(yaml: yaml + "\n" + entity) }
            do {
                _ = try ConfigLoader(environment: [:]).load(yaml: yaml + "\n" + entity)
            } catch {
                #expect("\(error)".contains(message), "\(yaml): \(error)")
            }
        }
    }
}
