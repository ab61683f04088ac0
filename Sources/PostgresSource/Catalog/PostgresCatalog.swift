/// A relation found in `pg_class`.
package struct PGRelation: Sendable, Hashable {
    package var oid: UInt32
    package var schema: String
    package var name: String
    /// `relkind`: r table, p partitioned table, m materialized view, v view, f foreign table.
    package var kind: Character

    package var qualifiedName: PGTableName { PGTableName(schema: schema, name: name) }
    /// Whether rows live in a heap of its own (ctid ranges apply).
    package var hasHeap: Bool { kind == "r" || kind == "m" }
}

/// Reads column types from the system catalog and resolves them to ``PGType`` trees.
///
/// Not the hot path: text results, one query per type not seen before (cached).
package final class PostgresCatalog {
    /// Composite types nested deeper than this are read as text.
    package static let maxCompositeDepth = 8

    package let connection: PGConnection
    private var cache: [Key: PGType] = [:]
    private struct Key: Hashable { var oid: UInt32; var typmod: Int32 }

    package init(_ connection: PGConnection) {
        self.connection = connection
    }

    /// The relation `table` names (search_path applies without a schema); kind
    /// ``PostgresError/Kind-swift.enum/missingTable`` if there is none.
    package func relation(_ table: PGTableName) throws(PostgresError) -> PGRelation {
        let rows = try connection.query("""
            SELECT c.oid, n.nspname, c.relname, c.relkind FROM pg_catalog.pg_class c
            JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = pg_catalog.to_regclass($1)
            """, [table.quoted], step: "catalog")
        guard let r = rows.first, let oid = r[0].flatMap({ UInt32($0) }), let kind = r[3]?.first else {
            throw PostgresError(.missingTable, step: "catalog", message: "relation \(table.quoted) does not exist",
                                sqlState: "42P01")
        }
        return PGRelation(oid: oid, schema: r[1] ?? "", name: r[2] ?? "", kind: kind)
    }

    /// The live columns of a relation (`attnum > 0`, not dropped), in order.
    package func columns(of relation: PGRelation) throws(PostgresError) -> [PGColumn] {
        let rows = try connection.query("""
            SELECT a.attname, a.attnum, a.atttypid, a.atttypmod, a.attnotnull,
                   pg_catalog.format_type(a.atttypid, a.atttypmod)
            FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [String(relation.oid)], step: "catalog")
        var out: [PGColumn] = []
        for r in rows {
            let oid = UInt32(r[2] ?? "") ?? 0, typmod = Int32(r[3] ?? "") ?? -1
            out.append(PGColumn(name: r[0] ?? "", attnum: Int(r[1] ?? ""), typeOid: oid, typmod: typmod,
                                typeName: r[5] ?? "", isNotNull: r[4] == "t",
                                type: try resolve(oid: oid, typmod: typmod)))
        }
        if out.isEmpty {
            throw PostgresError(.unsupported, step: "catalog", message: "\(relation.qualifiedName) has no columns")
        }
        return out
    }

    /// The result columns of `sql` without running it (`PQprepare` + `PQdescribePrepared`), resolved
    /// through the catalog like table columns. All are nullable.
    package func columns(ofQuery sql: String) throws(PostgresError) -> [PGColumn] {
        let described = try connection.describe(sql)
        var out: [PGColumn] = []
        for c in described {
            let name = try connection.query("SELECT pg_catalog.format_type($1, $2)", [String(c.typeOid), String(c.typmod)],
                                            step: "catalog").first?[0] ?? ""
            out.append(PGColumn(name: c.name, attnum: nil, typeOid: c.typeOid, typmod: c.typmod, typeName: name,
                                isNotNull: false, type: try resolve(oid: c.typeOid, typmod: c.typmod)))
        }
        return out
    }

    /// The type `oid` with `typmod` stands for: domains become their base type (with the
    /// domain's typmod), arrays carry their element's resolution, composites their attributes
    /// (down to ``maxCompositeDepth``), enums are recognised by `typtype = 'e'`, citext by name.
    package func resolve(oid: UInt32, typmod: Int32, depth: Int = 0) throws(PostgresError) -> PGType {
        if let t = PGOid.builtin(oid, typmod: typmod) { return t }
        let key = Key(oid: oid, typmod: typmod)
        if depth == 0, let t = cache[key] { return t }
        let rows = try connection.query("""
            SELECT t.typname, t.typtype, t.typelem, t.typbasetype, t.typtypmod, t.typrelid, t.typcategory, t.typlen
            FROM pg_catalog.pg_type t WHERE t.oid = $1
            """, [String(oid)], step: "catalog")
        guard let r = rows.first else {
            throw PostgresError(.protocol, step: "catalog", message: "type oid \(oid) is not in pg_type")
        }
        let name = r[0] ?? "?", typtype = r[1] ?? "", elem = UInt32(r[2] ?? "") ?? 0
        let base = UInt32(r[3] ?? "") ?? 0, baseTypmod = Int32(r[4] ?? "") ?? -1
        let relid = UInt32(r[5] ?? "") ?? 0, category = r[6] ?? "", len = Int(r[7] ?? "") ?? 0
        let t: PGType
        if typtype == "d" {
            t = try resolve(oid: base, typmod: baseTypmod, depth: depth)
        } else if typtype == "e" {
            t = .enumeration(name)
        } else if typtype == "c" {
            t = try composite(name: name, relid: relid, depth: depth)
        } else if category == "A" && elem != 0 && len == -1 {
            // The element keeps the column's typmod (numeric(12,2)[] has typmod of numeric(12,2)).
            t = .array(element: try resolve(oid: elem, typmod: typmod, depth: depth), elementOid: elem)
        } else if name == "citext" {
            t = .text("citext")
        } else {
            t = .other(name)
        }
        if depth == 0 { cache[key] = t }
        return t
    }

    private func composite(name: String, relid: UInt32, depth: Int) throws(PostgresError) -> PGType {
        guard depth < Self.maxCompositeDepth else { return .other(name) }
        let rows = try connection.query("""
            SELECT a.attname, a.atttypid, a.atttypmod FROM pg_catalog.pg_attribute a
            WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, [String(relid)], step: "catalog")
        var fields: [PGField] = []
        for r in rows {
            let oid = UInt32(r[1] ?? "") ?? 0
            fields.append(PGField(name: r[0] ?? "", typeOid: oid,
                                  type: try resolve(oid: oid, typmod: Int32(r[2] ?? "") ?? -1, depth: depth + 1)))
        }
        // An empty composite has no Parquet shape: its text form it is.
        return fields.isEmpty ? .other(name) : .composite(name: name, fields: fields)
    }
}
