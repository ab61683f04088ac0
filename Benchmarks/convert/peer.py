#!/usr/bin/env python3
"""The convert benchmark's peer: pyarrow.json.read_json with an explicit schema, then
pq.write_table with snappy (pyarrow uses every core for both).
usage: peer.py IN.jsonl OUT.parquet   → prints "RESULT rows=… seconds=…"
"""
import sys
import time

import pyarrow as pa
import pyarrow.json as pj
import pyarrow.parquet as pq

schema = pa.schema([
    ("order_id", pa.string()),  # pyarrow's JSON reader has no uuid conversion
    ("customer_id", pa.int64()),
    ("amount", pa.decimal128(12, 2)),
    ("currency", pa.string()),
    ("status", pa.string()),
    ("created_at", pa.timestamp("us", tz="UTC")),
    ("items", pa.int32()),
    ("note", pa.string()),
])
start = time.perf_counter()
table = pj.read_json(sys.argv[1], parse_options=pj.ParseOptions(explicit_schema=schema))
pq.write_table(table, sys.argv[2], compression="snappy")
seconds = time.perf_counter() - start
print(f"RESULT rows={table.num_rows} seconds={seconds:.3f}")
