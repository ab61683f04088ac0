/// A table name, `schema.name` or just `name` (found through the search_path).
package struct PGTableName: Sendable, Hashable, CustomStringConvertible {
    package var schema: String?
    package var name: String

    package init(schema: String?, name: String) {
        self.schema = schema
        self.name = name
    }

    /// Parses `orders`, `sales.orders`, `"Sales"."odd.name"` as PostgreSQL reads an identifier:
    /// double-quoted parts keep their case and may hold dots (`""` is a quote), unquoted parts
    /// are folded to lower case.
    package init(parsing text: String) throws(PostgresError) {
        var parts: [String] = []
        var current: [Character] = []
        var quoted = false, wasQuoted = false
        var it = Array(text).makeIterator()
        var pending: Character? = nil
        func bad(_ why: String) -> PostgresError {
            PostgresError(.missingTable, step: "parse table name", message: "\(why) in table name \(text)")
        }
        while let c = pending ?? it.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let n = it.next() {
                        if n == "\"" { current.append("\""); continue }
                        pending = n
                    }
                    quoted = false
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                if !current.isEmpty { throw bad("a quote inside an unquoted part") }
                quoted = true; wasQuoted = true
            } else if c == "." {
                if current.isEmpty { throw bad("an empty part") }
                parts.append(String(current)); current = []; wasQuoted = false
            } else {
                if wasQuoted { throw bad("text after a closing quote") }
                current.append(contentsOf: String(c).lowercased())
            }
        }
        if quoted { throw bad("an unclosed quote") }
        if current.isEmpty { throw bad("an empty part") }
        parts.append(String(current))
        guard parts.count <= 2 else { throw bad("more than schema.name") }
        self.init(schema: parts.count == 2 ? parts[0] : nil, name: parts[parts.count - 1])
    }

    /// The name quoted for SQL: `"sales"."orders"`.
    package var quoted: String {
        (schema.map { quoteIdentifier($0) + "." } ?? "") + quoteIdentifier(name)
    }

    package var description: String { quoted }
}

/// `s` as a double-quoted SQL identifier (`"` doubled).
package func quoteIdentifier(_ s: String) -> String {
    "\"" + s.replacing("\"", with: "\"\"") + "\""
}

/// `s` as a single-quoted SQL literal (`'` doubled; standard_conforming_strings is on since 9.1).
package func quoteLiteral(_ s: String) -> String {
    "'" + s.replacing("'", with: "''") + "'"
}
