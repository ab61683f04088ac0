@testable import LakeModel
@testable import LakeDecoding
import Parquet
import Testing
import TestSupport

/// Decoding rules: accepted and rejected values for every type, and that a rejected row leaves
/// every column of the batch untouched.
@Suite struct DecoderTests {
    static let yaml = """
    entities:
      all:
        stream: s
        payload: json:data
        unknown_fields: reject
    \(Fixtures.allTypesColumns)
    """

    static func entity(_ yaml: String = DecoderTests.yaml, _ name: String = "all") throws -> EntityConfig {
        try #require(try ConfigLoader(environment: [:]).load(yaml: yaml).entity(named: name))
    }

    /// Decodes `json` as one row; returns the error, if any, after checking the batch's row counts.
    static func decode(_ decoder: EntityDecoder, _ batch: inout RowBatch, _ json: String) -> DecodeError? {
        let before = batch.columns.map(\.levelCount)
        let rowsBefore = batch.rowCount
        let id: StaticString = "1-0"
        let idBytes = UnsafeRawBufferPointer(start: id.utf8Start, count: id.utf8CodeUnitCount)
        if let error = withBytes(Array(json.utf8), { p throws(DecodeError) in
            try decoder.decodeJSON(p, streamID: idBytes, into: &batch)
        }) {
            #expect(batch.columns.map(\.levelCount) == before, "a rejected row changed the batch")
            return error
        }
        #expect(batch.rowCount == rowsBefore + 1)
        for c in batch.columns { #expect(c.rowCount == rowsBefore + 1, "\(c.descriptor.dottedPath)") }
        #expect((try? batch.validate()) != nil)
        return nil
    }

    @Test func acceptedValues() throws {
        let decoder = try EntityDecoder(entity: Self.entity())
        var batch = decoder.makeBatch()
        let good = [
            #"{"i64": 1}"#,
            #"{"i64": -9223372036854775808, "b": true, "i8": -128, "i16": 32767, "i32": "42", "u8": 255, "u16": 65535, "u32": 4294967295, "u64": 18446744073709551615}"#,
            #"{"i64": "7", "b": "false", "f32": 1.5, "f64": -2.5e-3, "d": "123.45", "dbig": 12345678901234567890.1234, "s": "héllo \"q\" \u00e9"}"#,
            #"{"i64": 7, "f32": "NaN", "f64": "Infinity", "d": 1.2, "s": 12.50, "bin": "aGVsbG8=", "id": "550E8400-e29b-41d4-A716-446655440000"}"#,
            #"{"i64": 7, "day": "2024-02-29", "tod": "23:59:59.999999", "ts": "2024-05-01T14:00:00+02:00", "tsl": 1714564800123}"#,
            #"{"i64": 7, "ts": 1714564800000, "tsl": "2024-05-01 12:00:00.5", "j": {"a": [1, {"b": null}]}}"#,
            #"{"i64": 7, "j": "text", "tags": [1, null, 3], "items": [{"sku": "A", "qty": 2}, {"sku": "B"}], "attrs": {"x": 1, "y": null}}"#,
            #"{"i64": 7, "tags": [], "items": [], "attrs": {}, "geo": {"lat": 52.5, "lon": 13.4}}"#,
            #"{"i64": 7, "tags": null, "items": null, "attrs": null, "geo": null, "s": null, "b": null}"#,
            "  {\"i64\" : 7 , \"s\":\"\"}  ",
        ]
        for (n, line) in good.enumerated() {
            let e = Self.decode(decoder, &batch, line)
            #expect(e == nil, "line \(n): \(String(describing: e))")
        }
        #expect(batch.rowCount == good.count)
    }

    @Test(arguments: [
        (#"{"i64": 1, "i8": 128}"#, "i8", DecodeError.Reason.range, "128"),
        (#"{"i64": 1, "i8": -129}"#, "i8", .range, "-129"),
        (#"{"i64": 1, "u8": 256}"#, "u8", .range, "256"),
        (#"{"i64": 1, "u8": -1}"#, "u8", .range, "-1"),
        (#"{"i64": 1, "u32": 4294967296}"#, "u32", .range, "4294967296"),
        (#"{"i64": 1, "u64": -1}"#, "u64", .range, "-1"),
        (#"{"i64": 1, "u64": 18446744073709551616}"#, "u64", .range, "18446744073709551616"),
        (#"{"i64": 9223372036854775808}"#, "i64", .range, "9223372036854775808"),
        (#"{"i64": 1.5}"#, "i64", .type, "1.5"),
        (#"{"i64": 1e3}"#, "i64", .type, "1e3"),
        (#"{"i64": "x1"}"#, "i64", .format, "\"x1\""),
        (#"{"i64": true}"#, "i64", .type, "true"),
        (#"{"i64": 1, "i32": [1]}"#, "i32", .type, "[1]"),
        (#"{"i64": 1, "b": 1}"#, "b", .type, "1"),
        (#"{"i64": 1, "b": "yes"}"#, "b", .type, "\"yes\""),
        (#"{"i64": 1, "f32": 1e39}"#, "f32", .range, "1e39"),
        (#"{"i64": 1, "f64": "fast"}"#, "f64", .format, "\"fast\""),
        (#"{"i64": 1, "d": 1.234}"#, "d", .scale, "1.234"),
        (#"{"i64": 1, "d": "1000.5"}"#, "d", .precision, "\"1000.5\""),
        (#"{"i64": 1, "d": "12,5"}"#, "d", .format, "\"12,5\""),
        (#"{"i64": 1, "s": {"a": 1}}"#, "s", .type, "{\"a\": 1}"),
        (#"{"i64": 1, "bin": "!!!!"}"#, "bin", .format, "\"!!!!\""),
        (#"{"i64": 1, "bin": 5}"#, "bin", .type, "5"),
        (#"{"i64": 1, "id": "550e8400-e29b-41d4-a716"}"#, "id", .format, "\"550e8400-e29b-41d4-a716\""),
        (#"{"i64": 1, "day": "2024-02-30"}"#, "day", .format, "\"2024-02-30\""),
        (#"{"i64": 1, "day": 19000}"#, "day", .type, "19000"),
        (#"{"i64": 1, "tod": "24:00:00"}"#, "tod", .format, "\"24:00:00\""),
        (#"{"i64": 1, "tod": "12:00:00.1234567"}"#, "tod", .format, "\"12:00:00.1234567\""),
        (#"{"i64": 1, "ts": "2024-05-01T12:00:00"}"#, "ts", .format, "\"2024-05-01T12:00:00\""),
        (#"{"i64": 1, "ts": "2024-05-01T12:00:00.1234567Z"}"#, "ts", .precision, "\"2024-05-01T12:00:00.1234567Z\""),
        (#"{"i64": 1, "ts": 1.5}"#, "ts", .format, "1.5"),
        (#"{"i64": 1, "tsl": "yesterday"}"#, "tsl", .format, "\"yesterday\""),
        (#"{"i64": 1, "tags": [1, "x"]}"#, "tags[1]", .format, "\"x\""),
        (#"{"i64": 1, "tags": {"a": 1}}"#, "tags", .type, "{\"a\": 1}"),
        (#"{"i64": 1, "items": [{"sku": "A"}, {"qty": 1}]}"#, "items[1].sku", .required, "{\"qty\": 1}"),
        (#"{"i64": 1, "items": [{"sku": null}]}"#, "items[0].sku", .required, "null"),
        (#"{"i64": 1, "items": [{"sku": "A", "sku": "B"}]}"#, "items[0]", .duplicateField, "\"B\""),
        (#"{"i64": 1, "attrs": {"a": 1.5}}"#, "attrs.value", .type, "1.5"),
        (#"{"i64": 1, "geo": 5}"#, "geo", .type, "5"),
        (#"{"i64": 1, "geo": {"lat": "north"}}"#, "geo.lat", .format, "\"north\""),
        (#"{"i8": 1}"#, "i64", .required, ""),
        (#"{"i64": null}"#, "i64", .required, ""),
        (#"{"i64": 1, "i64": 2}"#, "i64", .duplicateField, ""),
        (#"{"i64": 1, "extra": 2}"#, "extra", .unknownField, "extra"),
        (#"[1, 2]"#, "", .notAnObject, "[1, 2]"),
        (#""#, "", .notAnObject, ""),
        (#"{"i64": 1"#, "", .syntax, "{\"i64\": 1"),
        (#"{"i64": 1} trailing"#, "", .syntax, "trailing"),
        (#"{"i64": 1, "s": "bad \x"}"#, "", .syntax, "{\"i64\": 1, \"s\": \"bad \\x\"}"),
        ("{\"i64\": 1, \"s\": \"\u{FFFD}\"}", "", nil, ""),
    ] as [(String, String, DecodeError.Reason?, String)])
    func rejectedValues(_ json: String, _ field: String, _ reason: DecodeError.Reason?, _ text: String) throws {
        let decoder = try EntityDecoder(entity: Self.entity())
        var batch = decoder.makeBatch()
        #expect(Self.decode(decoder, &batch, #"{"i64": 0}"#) == nil)
        let e = Self.decode(decoder, &batch, json)
        guard let reason else {
            #expect(e == nil)
            return
        }
        let error = try #require(e, "accepted \(json)")
        #expect(error.entity == "all")
        #expect(error.field == field, "\(error)")
        #expect(error.reason == reason, "\(error)")
        #expect(error.text == text, "\(error)")
        #expect(batch.rowCount == 1)
        // The decoder keeps working after a rejected row.
        #expect(Self.decode(decoder, &batch, #"{"i64": 2, "tags": [1], "items": [{"sku": "x"}]}"#) == nil)
    }

    @Test func invalidUTF8IsRejected() throws {
        let decoder = try EntityDecoder(entity: Self.entity())
        var batch = decoder.makeBatch()
        let bytes = Array(#"{"i64": 1, "s": "ab"#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8)
        let e = withBytes(bytes) { p throws(DecodeError) in try decoder.decodeJSON(p, streamID: p, into: &batch) }
        #expect(e?.reason == .encoding)
        #expect(e?.field == "s")
        #expect(batch.rowCount == 0)
    }

    @Test func offendingTextIsCutShort() throws {
        let decoder = try EntityDecoder(entity: Self.entity())
        var batch = decoder.makeBatch()
        let long = String(repeating: "é", count: 200)
        let e = try #require(Self.decode(decoder, &batch, "{\"i64\": 1, \"d\": \"\(long)\"}"))
        #expect(e.text.hasSuffix("…"))
        #expect(e.text.utf8.count <= DecodeError.maxTextLength + 3)
        #expect(e.description.contains("all: field d:"))
    }

    @Test func unknownFieldPolicies() throws {
        func run(_ policy: String, _ json: String) throws -> (DecodeError?, RowBatch) {
            let e = try Self.entity("entities:\n  e:\n    stream: s\n    unknown_fields: \(policy)\n    columns:\n      a: int64\n", "e")
            let d = try EntityDecoder(entity: e)
            var b = d.makeBatch()
            return (Self.decode(d, &b, json), b)
        }
        #expect(try run("ignore", #"{"a": 1, "zz": {"x": [1]}}"#).0 == nil)
        #expect(try run("reject", #"{"a": 1, "zz": 2}"#).0?.reason == .unknownField)
        let (e, b) = try run("keep", #"{"a": 1, "zz": {"x": [1]}, "q\"k": "v"}"#)
        #expect(e == nil)
        #expect(b.columns.map(\.descriptor.dottedPath) == ["a", "_extra", "_stream_id"])
        #expect(try run("evolve", #"{"a": 1, "zz": 2}"#).0?.reason == .unknownField)
        #expect(try run("evolve", #"{"a": 1, "zz": null}"#).0 == nil)
    }

    /// `unknown_fields: keep` refuses invalid UTF-8 in an unknown key or value per row, so the
    /// `_extra` column never holds what the encoder would refuse (the entity's buffer stays writable).
    @Test func keepRefusesInvalidUTF8PerRow() throws {
        let e = try Self.entity("entities:\n  e:\n    stream: s\n    unknown_fields: keep\n    columns:\n      a: int64\n", "e")
        let d = try EntityDecoder(entity: e)
        var b = d.makeBatch()
        let bad: [[UInt8]] = [
            Array(#"{"a": 1, "zz": ""#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8),
            Array(#"{"a": 1, ""#.utf8) + [0xC3] + Array(#"": 2}"#.utf8),
        ]
        for json in bad {
            let err = withBytes(json) { p throws(DecodeError) in try d.stageJSON(p) }
            #expect(err?.reason == .encoding, "\(String(describing: err))")
        }
        #expect(Self.decode(d, &b, #"{"a": 2, "ok": "ü"}"#) == nil)
        #expect(b.rowCount == 1)
        try b.validate()
        // Flat fields too.
        let f = try Self.entity("entities:\n  e:\n    stream: s\n    payload: fields\n    unknown_fields: keep\n    columns:\n      a: int64\n", "e")
        let fd = try EntityDecoder(entity: f)
        let names: [[UInt8]] = [Array("a".utf8), Array("x".utf8)], values: [[UInt8]] = [Array("1".utf8), [0x80]]
        let err = names[0].withUnsafeBytes { n0 in names[1].withUnsafeBytes { n1 in values[0].withUnsafeBytes { v0 in values[1].withUnsafeBytes { v1 in
            withBytes([]) { _ throws(DecodeError) in
                try fd.stageFields(count: 2, name: { $0 == 0 ? n0 : n1 }, value: { $0 == 0 ? v0 : v1 })
            }
        } } } }
        #expect(err?.reason == .encoding)
    }

    @Test func flatFields() throws {
        let e = try Self.entity("""
        entities:
          e:
            stream: s
            payload: fields
            unknown_fields: reject
            columns:
              n: int32 not null
              t: timestamp(ms, utc)
              ok: bool
              tags: list<string>
              raw: json
              x: {type: "decimal(6,2)", source: x.y}
        """, "e")
        let d = try EntityDecoder(entity: e, ignoring: ["entity"])
        var b = d.makeBatch()
        func row(_ fields: [(String, String)]) -> DecodeError? {
            let names = fields.map { Array($0.0.utf8) }
            let values = fields.map { Array($0.1.utf8) }
            // The arrays live until the end of this function, so their storage stays put.
            return withBytes(Array("5-1".utf8)) { idp throws(DecodeError) in
                try d.decodeFields(count: fields.count,
                                   name: { i in names[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } },
                                   value: { i in values[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } },
                                   streamID: idp, into: &b)
            }
        }
        #expect(row([("n", "5"), ("t", "2024-05-01T12:00:00Z"), ("ok", "true"), ("tags", #"["a","b"]"#), ("raw", #"{"k":1}"#),
                     ("x.y", "1.25"), ("entity", "e")]) == nil)
        #expect(row([("n", "6"), ("t", "1714564800000")]) == nil)
        #expect(b.rowCount == 2)
        #expect(row([("n", "x")])?.reason == .format)
        #expect(row([("n", "1"), ("raw", "{bad")])?.reason == .syntax)
        #expect(row([("n", "1"), ("tags", "[{}]")])?.field == "tags[0]")
        #expect(row([("n", "1"), ("other", "1")])?.reason == .unknownField)
        #expect(row([("t", "2024-05-01T12:00:00Z")])?.reason == .required)
        #expect(row([("n", "1"), ("x.y", "1.234")])?.reason == .scale)
        #expect(b.rowCount == 2)
    }
}

/// `payload: fields` with `empty_as_null` (default true): an empty value of a non-string column
/// is null; string and binary columns keep it; a required column rejects it as missing.
@Suite struct EmptyAsNullTests {
    static func entity(_ option: String) throws -> EntityConfig {
        try DecoderTests.entity("""
        entities:
          e:
            stream: s
            payload: fields
        \(option)
            columns:
              id: int64 not null
              customer_id: int64
              amount: "decimal(6,2)"
              at: timestamp(ms, utc)
              ok: bool
              ratio: float64
              day: date
              u: uuid
              raw: json
              tags: list<string>
              name: string
              blob: binary
        """, "e")
    }

    static func row(_ d: EntityDecoder, _ b: inout RowBatch, _ fields: [(String, String)]) -> DecodeError? {
        let names = fields.map { Array($0.0.utf8) }
        let values = fields.map { Array($0.1.utf8) }
        return withBytes(Array("5-1".utf8)) { idp throws(DecodeError) in
            try d.decodeFields(count: fields.count,
                               name: { i in names[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } },
                               value: { i in values[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } },
                               streamID: idp, into: &b)
        }
    }

    static let empties: [(String, String)] = ["customer_id", "amount", "at", "ok", "ratio", "day", "u", "raw", "tags", "name", "blob"]
        .map { ($0, "") }

    @Test func emptyIsNullByDefault() throws {
        let e = try Self.entity("")
        #expect(e.emptyAsNull)
        let d = try EntityDecoder(entity: e)
        var b = d.makeBatch()
        #expect(Self.row(d, &b, [("id", "1")] + Self.empties) == nil)
        #expect(Self.row(d, &b, [("id", "2"), ("customer_id", "7"), ("name", "x")]) == nil)
        #expect(b.rowCount == 2)
        func column(_ path: String) -> ColumnBuilder { b.columns.first { $0.descriptor.dottedPath == path }! }
        // Nulls add a level and no value; the empty string and empty bytes are values.
        for name in ["customer_id", "amount", "at", "ok", "ratio", "day", "u", "raw"] {
            #expect(column(name).levelCount == 2 && column(name).valueCount == (name == "customer_id" ? 1 : 0), "\(name)")
        }
        #expect(column("tags.list.element").valueCount == 0)
        #expect(column("name").valueCount == 2 && column("blob").valueCount == 1)
        // A required column: empty is missing, reported as such (not "not a number").
        let err = Self.row(d, &b, [("id", "")])
        #expect(err?.reason == .required && err?.field == "id", "\(String(describing: err))")
        #expect(b.rowCount == 2)
        // Only the empty text: a blank is still an error.
        #expect(Self.row(d, &b, [("id", "3"), ("customer_id", " ")])?.reason == .format)
    }

    @Test func emptyIsAnErrorWhenOff() throws {
        let e = try Self.entity("    empty_as_null: false")
        #expect(!e.emptyAsNull)
        let d = try EntityDecoder(entity: e)
        var b = d.makeBatch()
        let err = Self.row(d, &b, [("id", "1"), ("customer_id", "")])
        #expect(err?.field == "customer_id" && err?.message.contains("int64") == true, "\(String(describing: err))")
        #expect(Self.row(d, &b, [("id", "1"), ("name", ""), ("blob", "")]) == nil)
        #expect(b.rowCount == 1)
    }

    @Test func onlyWithFieldsPayload() throws {
        do {
            _ = try ConfigLoader(environment: [:]).load(yaml: """
            entities:
              e: {stream: s, payload: "json:data", empty_as_null: true, columns: {a: int64}}
            """, file: "c.yaml")
            Issue.record("expected an error")
        } catch {
            #expect(error.keyPath == "entities.e.empty_as_null" && error.message.contains("only with payload: fields"), "\(error)")
        }
        let shown = try ConfigLoader(environment: [:]).load(yaml: "entities:\n  e: {stream: s, columns: {a: int64}}\n").maskedYAML
        #expect(shown.contains("    empty_as_null: true\n"))
    }
}

/// Stage/commit split: the worker reads the time partition before choosing a batch.
@Suite struct StagingTests {
    @Test func stagedTimeAndCommit() throws {
        let yaml = """
        entities:
          t: {stream: s, payload: "json:data", time: at, columns: {at: "timestamp(ms, utc)", n: int32}}
          d: {stream: s2, time: day, columns: {day: date not null}}
        """
        let config = try ConfigLoader(environment: [:]).load(yaml: yaml)
        let decoder = try EntityDecoder(entity: try #require(config.entity(named: "t")))
        var batch = decoder.makeBatch()
        let payload = Array(#"{"at": "2024-05-01T12:00:00.123Z", "n": 5}"#.utf8)
        let e = withBytes(payload) { p throws(DecodeError) in
            try decoder.stageJSON(p)
            #expect(decoder.stagedTimeMicros == 1_714_564_800_123_000)
            #expect(batch.rowCount == 0)
            decoder.commitStaged(streamID: p, into: &batch)
        }
        #expect(e == nil)
        #expect(batch.rowCount == 1)
        #expect(withBytes(Array(#"{"n": 1}"#.utf8)) { p throws(DecodeError) in try decoder.stageJSON(p) } == nil)
        #expect(decoder.stagedTimeMicros == nil)
        // Epoch milliseconds that are a valid int64 but overflow microseconds: no partition time
        // (the worker falls back to the entry id's time), never a trap.
        #expect(withBytes(Array(#"{"at": 10000000000000000, "n": 1}"#.utf8)) { p throws(DecodeError) in try decoder.stageJSON(p) } == nil)
        #expect(decoder.stagedTimeMicros == nil)
        #expect(withBytes(Array(#"{"at": -9223372036854775808, "n": 1}"#.utf8)) { p throws(DecodeError) in try decoder.stageJSON(p) } == nil)
        #expect(decoder.stagedTimeMicros == nil)

        let dates = try EntityDecoder(entity: try #require(config.entity(named: "d")))
        let names = [Array("day".utf8)], values = [Array("1970-01-02".utf8)]
        #expect(withBytes([]) { _ throws(DecodeError) in
            try dates.stageFields(count: 1, name: { i in names[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } },
                                  value: { i in values[i].withUnsafeBytes { UnsafeRawBufferPointer(start: $0.baseAddress, count: $0.count) } })
        } == nil)
        #expect(dates.stagedTimeMicros == 86_400_000_000)
    }
}
