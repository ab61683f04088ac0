/// An error from the Parquet writer, with the column and row it concerns when known.
///
/// Value errors (``Code-swift.struct/valueOutOfRange``, ``Code-swift.struct/nullInRequiredColumn``,
/// ``Code-swift.struct/decimalOverflow``, ``Code-swift.struct/invalidUTF8``) are detected before any
/// byte of the offending batch is buffered, so the file stays valid and the writer usable.
public struct ParquetError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong; extensible without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let raw: String
        public var description: String { raw }
        public static let invalidSchema = Code(raw: "invalid schema")
        public static let valueOutOfRange = Code(raw: "value does not fit its column")
        public static let nullInRequiredColumn = Code(raw: "null in a required column")
        public static let decimalOverflow = Code(raw: "decimal exceeds its precision")
        public static let invalidUTF8 = Code(raw: "invalid UTF-8")
        public static let invalidLevels = Code(raw: "invalid definition/repetition levels")
        public static let batchMismatch = Code(raw: "batch does not match the writer")
        public static let wrongAppend = Code(raw: "append does not match the column type")
        public static let writerClosed = Code(raw: "writer is closed")
        public static let io = Code(raw: "I/O error")
        public static let compression = Code(raw: "compression failed")
    }

    public var code: Code
    /// Dotted path of the column (`"address.city"`), when the error concerns one column.
    public var column: String?
    /// Row index within the batch handed to `write`, when the error concerns one row.
    public var row: Int?
    public var message: String

    public init(_ code: Code, column: String? = nil, row: Int? = nil, message: String = "") {
        self.code = code
        self.column = column
        self.row = row
        self.message = message
    }

    public var description: String {
        var s = "parquet: \(code)"
        if let column { s += " in column \(column)" }
        if let row { s += " at row \(row)" }
        if !message.isEmpty { s += ": \(message)" }
        return s
    }
}
