#!/usr/bin/env python3
"""DuckDB peer of the backfill benchmark: the postgres extension copies TABLE to one Parquet file.

usage: peer_duckdb.py CONNINFO TABLE OUT.parquet [THREADS]
Run with PYTHONPATH pointing at the pinned duckdb + duckdb-extension-postgres-scanner (scripts/bench
backfill installs both from PyPI, same version, into $LAKEWRITER_VENV/bench-backfill-site): the
extension is LOADed from the wheel's file, nothing is downloaded at run time.
"""
import os
import sys

import duckdb
import duckdb_extension_postgres_scanner as ext

conninfo, table, out = sys.argv[1], sys.argv[2], sys.argv[3]
threads = int(sys.argv[4]) if len(sys.argv) > 4 else 2
path = os.path.join(os.path.dirname(ext.__file__), "extensions", "v" + duckdb.__version__,
                    "postgres_scanner.duckdb_extension")
if not os.path.exists(path):
    sys.exit(f"peer_duckdb: no {path} (duckdb {duckdb.__version__} and the extension wheel must match)")
con = duckdb.connect(config={"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}); con.execute("SET enable_progress_bar = false")
con.execute(f"LOAD '{path}'")
con.execute(f"SET threads={threads}")
con.execute(f"ATTACH '{conninfo}' AS pg (TYPE postgres, READ_ONLY)")
schema, name = table.split(".", 1) if "." in table else ("public", table)
con.execute(f"COPY (SELECT * FROM pg.{schema}.{name}) TO '{out}' (FORMAT parquet, COMPRESSION snappy)")
print(f"duckdb {duckdb.__version__}", file=sys.stderr)
