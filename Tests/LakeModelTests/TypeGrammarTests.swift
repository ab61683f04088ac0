@testable import LakeModel
import Testing

@Suite struct TypeGrammarTests {
    func parse(_ s: String) throws -> (ColumnType, Bool) {
        let r = try ColumnTypeParser.parseField(s)
        return (r.type, r.nullable)
    }

    @Test func scalars() throws {
        let cases: [(String, ColumnType)] = [
            ("bool", .bool), ("int8", .int(bits: 8, signed: true)), ("int16", .int(bits: 16, signed: true)),
            ("int32", .int(bits: 32, signed: true)), ("int64", .int(bits: 64, signed: true)),
            ("uint8", .int(bits: 8, signed: false)), ("uint16", .int(bits: 16, signed: false)),
            ("uint32", .int(bits: 32, signed: false)), ("uint64", .int(bits: 64, signed: false)),
            ("float32", .float32), ("float64", .float64), ("decimal(12,2)", .decimal(precision: 12, scale: 2)),
            ("decimal( 38 , 0 )", .decimal(precision: 38, scale: 0)), ("string", .string), ("binary", .binary),
            ("uuid", .uuid), ("date", .date), ("time(us)", .time), ("time", .time),
            ("timestamp(ms)", .timestamp(unit: .millis, utc: false)), ("timestamp(us, utc)", .timestamp(unit: .micros, utc: true)),
            ("timestamp(ns,utc)", .timestamp(unit: .nanos, utc: true)), ("json", .json),
        ]
        for (text, type) in cases {
            let (t, nullable) = try parse(text)
            #expect(t == type, "\(text)")
            #expect(nullable)
            let (t2, n2) = try parse(text + " not null")
            #expect(t2 == type && !n2, "\(text) not null")
            // The description parses back to the same type.
            #expect(try parse(t.description).0 == t)
        }
    }

    @Test func nested() throws {
        let (t, nullable) = try parse("list<struct<sku:string not null, qty:int32, tags:list<string>, attrs:map<string, decimal(5,1) not null>>> not null")
        #expect(!nullable)
        guard case .list(let e) = t, case .structure(let fields) = e.type else { Issue.record("\(t)"); return }
        #expect(e.nullable)
        #expect(fields.map(\.name) == ["sku", "qty", "tags", "attrs"])
        #expect(!fields[0].nullable && fields[1].nullable)
        #expect(fields[2].type == .list(element: ColumnField(name: "element", type: .string)))
        #expect(fields[3].type == .map(value: ColumnField(name: "value", type: .decimal(precision: 5, scale: 1), nullable: false)))
        #expect(try parse(t.description).0 == t)
        #expect(try parse("map<string,list<int64 not null>>").0 == .map(value: ColumnField(name: "value", type: .list(element: ColumnField(name: "element", type: .int(bits: 64, signed: true), nullable: false)))))
    }

    @Test func rejected() {
        let bad: [(String, String)] = [
            ("", "expected a type"), ("int128", "unknown type"), ("decimal(0,0)", "precision must be"),
            ("decimal(39,2)", "precision must be"), ("decimal(5,6)", "exceeds precision"), ("decimal(5)", "expected ','"),
            ("timestamp", "expected '('"), ("timestamp(s)", "unit must be"), ("timestamp(us, local)", "expected 'utc'"),
            ("time(ms)", "only (us)"), ("list<int32", "expected '>'"), ("list<>", "expected a type"),
            ("map<int32, string>", "map keys must be string"), ("struct<a:int32, a:string>", "duplicate struct field"),
            ("struct<:int32>", "expected a field name"), ("struct<a int32>", "expected ':'"),
            ("int32 not", "expected 'null'"), ("int32 nullable", "unexpected"), ("string extra", "unexpected"),
        ]
        for (text, message) in bad {
            do {
                _ = try parse(text)
                Issue.record("accepted \(text)")
            } catch let e as ColumnTypeParser.Failure {
                #expect(e.message.contains(message), "\(text): \(e)")
            } catch {
                Issue.record("\(error)")
            }
        }
    }
}
