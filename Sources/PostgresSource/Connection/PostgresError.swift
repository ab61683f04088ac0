/// An error from PostgreSQL, libpq or the COPY stream, with what the user needs to act on it.
///
/// Messages never hold a password: connection strings are shown through ``maskedDSN(_:)``
/// and a password libpq might echo is scrubbed before the error is built.
package struct PostgresError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What kind of failure this is; the CLI picks its exit code from it.
    package enum Kind: String, Sendable, Hashable {
        /// The server could not be reached or the connection broke.
        case connection
        /// Wrong password, no pg_hba.conf entry, role cannot log in (SQLSTATE class 28).
        case authentication
        /// The table or view does not exist (42P01).
        case missingTable
        /// Insufficient privilege (42501).
        case permission
        /// Any other SQL error (syntax, division by zero before the COPY started, ...).
        case query
        /// The COPY failed once rows were flowing (the server's message is kept).
        case copy
        /// The COPY BINARY stream is malformed (with the byte offset), or a type is not as the catalog said.
        case `protocol`
        /// ``PGConnection/cancel()`` stopped the statement (57014).
        case cancelled
        /// A snapshot could not be exported or imported (standby, pooler, old server): the caller
        /// must refuse or fall back to one job, never read different snapshots.
        case snapshot
        /// The table or query has a shape we do not read (duplicate result column names, ...).
        case unsupported
    }

    package var kind: Kind
    /// What we were doing: "connect", "query", "copy", "describe", "catalog", "decode", "export snapshot", ...
    package var step: String
    /// The server's primary message, or libpq's.
    package var message: String
    /// SQLSTATE from `PQresultErrorField(PG_DIAG_SQLSTATE)`, when the server sent one.
    package var sqlState: String?
    package var detail: String?
    package var hint: String?
    /// The first 200 characters of the statement.
    package var sql: String?
    /// Offset in the COPY stream (protocol errors).
    package var byteOffset: Int?

    package init(_ kind: Kind, step: String, message: String, sqlState: String? = nil, detail: String? = nil,
                 hint: String? = nil, sql: String? = nil, byteOffset: Int? = nil) {
        self.kind = kind
        self.step = step
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.sql = sql.map { Self.clip($0) }
        self.byteOffset = byteOffset
    }

    static func clip(_ sql: String) -> String {
        sql.count <= 200 ? sql : String(sql.prefix(200)) + "…"
    }

    /// A protocol error at `offset` in the COPY stream.
    static func malformed(_ message: String, at offset: Int) -> PostgresError {
        PostgresError(.protocol, step: "decode", message: message, byteOffset: offset)
    }

    /// The kind a SQLSTATE stands for.
    package static func kind(sqlState: String?, default fallback: Kind) -> Kind {
        guard let s = sqlState else { return fallback }
        switch s {
        case "42P01", "3F000": return .missingTable
        case "42501": return .permission
        case "57014": return .cancelled
        default:
            if s.hasPrefix("28") { return .authentication }
            if s.hasPrefix("08") { return .connection }
            return fallback
        }
    }

    package var description: String {
        var s = "postgres: \(step) failed (\(kind.rawValue))"
        if let sqlState { s += " [SQLSTATE \(sqlState)]" }
        s += ": \(message)"
        if let detail { s += "; detail: \(detail)" }
        if let hint { s += "; hint: \(hint)" }
        if let byteOffset { s += " (at byte \(byteOffset) of the COPY stream)" }
        if let sql { s += "; SQL: \(sql)" }
        return s
    }
}
