#!/usr/bin/env python3
"""connectorx peer of the backfill benchmark: read_sql into Arrow (2 partitions on id), then
pyarrow.parquet.write_table with snappy.

usage: peer_connectorx.py POSTGRES_URI TABLE OUT.parquet [PARTITIONS]
"""
import sys

import connectorx as cx
import pyarrow.parquet as pq

uri, table, out = sys.argv[1], sys.argv[2], sys.argv[3]
parts = int(sys.argv[4]) if len(sys.argv) > 4 else 2
t = cx.read_sql(uri, f"SELECT * FROM {table}", partition_on="id", partition_num=parts, return_type="arrow")
pq.write_table(t, out, compression="snappy")
