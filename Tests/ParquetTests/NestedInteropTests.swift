import Foundation
import Parquet
import Testing
import TestSupport

/// Lists (null, empty, null elements), structs, maps, list of struct, struct holding
/// a list and list of lists, appended through explicit levels.
@Suite("Nested columns read back by pyarrow, DuckDB and polars", .enabled(if: readersAvailable))
struct NestedInteropTests {
    static let schema = try! ParquetSchema([
        .required("id", .int32),
        .optional("tags", .list(.optional("element", .string))),
        .required("scores", .list(.required("element", .int64))),
        .optional("address", .structure([
            .required("city", .string),
            .optional("zip", .int32),
            .optional("lines", .list(.required("element", .string))),
        ])),
        .optional("items", .list(.optional("element", .structure([
            .required("sku", .string),
            .optional("qty", .int32),
        ])))),
        .optional("attrs", .map(key: .required("key", .string), value: .optional("value", .int64))),
        .optional("matrix", .list(.optional("element", .list(.optional("element", .int32))))),
    ])

    static let names = ["id", "tags", "scores", "address", "items", "attrs", "matrix"]

    static func row(_ b: inout RowBatch, _ i: Int) -> [ReadbackValue] {
        var out: [ReadbackValue] = []
        b.columns[0].appendInt32(Int32(i)); out.append(.s(i))

        // tags: null / [] / [a, null, b...]
        switch i % 4 {
        case 0: b.columns[1].appendNull(definitionLevel: 0); out.append(nil)
        case 1: b.columns[1].appendNull(definitionLevel: 1); out.append([])
        default:
            var l: [ReadbackValue] = []
            for k in 0..<(i % 5 + 1) {
                if k % 3 == 1 {
                    b.columns[1].appendNull(definitionLevel: 2, repetitionLevel: k == 0 ? 0 : 1); l.append(nil)
                } else {
                    b.columns[1].appendString("t\(i)-\(k)", repetitionLevel: k == 0 ? 0 : 1); l.append(.string("t\(i)-\(k)"))
                }
            }
            out.append(.list(l))
        }

        // scores: required list of required int64 (maybe empty)
        if i % 6 == 5 {
            b.columns[2].appendNull(definitionLevel: 0); out.append([])
        } else {
            var l: [ReadbackValue] = []
            for k in 0..<(i % 3 + 1) {
                b.columns[2].appendInt64(Int64(i * 10 + k), repetitionLevel: k == 0 ? 0 : 1); l.append(.s(i * 10 + k))
            }
            out.append(.list(l))
        }

        // address: null / {city, zip?, lines?}
        if i % 5 == 0 {
            b.columns[3].appendNull(definitionLevel: 0)
            b.columns[4].appendNull(definitionLevel: 0)
            b.columns[5].appendNull(definitionLevel: 0)
            out.append(nil)
        } else {
            b.columns[3].appendString("city\(i % 7)")
            var zip: ReadbackValue = nil
            if i % 3 == 0 { b.columns[4].appendNull(definitionLevel: 1) } else {
                b.columns[4].appendInt32(Int32(10000 + i)); zip = .s(10000 + i)
            }
            var lines: ReadbackValue = nil
            switch i % 3 {
            case 0: b.columns[5].appendNull(definitionLevel: 1)
            case 1: b.columns[5].appendNull(definitionLevel: 2); lines = []
            default:
                b.columns[5].appendString("line a \(i)", repetitionLevel: 0)
                b.columns[5].appendString("line b \(i)", repetitionLevel: 1)
                lines = [.string("line a \(i)"), .string("line b \(i)")]
            }
            out.append(["city": .string("city\(i % 7)"), "zip": zip, "lines": lines])
        }

        // items: list of optional struct {sku, qty?}
        switch i % 5 {
        case 0: b.columns[6].appendNull(definitionLevel: 0); b.columns[7].appendNull(definitionLevel: 0); out.append(nil)
        case 1: b.columns[6].appendNull(definitionLevel: 1); b.columns[7].appendNull(definitionLevel: 1); out.append([])
        default:
            var l: [ReadbackValue] = []
            for k in 0..<(i % 4 + 1) {
                let r = k == 0 ? 0 : 1
                if k == 2 {
                    b.columns[6].appendNull(definitionLevel: 2, repetitionLevel: r)
                    b.columns[7].appendNull(definitionLevel: 2, repetitionLevel: r)
                    l.append(nil)
                } else {
                    b.columns[6].appendString("sku\(k)", repetitionLevel: r)
                    var q: ReadbackValue = nil
                    if k == 1 { b.columns[7].appendNull(definitionLevel: 3, repetitionLevel: r) } else {
                        b.columns[7].appendInt32(Int32(k + i), repetitionLevel: r); q = .s(k + i)
                    }
                    l.append(["sku": .string("sku\(k)"), "qty": q])
                }
            }
            out.append(.list(l))
        }

        // attrs: map<string, int64?>
        switch i % 3 {
        case 0: b.columns[8].appendNull(definitionLevel: 0); b.columns[9].appendNull(definitionLevel: 0); out.append(nil)
        case 1: b.columns[8].appendNull(definitionLevel: 1); b.columns[9].appendNull(definitionLevel: 1); out.append([])
        default:
            b.columns[8].appendString("a", repetitionLevel: 0); b.columns[9].appendInt64(Int64(i), repetitionLevel: 0)
            b.columns[8].appendString("b", repetitionLevel: 1); b.columns[9].appendNull(definitionLevel: 2, repetitionLevel: 1)
            out.append([["a", .s(i)], ["b", nil]])
        }

        // matrix: list<list<int32?>?>: [[i, i+1], [], null, [null]] or null
        if i % 7 == 0 {
            b.columns[10].appendNull(definitionLevel: 0); out.append(nil)
        } else {
            b.columns[10].appendInt32(Int32(i), repetitionLevel: 0)
            b.columns[10].appendInt32(Int32(i + 1), repetitionLevel: 2)
            b.columns[10].appendNull(definitionLevel: 3, repetitionLevel: 1)
            b.columns[10].appendNull(definitionLevel: 2, repetitionLevel: 1)
            b.columns[10].appendNull(definitionLevel: 4, repetitionLevel: 1)
            out.append([[.s(i), .s(i + 1)], [], nil, [nil]])
        }
        return out
    }

    @Test func levels() throws {
        let c = Self.schema.columns
        #expect(c.map(\.dottedPath) == [
            "id", "tags.list.element", "scores.list.element", "address.city", "address.zip",
            "address.lines.list.element", "items.list.element.sku", "items.list.element.qty",
            "attrs.key_value.key", "attrs.key_value.value", "matrix.list.element.list.element",
        ])
        #expect(c.map(\.maxDefinitionLevel) == [0, 3, 1, 1, 2, 3, 3, 4, 2, 3, 5])
        #expect(c.map(\.maxRepetitionLevel) == [0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 2])
    }

    @Test(arguments: [(WriterProperties.DataPageVersion.v1, true), (.v2, false), (.v2, true)])
    func roundTrip(version: WriterProperties.DataPageVersion, dictionary: Bool) throws {
        var p = WriterProperties()
        p.dataPageVersion = version
        p.dictionaryEnabled = dictionary
        p.dataPageRowLimit = 97
        p.maxRowGroupRows = 400
        var expected: [[ReadbackValue]] = []
        let path = try writeParquet(Self.schema, properties: p, label: "nested", batches: 3) { n, b in
            for i in (n * 350)..<((n + 1) * 350) { expected.append(Self.row(&b, i)) }
        }
        try expectReadBack(path, columns: Self.names, expected)
        let md = try ParquetReadback.metadata(path: path)
        #expect(md.num_rows == 1050)
        #expect(md.row_groups.map(\.num_rows) == [400, 400, 250])
    }
}
