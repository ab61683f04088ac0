/// A row the decoder could not store and left out of the batch (the caller sends it to a
/// rejects file); decoding goes on with the next row.
package struct CopyRowError: Sendable, Hashable, CustomStringConvertible {
    /// Ordinal of the row in the COPY stream, from 0 (accepted and rejected rows counted).
    package var row: Int
    /// The top-level column whose value was refused.
    package var column: String
    /// Why, naming the nested field if the value is inside one.
    package var reason: String
    /// The key column's value in PostgreSQL-like text form, when a key column was given
    /// (nil when the key is NULL or none was given).
    package var key: String?

    package var description: String {
        "row \(row)" + (key.map { " (key \($0))" } ?? "") + ", column \(column): \(reason)"
    }
}
