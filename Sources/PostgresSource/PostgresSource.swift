// PostgresSource: reads PostgreSQL tables and queries with libpq's
// `COPY (…) TO STDOUT (FORMAT binary)` straight into Parquet column builders.
//
// - Connection/: `PGConnection` (libpq), `PostgresError`, `maskedDSN(_:)`.
// - Catalog/: `PostgresCatalog` reads column types from the catalog, `PGType` the resolved
//   type tree, `TypeMapping` the PostgreSQL → Parquet mapping (the table is documented there).
// - Decoder/: `CopyBinaryDecoder`, the COPY BINARY stream parser (no Foundation, no
//   per-value allocation), with its numeric and date/time conversions.
// - Plan/: `BackfillPlan` (partitions, ctid page ranges, estimates) and
//   `SnapshotCoordinator` (one exported snapshot shared by every job connection).
