/// One column of a table (from `pg_attribute`) or of a query's result (from `PQdescribePrepared`).
package struct PGColumn: Sendable, Hashable {
    package var name: String
    /// `attnum` for a table column, nil for a query column.
    package var attnum: Int?
    package var typeOid: UInt32
    package var typmod: Int32
    /// `format_type(oid, typmod)`, e.g. `numeric(12,2)`, for logs.
    package var typeName: String
    /// `attnotnull` (always false for query columns).
    package var isNotNull: Bool
    package var type: PGType

    package init(name: String, attnum: Int?, typeOid: UInt32, typmod: Int32, typeName: String, isNotNull: Bool,
                 type: PGType) {
        self.name = name
        self.attnum = attnum
        self.typeOid = typeOid
        self.typmod = typmod
        self.typeName = typeName
        self.isNotNull = isNotNull
        self.type = type
    }
}
