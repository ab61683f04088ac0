import Testing
@testable import Lakehouse

@Suite struct TimeLocatorTests {
    func entity(_ yaml: String) throws -> EntityConfig {
        try ConfigLoader(environment: [:]).load(yaml: yaml).entities[0]
    }

    func micros(_ locator: TimeLocator, _ json: String) -> Int64? {
        var s = json
        return s.withUTF8 { locator.micros(json: UnsafeRawBufferPointer($0)) }
    }

    @Test func findsTopLevelAndNestedTimestamps() throws {
        let e = try entity("""
            entities:
              orders:
                stream: s
                payload: json:data
                time: created_at
                columns:
                  order_id: string
                  created_at: timestamp(us, utc)
            """)
        let t = TimeLocator(entity: e)
        let json = #"{"order_id": "x", "lines": [{"a": 1}], "n": {"k": "}"}, "created_at": "2026-11-21T19:01:55.147881+00:00", "z": 1}"#
        #expect(micros(t, json) == 1_795_287_715_147_881)
        #expect(micros(t, #"{"created_at": "2026-11-21T21:01:55+02:00"}"#) == 1_795_287_715_000_000)
        #expect(micros(t, #"{"created_at": 1795287715147}"#) == 1_795_287_715_147_000)  // epoch millis
        #expect(micros(t, #"{"created_at": null}"#) == nil)
        #expect(micros(t, #"{"other": 1}"#) == nil)
        #expect(micros(t, #"{"created_at": "yesterday"}"#) == nil)

        let nested = try entity("""
            entities:
              e:
                stream: s
                payload: json:data
                time: ts
                columns:
                  ts: {type: "timestamp(ms, utc)", source: meta.at}
            """)
        #expect(micros(TimeLocator(entity: nested), #"{"x": [1, 2], "meta": {"y": "q", "at": "1970-01-01T01:00:00Z"}}"#) == 3_600_000_000)
    }
}
