@testable import LakeModel
@testable import LakeDecoding
import Foundation
import Testing
import TestSupport

@Suite struct EvolutionTests {

    func observe(_ e: inout SchemaEvolution, _ json: String) throws -> Bool {
        var changed = false
        if let error = withBytes(Array(json.utf8), { p throws(DecodeError) in changed = try e.observe(json: p) }) { throw error }
        return changed
    }

    @Test func newFieldsAndWidening() async throws {
        let entity = try #require(try ConfigLoader(environment: [:]).load(yaml: Fixtures.evolvingEntityConfig).entity(named: "ev"))
        var e = SchemaEvolution(entity: entity)
        #expect(e.schema.version == 1)
        #expect(try !observe(&e, #"{"id": 1}"#))
        #expect(try observe(&e, #"{"id": 1, "n": 5, "flag": true, "obj": {"a": 1}, "nothing": null, "_hidden": 1}"#))
        #expect(e.schema.evolved.map(\.name) == ["n", "flag", "obj"])
        #expect(e.schema.evolved.map(\.type) == [.int(bits: 64, signed: true), .bool, .json])
        #expect(e.schema.evolved.allSatisfy { $0.nullable })
        let afterAdd = e.schema.version
        #expect(afterAdd == 2) // one version per payload, whatever it adds
        #expect(try !observe(&e, #"{"id": 2, "n": 6}"#))
        #expect(try observe(&e, #"{"id": 3, "n": 6.5}"#))
        #expect(e.schema.evolved[0].type == .float64)
        #expect(try !observe(&e, #"{"id": 3, "n": 7}"#)) // int fits float64
        #expect(try observe(&e, #"{"id": 4, "n": "seven"}"#))
        #expect(e.schema.evolved[0].type == .string)
        #expect(try observe(&e, #"{"id": 5, "flag": 1}"#))
        #expect(e.schema.evolved[1].type == .string)
        #expect(try !observe(&e, #"{"id": 5, "id": "declared columns never change"}"#))
        #expect(e.history.map(\.version) == Array(1...e.schema.version))
        #expect(e.history.first?.evolved.isEmpty == true)

        let store = MemorySchemaVersionStore()
        for v in e.history { try await store.record(v) }
        let records = await store.records
        #expect(records.keys.sorted().first == "_schemas/ev/v000001.json")
        let last = try #require(records["_schemas/ev/v\(String(format: "%06d", e.schema.version)).json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(last.utf8)) as! [String: Any]
        #expect(parsed["version"] as? Int == e.schema.version)
        let cols = (parsed["columns"] as! [[String: Any]]).map { $0["name"] as! String }
        #expect(cols == ["id", "n", "flag", "obj", "_stream_id"])

        let dir = try TestEnvironment.temporaryDirectory("schemas").path
        try await LocalSchemaVersionStore(root: dir).record(e.schema)
        #expect(FileManager.default.fileExists(atPath: dir + "/" + e.schema.recordKey))
    }

    @Test func decodeWithEvolvedSchema() throws {
        let entity = try #require(try ConfigLoader(environment: [:]).load(yaml: Fixtures.evolvingEntityConfig).entity(named: "ev"))
        var e = SchemaEvolution(entity: entity)
        let lines = [#"{"id": 1, "n": 5}"#, #"{"id": 2, "n": 2.5, "tag": "x"}"#, #"{"id": 3, "n": "many", "tag": {"k": 1}}"#]
        for l in lines { _ = try observe(&e, l) }
        #expect(e.schema.evolved.map(\.type) == [.string, .string])
        let decoder = try EntityDecoder(entity: entity, schema: e.schema)
        var batch = decoder.makeBatch()
        for l in lines { #expect(DecoderTests.decode(decoder, &batch, l) == nil) }
        #expect(batch.rowCount == 3)
        #expect(batch.columns.map(\.descriptor.dottedPath) == ["id", "n", "tag", "_stream_id"])
    }
}

/// Evolution has bounds: one payload makes at most one version, the column count is limited, and
/// new names are checked.
@Suite struct EvolutionLimitTests {
    func evolution() throws -> SchemaEvolution {
        let entity = try #require(try ConfigLoader(environment: [:]).load(yaml: Fixtures.evolvingEntityConfig).entity(named: "ev"))
        return SchemaEvolution(entity: entity)
    }

    func observe(_ e: inout SchemaEvolution, _ json: String) -> (Bool, DecodeError?) {
        var changed = false
        let err = withBytes(Array(json.utf8)) { p throws(DecodeError) in changed = try e.observe(json: p) }
        return (changed, err)
    }

    @Test func onePayloadMakesOneVersion() throws {
        var e = try evolution()
        let fields = (0..<50).map { "\"f\($0)\": \($0)" }.joined(separator: ", ")
        #expect(observe(&e, "{\"id\": 1, \(fields)}") == (true, nil))
        #expect(e.schema.version == 2 && e.schema.evolved.count == 50 && e.history.count == 2)
        // A widening and a new field together: one more version.
        #expect(observe(&e, #"{"id": 2, "f0": 1.5, "g": "x"}"#) == (true, nil))
        #expect(e.schema.version == 3 && e.history.count == 3)
    }

    @Test func tooManyColumnsRefusesThePayloadWhole() throws {
        var e = try evolution()
        let fields = (0..<2000).map { "\"f\($0)\": 1" }.joined(separator: ", ")
        let (changed, err) = observe(&e, "{\"id\": 1, \(fields)}")
        #expect(!changed && err?.reason == .unknownField && err?.message.contains("1000 columns") == true)
        #expect(e.schema.version == 1 && e.schema.evolved.isEmpty)
        e.maxColumns = 3
        #expect(observe(&e, #"{"id": 1, "a": 1, "b": 2}"#) == (true, nil))
        #expect(observe(&e, #"{"id": 1, "c": 1}"#).1 != nil)
        #expect(e.schema.evolved.map(\.name) == ["a", "b"])
    }

    @Test func newNamesAreChecked() throws {
        var e = try evolution()
        #expect(observe(&e, #"{"id": 1, "score": 1}"#) == (true, nil))
        for bad in [#"{"Score": 2}"#, #"{"ID": 2}"#, "{\"a\\u0001b\": 1}", "{\"\(String(repeating: "x", count: 129))\": 1}"] {
            let (changed, err) = observe(&e, bad)
            #expect(!changed && err != nil, "\(bad)")
        }
        #expect(observe(&e, #"{"_private": 1}"#) == (false, nil))  // reserved: never a column
        #expect(e.schema.evolved.map(\.name) == ["score"])
    }
}
