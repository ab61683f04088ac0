import Foundation
import Logging
@testable import Parquet
@testable import PostgresSource
import TestSupport
import Testing

/// The shared server from scripts/test; tests that need it are disabled outside scripts/test,
/// but run (and fail on the missing variable) under CI.
let postgresAvailable = TestEnvironment.postgres != nil || TestEnvironment.isCI
/// Tests that also read files back with pyarrow (and DuckDB, polars).
let postgresAndReadersAvailable = (TestEnvironment.postgres != nil && TestEnvironment.python != nil) || TestEnvironment.isCI

let testLogger: Logger = {
    var l = Logger(label: "postgres-tests")
    l.logLevel = .warning
    return l
}()

func testDSN() throws -> String {
    try #require(TestEnvironment.postgres, "LAKEWRITER_TEST_PG is not set")
}

func connect() throws -> PGConnection {
    try PGConnection(try testDSN(), logger: testLogger)
}

/// Runs `body` with a fresh schema (its name) that is dropped afterwards, so tests can run in parallel.
func withSchema<T>(_ label: String, _ body: (PGConnection, String) throws -> T) throws -> T {
    let conn = try connect()
    let schema = "lw_\(label)_\(UUID().uuidString.prefix(8).lowercased())"
    try conn.exec("CREATE SCHEMA \(schema)")
    defer { try? conn.exec("DROP SCHEMA \(schema) CASCADE") }
    return try body(conn, schema)
}

/// The raw bytes of a COPY, buffer boundaries dropped.
func captureCopy(_ conn: PGConnection, _ sql: String) throws -> [UInt8] {
    var out: [UInt8] = []
    try conn.copyOut(sql) { out.append(contentsOf: $0) }
    return out
}

/// Decodes `bytes` fed in pieces of the given sizes (cycled), into one batch.
func decodeAll(_ bytes: [UInt8], mapping: SourceMapping, keyColumn: String? = nil, pieces: [Int] = [Int.max])
    throws -> (RowBatch, [CopyRowError])
{
    var decoder = try CopyBinaryDecoder(mapping: mapping, keyColumn: keyColumn)
    var batch = RowBatch(mapping.schema)
    var errors: [CopyRowError] = []
    var pos = 0, k = 0
    try bytes.withUnsafeBytes { raw in
        while pos < raw.count {
            let n = min(pieces[k % pieces.count], raw.count - pos)
            k += 1
            try decoder.decode(UnsafeRawBufferPointer(rebasing: raw[pos..<(pos + n)]), into: &batch) { errors.append($0) }
            pos += n
        }
    }
    try decoder.finish()
    return (batch, errors)
}

/// Writes `batch` to a fresh Parquet file and returns its path.
func writeParquet(_ batch: RowBatch, label: String) throws -> String {
    let dir = try TestEnvironment.temporaryDirectory(label)
    let path = dir.appendingPathComponent("\(label).parquet").path
    let w = try ParquetWriter(schema: batch.schema, sink: try FileSink(path: path))
    try w.write(batch)
    try w.close()
    return path
}

/// Rows of `sql` (one JSON value per row in its first column) as readback values.
func jsonRows(_ conn: PGConnection, _ sql: String) throws -> [[ReadbackValue]] {
    try conn.query(sql).map { row in
        let text = try #require(row[0])
        return try JSONDecoder().decode([ReadbackValue].self, from: Data(text.utf8))
    }
}

/// Runs a Python snippet in the test venv with `path` as sys.argv[1]; returns its stdout parsed as JSON.
func python<T: Decodable>(_ script: String, _ path: String, as: T.Type) throws -> T {
    let py = try #require(TestEnvironment.python, "LAKEWRITER_TEST_PYTHON is not set")
    let r = try ProcessRunner.run(py, ["-c", script, path])
    return try JSONDecoder().decode(T.self, from: r.stdout)
}

extension ColumnBuilder {
    /// Test access to stored values.
    var int64s: [Int64] { int64Values }
    var int32s: [Int32] { int32Values }
    func bytesValue(_ i: Int) -> [UInt8] { Array(bytes[offsets[i]..<offsets[i + 1]]) }
    var defs: [UInt8] { definitionLevels }
}
