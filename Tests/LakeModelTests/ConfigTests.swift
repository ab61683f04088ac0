@testable import LakeModel
import Foundation
import Testing
import TestSupport

@Suite struct ConfigTests {

    func load(_ yaml: String, env: [String: String] = Fixtures.exampleEnvironment) throws(ConfigError) -> LakewriterConfig {
        try ConfigLoader(environment: env).load(yaml: yaml, file: "test.yaml")
    }

    func expectError(_ yaml: String, env: [String: String] = [:], path: String, line: Int?, contains text: String,
                     sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try load(yaml, env: env)
            Issue.record("expected an error at \(path)", sourceLocation: sourceLocation)
        } catch {
            #expect(error.keyPath == path, "\(error)", sourceLocation: sourceLocation)
            #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(text), "\(error)", sourceLocation: sourceLocation)
            #expect(error.description.hasPrefix("test.yaml"), sourceLocation: sourceLocation)
        }
    }

    @Test func issueExampleParses() throws {
        let c = try load(Fixtures.exampleConfig)
        #expect(c.redis.url == "redis://127.0.0.1:6379/0")
        #expect(c.redis.consumer == "lakewriter-1")
        #expect(c.redis.block == .seconds(1))
        #expect(c.redis.claimIdle == .seconds(300))
        #expect(c.storage.location == .s3(bucket: "lake", prefix: "events"))
        #expect(c.storage.endpoint == "http://127.0.0.1:9000")
        #expect(c.storage.pathStyle)
        #expect(c.storage.accessKeyID == "AKIAEXAMPLEKEY123456")
        #expect(c.parquet.compression == .snappy)
        #expect(c.parquet.pageBytes == 1 << 20)
        #expect(c.parquet.rowGroupBytes == 48 << 20)
        #expect(c.flush.maxBytes == 128 << 20)
        #expect(c.flush.maxAge == .seconds(60))
        #expect(c.flush.shutdownGrace == .seconds(25))
        #expect(c.http.host == "0.0.0.0" && c.http.port == 8083)
        let e = try #require(c.entity(named: "orders"))
        #expect(e.stream == "events:orders")
        #expect(e.payload == .json(field: "data"))
        #expect(e.timeColumn == "created_at")
        #expect(e.columns.map(\.name) == ["order_id", "amount", "created_at", "lines", "geo_lat"])
        #expect(e.columns[0].type == .uuid && !e.columns[0].nullable)
        #expect(e.columns[1].type == .decimal(precision: 12, scale: 2) && e.columns[1].nullable)
        #expect(e.columns[2].type == .timestamp(unit: .micros, utc: true))
        #expect(e.columns[3].type == .list(element: ColumnField(name: "element", type: .structure(fields: [
            ColumnField(name: "sku", type: .string), ColumnField(name: "qty", type: .int(bits: 32, signed: true)),
        ]))))
        #expect(e.columns[4].source == ["geo", "lat"])
    }

    @Test func defaults() throws {
        let c = try load("entities:\n  e:\n    stream: s\n    columns:\n      a: int64\n", env: [:])
        var expected = RedisConfig()
        expected.consumer = c.redis.consumer
        #expect(c.redis == expected)
        #expect(c.redis.start == .earliest)
        #expect(c.storage.url == "file://./lake" && c.storage.location == .file(path: "./lake"))
        #expect(!c.storage.pathStyle)
        #expect(c.parquet == ParquetConfig())
        #expect(c.flush == FlushConfig())
        #expect(c.http.listen == "0.0.0.0:8083")
        #expect(c.entities[0].payload == .fields && c.entities[0].unknownFields == .ignore && c.entities[0].timeColumn == nil)
        let withHost = try load("entities:\n  e:\n    stream: s\n    columns:\n      a: int64\n", env: ["HOSTNAME": "box7"])
        #expect(withHost.redis.consumer == "box7")
    }

    /// `redis.consumer` defaults to `$HOSTNAME`, else the machine's host name: never one constant
    /// that every VM would share; an explicit name wins; no name at all is an error naming the key.
    @Test func consumerDefaultsToTheHostName() throws {
        let yaml = "entities:\n  e:\n    stream: s\n    columns:\n      a: int64\n"
        // The kernel's host name, read independently of gethostname().
        let kernel = try String(contentsOfFile: "/proc/sys/kernel/hostname", encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(ConfigLoader.machineHostName() == kernel)
        let machine = try ConfigLoader(environment: [:]).load(yaml: yaml, file: "test.yaml")
        #expect(machine.redis.consumer == kernel && !kernel.isEmpty)
        #expect(machine.redis.consumer != "lakewriter-1")
        let other = try ConfigLoader(environment: [:], hostName: { "vm-b" }).load(yaml: yaml, file: "test.yaml")
        #expect(other.redis.consumer == "vm-b")
        let emptyHostVar = try ConfigLoader(environment: ["HOSTNAME": ""], hostName: { "vm-c" }).load(yaml: yaml, file: "test.yaml")
        #expect(emptyHostVar.redis.consumer == "vm-c")
        let pod = try ConfigLoader(environment: ["HOSTNAME": "lakewriter-2"], hostName: { "node-9" }).load(yaml: yaml, file: "test.yaml")
        #expect(pod.redis.consumer == "lakewriter-2")
        let explicit = try ConfigLoader(environment: ["HOSTNAME": "pod"], hostName: { "vm" })
            .load(yaml: "redis: {consumer: mine}\n" + yaml, file: "test.yaml")
        #expect(explicit.redis.consumer == "mine")
        #expect(throws: ConfigError.self) { try ConfigLoader(environment: [:], hostName: { nil }).load(yaml: yaml, file: "test.yaml") }
        do {
            _ = try ConfigLoader(environment: [:], hostName: { nil }).load(yaml: yaml, file: "test.yaml")
        } catch {
            #expect(error.keyPath == "redis.consumer" && error.message.contains("set redis.consumer"), "\(error)")
        }
    }

    /// `redis.start`: earliest (default), latest, or an entry id; anything else names the key and line.
    @Test func startPosition() throws {
        let yaml = "entities:\n  e:\n    stream: s\n    columns:\n      a: int64\n"
        #expect(try load("redis: {start: latest}\n" + yaml).redis.start == .latest)
        #expect(try load("redis: {start: earliest}\n" + yaml).redis.start == .earliest)
        #expect(try load("redis: {start: 1764582000000-5}\n" + yaml).redis.start == .id("1764582000000-5"))
        #expect(try load("redis: {start: \"1764582000000\"}\n" + yaml).redis.start == .id("1764582000000"))
        #expect(StartPosition.latest.streamID == "$" && StartPosition.earliest.streamID == "0")
        for bad in ["newest", "12-", "-1", "1-2-3", "18446744073709551616-0", "0x10", "\"\""] {
            expectError("redis:\n  start: \(bad)\n" + yaml, path: "redis.start", line: 2, contains: "expected earliest, latest or an entry id")
        }
        #expect(try load("redis: {start: latest}\n" + yaml).maskedYAML.contains("  start: \"latest\"\n"))
    }

    @Test func environmentExpansion() throws {
        let env = ["A": "x", "EMPTY": ""]
        #expect(try ConfigSyntax.expandEnvironment("${A}", environment: env).get() == "x")
        #expect(try ConfigSyntax.expandEnvironment("pre-${A}-post", environment: env).get() == "pre-x-post")
        #expect(try ConfigSyntax.expandEnvironment("${B:-dflt}", environment: env).get() == "dflt")
        #expect(try ConfigSyntax.expandEnvironment("${EMPTY:-dflt}", environment: env).get() == "dflt")
        #expect(try ConfigSyntax.expandEnvironment("${A:-dflt}", environment: env).get() == "x")
        #expect(try ConfigSyntax.expandEnvironment("${B:-}", environment: env).get() == "")
        #expect(try ConfigSyntax.expandEnvironment("$${A} costs $5", environment: env).get() == "${A} costs $5")
        #expect(try ConfigSyntax.expandEnvironment("${A}${A}", environment: env).get() == "xx")
        #expect(ConfigSyntax.expandEnvironment("${B}", environment: env) == .failure(.unset("B")))
        #expect(ConfigSyntax.expandEnvironment("${A", environment: env) == .failure(.unterminated))
        #expect(ConfigSyntax.expandEnvironment("${1A}", environment: env) == .failure(.badName("1A")))
        // Expansion applies to numbers, durations and sizes too.
        let c = try load("""
        redis: {batch: "${BATCH:-250}", block: "${BLOCK}"}
        flush: {max_bytes: "${MB:-2}MiB"}
        entities: {e: {stream: "${STREAM}", columns: {a: int64}}}
        """, env: ["BLOCK": "250ms", "STREAM": "events:e"])
        #expect(c.redis.batch == 250)
        #expect(c.redis.block == .milliseconds(250))
        #expect(c.flush.maxBytes == 2 << 20)
        #expect(c.entities[0].stream == "events:e")
    }

    @Test func unsetVariableNamesKeyAndLine() {
        expectError("""
        storage:
          url: s3://b/p
          access_key_id: "${NOPE_KEY}"
        entities: {e: {stream: s, columns: {a: int64}}}
        """, path: "storage.access_key_id", line: 3, contains: "NOPE_KEY is not set")
    }

    @Test func durations() {
        #expect(ConfigSyntax.parseDuration("250ms") == .milliseconds(250))
        #expect(ConfigSyntax.parseDuration("2s") == .seconds(2))
        #expect(ConfigSyntax.parseDuration("5m") == .seconds(300))
        #expect(ConfigSyntax.parseDuration("1h") == .seconds(3600))
        #expect(ConfigSyntax.parseDuration("1h30m") == .seconds(5400))
        #expect(ConfigSyntax.parseDuration("1.5s") == .milliseconds(1500))
        #expect(ConfigSyntax.parseDuration("0") == .zero)
        #expect(ConfigSyntax.parseDuration("10us") == .microseconds(10))
        for bad in ["", "5", "s", "5 parsecs", "-1s", "1x", "ms"] {
            #expect(ConfigSyntax.parseDuration(bad) == nil, "\(bad)")
        }
        #expect(ConfigSyntax.format(.milliseconds(250)) == "250ms")
        #expect(ConfigSyntax.format(.seconds(5400)) == "1h30m")
    }

    @Test func sizes() {
        #expect(ConfigSyntax.parseSize("64MiB") == 64 << 20)
        #expect(ConfigSyntax.parseSize("1GB") == 1_000_000_000)
        #expect(ConfigSyntax.parseSize("1KB") == 1000)
        #expect(ConfigSyntax.parseSize("1KiB") == 1024)
        #expect(ConfigSyntax.parseSize("1048576") == 1_048_576)
        #expect(ConfigSyntax.parseSize("1.5GiB") == 3 << 29)
        #expect(ConfigSyntax.parseSize("512M") == 512 << 20)
        for bad in ["", "MiB", "12 apples", "-1MiB", "1.2.3MB"] {
            #expect(ConfigSyntax.parseSize(bad) == nil, "\(bad)")
        }
        #expect(ConfigSyntax.formatSize(128 << 20) == "128MiB")
    }

    @Test func errorsCarryKeyPathAndLine() {
        expectError("redis:\n  blok: 1s\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "redis.blok", line: 2, contains: "unknown key")
        expectError("redis:\n  block: soon\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "redis.block", line: 2, contains: "expected a duration")
        expectError("flush:\n  max_bytes: lots\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "flush.max_bytes", line: 2, contains: "expected a size")
        expectError("redis:\n  batch: 0\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "redis.batch", line: 2, contains: "at least 1")
        expectError("""
        entities:
          orders:
            stream: s
            columns:
              id: uuid not null
              amount: decimal(40,2)
        """, path: "entities.orders.columns.amount", line: 6, contains: "precision must be 1…38")
        expectError("""
        entities:
          orders:
            stream: s
            columns:
              id: {type: "list<int32", source: a.b}
        """, path: "entities.orders.columns.id.type", line: 5, contains: "expected '>'")
        expectError("""
        entities:
          orders:
            stream: s
            columns:
              id: strin
        """, path: "entities.orders.columns.id", line: 5, contains: "unknown type 'strin'")
        expectError("""
        parquet:
          compression: lz4
        entities: {e: {stream: s, columns: {a: int64}}}
        """, path: "parquet.compression", line: 2, contains: "lz4_raw")
        expectError("""
        entities:
          e:
            stream: s
            time: a
            columns:
              a: int64
        """, path: "entities.e.time", line: 4, contains: "must be a timestamp or a date")
        expectError("""
        entities:
          e:
            stream: s
            time: nope
            columns:
              a: int64
        """, path: "entities.e.time", line: 4, contains: "no column named nope")
        expectError("""
        entities:
          e:
            stream: s
            payload: xml
            columns: {a: int64}
        """, path: "entities.e.payload", line: 4, contains: "json:FIELD or fields")
        expectError("""
        entities:
          e:
            stream: s
            unknown_fields: drop
            columns: {a: int64}
        """, path: "entities.e.unknown_fields", line: 4, contains: "ignore, reject, keep or evolve")
        expectError("""
        entities:
          e:
            columns: {a: int64}
        """, path: "entities.e.stream", line: 3, contains: "missing")
        expectError("""
        entities:
          e:
            stream: s
            columns:
              _stream_id: string
        """, path: "entities.e.columns._stream_id", line: 5, contains: "reserved")
        expectError("storage:\n  url: ftp://x\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "storage.url", line: 2, contains: "s3://bucket")
        expectError("http: {listen: nowhere}\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "http.listen", line: 1, contains: "HOST:PORT")
        expectError("redis: {url: redis://a}\nredis: {url: redis://b}\nentities: {e: {stream: s, columns: {a: int64}}}\n",
                    path: "redis", line: 2, contains: "duplicate key")
        expectError("redis: {url: 'redis://a'\n", path: "", line: 2, contains: "invalid YAML")
        expectError("redis: {}\n", path: "entities", line: nil, contains: "at least one entity")
    }

    @Test func sharedStreamsNeedRoutes() {
        expectError("""
        entities:
          a:
            stream: shared
            route: a
            columns: {x: int64}
          b:
            stream: shared
            columns: {x: int64}
        """, path: "entities.b.route", line: 7, contains: "needs `route:`")
        expectError("""
        entities:
          a:
            stream: shared
            route: same
            columns: {x: int64}
          b:
            stream: shared
            route: same
            columns: {x: int64}
        """, path: "entities.b.route", line: 7, contains: "already used by entity a")
    }

    @Test func resolvedStorageURL() {
        var s = StorageConfig()
        #expect(s.resolvedURL(relativeTo: "/srv") == "file:///srv/lake")
        s.url = "file:///var/lib/lake"
        #expect(s.resolvedURL(relativeTo: "/srv") == "file:///var/lib/lake")
        s.url = "s3://b/p"
        #expect(s.resolvedURL(relativeTo: "/srv") == "s3://b/p")
    }

    @Test func routedEntitiesParse() throws {
        let c = try load("""
        redis: {route_field: kind}
        entities:
          a: {stream: shared, route: a, payload: fields, columns: {x: int64}}
          b: {stream: shared, route: b, payload: "json:body", columns: {y: string}}
        """)
        #expect(c.redis.routeField == "kind")
        #expect(c.entities.map(\.route) == ["a", "b"])
        #expect(c.entities[1].payload == .json(field: "body"))
    }

    @Test func maskedOutputHidesSecrets() throws {
        var c = try load(Fixtures.exampleConfig)
        c.redis.url = "redis://app:hunter2@redis.internal:6379/0"
        let text = c.maskedYAML
        #expect(!text.contains("hunter2"))
        #expect(text.contains("redis://app:****@redis.internal:6379/0"))
        #expect(!text.contains("AKIAEXAMPLEKEY123456"))
        #expect(!text.contains("wJalrXUtnFEMI"))
        // Masked whole: not even the last characters.
        #expect(text.contains("access_key_id: \"****\"") && text.contains("secret_access_key: \"****\""))
        #expect(!text.contains("56\"") && !text.contains("EY\""))
        #expect(text.contains("geo_lat: {type: \"float64\", source: \"geo.lat\"}"))
        #expect(text.contains("lines: \"list<struct<sku:string, qty:int32>>\""))
        #expect(LakewriterConfig.maskURL("https://user:pw@host/x") == "https://user:****@host/x")
        #expect(LakewriterConfig.maskURL("redis://host:6379") == "redis://host:6379")
        // Passwords holding `/`, `#`, `?` or `@` are masked whole too.
        for pw in ["Hunter2/Secret", "a#b", "x?y=1", "p@ss", "/", "a/b@c#d?e"] {
            let masked = LakewriterConfig.maskURL("redis://u:\(pw)@redis.internal:6379/0")
            #expect(masked == "redis://u:****@redis.internal:6379/0", "\(pw) → \(masked)")
        }
        #expect(LakewriterConfig.maskURL("redis://Hunter2/Secret@h:6379") == "redis://****@h:6379")
        // The printed config loads back to the same values (secrets aside).
        let reloaded = try load(text.replacingOccurrences(of: "access_key_id: \"****\"", with: "access_key_id: AKIAEXAMPLEKEY123456")
            .replacingOccurrences(of: "secret_access_key: \"****\"", with: "secret_access_key: \"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\"")
            .replacingOccurrences(of: "app:****@", with: "app:hunter2@"))
        #expect(reloaded == c)
    }
}

@Suite struct MaxColumnsConfigTests {
    @Test func maxColumnsIsReadAndChecked() throws {
        let base = "entities:\n  e:\n    stream: s\n    unknown_fields: evolve\n"
        let c = try ConfigLoader(environment: [:]).load(yaml: base + "    max_columns: 20\n    columns:\n      a: int64\n")
        #expect(c.entities[0].maxColumns == 20)
        #expect(try ConfigLoader(environment: [:]).load(yaml: base + "    columns:\n      a: int64\n").entities[0].maxColumns == 1000)
        #expect(throws: ConfigError.self) {
            try ConfigLoader(environment: [:]).load(yaml: base + "    max_columns: 1\n    columns:\n      a: int64\n      b: int64\n")
        }
        #expect(c.maskedYAML.contains("max_columns: 20"))
    }
}
