import RedisStreams
import Testing

@Suite("URL parsing and small types")
struct ConfigurationTests {
    @Test func plainTCP() throws {
        let c = try RedisConfiguration(url: "redis://cache.internal:6380/4")
        #expect(c.endpoint == .tcp(host: "cache.internal", port: 6380))
        #expect(c.database == 4)
        #expect(c.username == nil && c.password == nil)
    }

    @Test func defaults() throws {
        let c = try RedisConfiguration(url: "redis://localhost")
        #expect(c.endpoint == .tcp(host: "localhost", port: 6379))
        #expect(c.database == 0)
        let d = try RedisConfiguration(url: "redis://localhost/")
        #expect(d.database == 0)
    }

    @Test func credentials() throws {
        let acl = try RedisConfiguration(url: "redis://worker:s%40cr%3At@10.0.0.2:6379/1")
        #expect(acl.username == "worker")
        #expect(acl.password == "s@cr:t")
        #expect(acl.endpoint == .tcp(host: "10.0.0.2", port: 6379))
        let passOnly = try RedisConfiguration(url: "redis://:hunter2@host:1/0")
        #expect(passOnly.username == nil)
        #expect(passOnly.password == "hunter2")
        let lone = try RedisConfiguration(url: "redis://hunter2@host")
        #expect(lone.password == "hunter2" && lone.username == nil)
    }

    @Test func descriptionHidesPassword() throws {
        let c = try RedisConfiguration(url: "redis://worker:topsecret@host:7000/2")
        #expect(c.description == "redis://worker:***@host:7000/2")
        #expect(!"\(c)".contains("topsecret"))
        #expect(!String(reflecting: c).contains("topsecret"))
        var dumped = ""
        dump(c, to: &dumped)
        #expect(!dumped.contains("topsecret"))
    }

    @Test func ipv6() throws {
        let c = try RedisConfiguration(url: "redis://[::1]:7001/3")
        #expect(c.endpoint == .tcp(host: "::1", port: 7001))
        #expect(c.description == "redis://[::1]:7001/3")
    }

    @Test func unixSockets() throws {
        #expect(try RedisConfiguration(url: "/run/redis/redis.sock").endpoint == .unixSocket(path: "/run/redis/redis.sock"))
        let u = try RedisConfiguration(url: "unix:///tmp/r.sock?db=3")
        #expect(u.endpoint == .unixSocket(path: "/tmp/r.sock"))
        #expect(u.database == 3)
        let auth = try RedisConfiguration(url: "unix://me:pw@/tmp/r.sock")
        #expect(auth.username == "me" && auth.password == "pw")
        #expect(auth.endpoint == .unixSocket(path: "/tmp/r.sock"))
    }

    @Test(arguments: [
        "http://host:6379", "redis://host:0", "redis://host:99999", "redis://host:abc/0", "redis://host/-1",
        "redis://host/x", "unix://", "host:6379", "redis://[::1/0", "redis://host/0?timeout=3", "redis://u:%zz@host",
    ])
    func rejected(url: String) {
        #expect {
            try RedisConfiguration(url: url)
        } throws: { ($0 as? RedisError)?.code == .invalidURL }
    }

    @Test func invalidURLErrorHidesPassword() {
        do {
            _ = try RedisConfiguration(url: "redis://user:supersecret@host:notaport/0")
            Issue.record("should have thrown")
        } catch {
            #expect(error.code == .invalidURL)
            #expect(!"\(error)".contains("supersecret"))
        }
    }

    @Test func tlsURLs() throws {
        let c = try RedisConfiguration(url: "rediss://user:supersecret@redis.example.com:6380/2")
        #expect(c.tls == RedisConfiguration.TLS())
        #expect(c.endpoint == .tcp(host: "redis.example.com", port: 6380) && c.database == 2)
        #expect(c.description == "rediss://user:***@redis.example.com:6380/2")
        #expect(try RedisConfiguration(url: "redis://h").tls == nil)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis+tls://h") }
    }

    @Test func streamIDs() {
        #expect(StreamID("1700000000000-5") == StreamID(milliseconds: 1_700_000_000_000, sequence: 5))
        #expect(StreamID("42") == StreamID(milliseconds: 42, sequence: 0))
        #expect(StreamID("1-") == nil)
        #expect(StreamID("-1") == nil)
        #expect(StreamID("1-2-3") == nil)
        #expect(StreamID("99999999999999999999-0") == nil)  // overflows UInt64
        #expect(StreamID("5-1")! < StreamID("5-2")!)
        #expect(StreamID("4-9")! < StreamID("5-0")!)
        #expect(StreamID(milliseconds: 18_446_744_073_709_551_615, sequence: 0).description == "18446744073709551615-0")
    }

    @Test func backoffIsCappedAndJittered() {
        let b = Backoff(initial: .milliseconds(100), maximum: .seconds(1))
        for attempt in 0..<30 {
            let d = b.delay(attempt: attempt)
            let cap = min(Duration.milliseconds(100) * (1 << min(attempt, 20)), .seconds(1))
            #expect(d <= cap && d >= cap / 2)
        }
        let draws = Set((0..<20).map { _ in b.delay(attempt: 5) })
        #expect(draws.count > 1)
    }
}
