import Foundation
import Parquet
import Testing
import TestSupport

/// Tests that read files back need the venv python; under CI its absence is a failure.
let readersAvailable = TestEnvironment.python != nil || TestEnvironment.isCI

/// Writes `batches` into a fresh file and returns its path.
func writeParquet(_ schema: ParquetSchema, properties: WriterProperties = WriterProperties(), label: String = "pq",
                  batches: Int = 1, fill: (Int, inout RowBatch) throws -> Void) throws -> String {
    let dir = try TestEnvironment.temporaryDirectory(label)
    let path = dir.appendingPathComponent("\(label).parquet").path
    let writer = try ParquetWriter(schema: schema, sink: try FileSink(path: path), properties: properties)
    var batch = writer.makeBatch()
    for b in 0..<batches {
        try fill(b, &batch)
        try writer.write(batch)
        batch.removeAll()
    }
    try writer.close()
    return path
}

/// Expects every reader to return exactly `expected`.
func expectReadBack(_ path: String, columns: [String], _ expected: [[ReadbackValue]],
                    sourceLocation: SourceLocation = #_sourceLocation) throws {
    let problems = try ParquetReadback.mismatches(path: path, columns: columns, expected: expected)
    #expect(problems.isEmpty, "\(problems.prefix(10).joined(separator: "\n"))", sourceLocation: sourceLocation)
}


func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

/// The decimal text of an unscaled value (what readback.py prints for DECIMAL).
func decimalText(_ unscaled: Int128, scale: Int) -> String {
    let neg = unscaled < 0
    var digits = String(neg ? -unscaled : unscaled)
    if scale > 0 {
        while digits.count <= scale { digits = "0" + digits }
        digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -scale))
    }
    return (neg ? "-" : "") + digits
}
