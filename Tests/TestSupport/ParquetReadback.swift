import Foundation

/// A value as `readback.py` normalizes it: scalars are strings (see the script's
/// docstring for the formats), lists are arrays, structs objects, maps arrays of
/// `[key, value]` pairs. Literals make expected rows short to write.
public indirect enum ReadbackValue: Equatable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    case null
    case string(String)
    case list([ReadbackValue])
    case object([String: ReadbackValue])

    public init(stringLiteral s: String) { self = .string(s) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: ReadbackValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, ReadbackValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { a, _ in a }))
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null; return }
        if let s = try? c.decode(String.self) { self = .string(s); return }
        if let l = try? c.decode([ReadbackValue].self) { self = .list(l); return }
        self = .object(try c.decode([String: ReadbackValue].self))
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .string(let s): try c.encode(s)
        case .list(let l): try c.encode(l)
        case .object(let o): try c.encode(o)
        }
    }

    public var description: String {
        switch self {
        case .null: return "null"
        case .string(let s): return "\"\(s)\""
        case .list(let l): return "[" + l.map(\.description).joined(separator: ", ") + "]"
        case .object(let o):
            return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.description)" }.joined(separator: ", ") + "}"
        }
    }

    /// Convenience: `.s(42)` is `"42"`, `.s(nil)` is null.
    public static func s(_ v: (any CustomStringConvertible)?) -> ReadbackValue {
        v.map { .string($0.description) } ?? .null
    }
}

/// Reads Parquet files back with pyarrow, DuckDB and polars through
/// `Tests/TestSupport/readback.py` in the test venv (LAKEWRITER_TEST_PYTHON).
public enum ParquetReadback {
    /// One reader's view of a file.
    public struct Table: Decodable, Sendable {
        public var columns: [String]?
        public var rows: [[ReadbackValue]]?
        /// Set when the reader failed to read the file.
        public var error: String?
    }

    /// Statistics of one column chunk as pyarrow reports them.
    public struct ChunkStatistics: Decodable, Sendable {
        public var has_min_max: Bool
        public var min: ReadbackValue?
        public var max: ReadbackValue?
        public var null_count: Int?
        public var num_values: Int?
    }

    /// One column chunk of a row group as pyarrow reports it.
    public struct ColumnChunk: Decodable, Sendable {
        public var path: String
        public var physical_type: String
        public var compression: String
        public var encodings: [String]
        public var num_values: Int
        public var has_dictionary_page: Bool
        public var dictionary_page_offset: Int?
        public var data_page_offset: Int
        public var total_compressed_size: Int
        public var total_uncompressed_size: Int
        public var has_column_index: Bool
        public var has_offset_index: Bool
        public var statistics: ChunkStatistics?
    }

    /// One row group as pyarrow reports it.
    public struct RowGroup: Decodable, Sendable {
        public var num_rows: Int
        public var total_byte_size: Int
        public var columns: [ColumnChunk]
    }

    /// `pyarrow.parquet.read_metadata` as plain values.
    public struct Metadata: Decodable, Sendable {
        public var num_rows: Int
        public var num_row_groups: Int
        public var num_columns: Int
        public var created_by: String?
        public var format_version: String
        public var key_value: [String: String]
        public var schema: String
        public var row_groups: [RowGroup]
    }

    /// The venv python is not configured (tests run outside scripts/test).
    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String { "LAKEWRITER_TEST_PYTHON is not set: run the tests through scripts/test" }
    }

    static var script: String {
        TestEnvironment.repositoryRoot.appendingPathComponent("Tests/TestSupport/readback.py").path
    }

    static func python() throws -> String {
        guard let p = TestEnvironment.python else { throw Unavailable() }
        return p
    }

    /// Every reader's rows (keys "pyarrow", "duckdb", "polars").
    public static func values(path: String) throws -> [String: Table] {
        let r = try ProcessRunner.run(try python(), [script, "values", path])
        return try JSONDecoder().decode([String: Table].self, from: r.stdout)
    }

    public static func metadata(path: String) throws -> Metadata {
        let r = try ProcessRunner.run(try python(), [script, "metadata", path])
        return try JSONDecoder().decode(Metadata.self, from: r.stdout)
    }

    /// ``values(path:)`` for async callers: the readers run off the cooperative pool.
    public static func values(path: String) async throws -> [String: Table] {
        let r = try await ProcessRunner.run(try python(), [script, "values", path])
        return try JSONDecoder().decode([String: Table].self, from: r.stdout)
    }

    /// ``metadata(path:)`` for async callers: the reader runs off the cooperative pool.
    public static func metadata(path: String) async throws -> Metadata {
        let r = try await ProcessRunner.run(try python(), [script, "metadata", path])
        return try JSONDecoder().decode(Metadata.self, from: r.stdout)
    }

    /// Differences between `expected` (rows of normalized values, columns in
    /// `columns` order) and what each reader returned; empty when all three agree.
    public static func mismatches(path: String, columns: [String], expected: [[ReadbackValue]],
                                  readers: [String] = ["pyarrow", "duckdb", "polars"]) throws -> [String] {
        let all = try values(path: path)
        var problems: [String] = []
        for reader in readers {
            guard let t = all[reader] else { problems.append("\(reader): missing"); continue }
            if let e = t.error { problems.append("\(reader): \(e)"); continue }
            let got = t.rows ?? []
            if t.columns ?? [] != columns {
                problems.append("\(reader): columns \(t.columns ?? []) != \(columns)")
                continue
            }
            if got.count != expected.count {
                problems.append("\(reader): \(got.count) rows, expected \(expected.count)")
            }
            for (i, (g, e)) in zip(got, expected).enumerated() where g != e {
                for (c, (gv, ev)) in zip(g, e).enumerated() where gv != ev {
                    problems.append("\(reader) row \(i) column \(columns[c]): got \(gv), expected \(ev)")
                    if problems.count > 20 { return problems }
                }
            }
        }
        return problems
    }
}
