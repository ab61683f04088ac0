"""Peer of bench-parquet: times pyarrow's pq.write_table on the same data.

  peer.py DATA.parquet [ROUNDS]

Loads the table bench-parquet wrote (untimed), then writes it with snappy and
zstd (level 3) using options matching lakewriter's defaults: dictionary on,
1 MiB data pages, 1 MiB dictionary limit, 1,048,576-row row groups, statistics,
page index, data page v1. Prints one RESULT line per codec.
"""
import os
import sys
import time

import pyarrow.parquet as pq

path = sys.argv[1]
rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
table = pq.read_table(path)
table = table.combine_chunks()
rows = table.num_rows
out_dir = os.path.dirname(path)

for label, codec, level in (("snappy", "snappy", None), ("zstd", "zstd", 3)):
    out = os.path.join(out_dir, f"pyarrow-{label}.parquet")
    best = float("inf")
    best_cpu = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        c = time.process_time()
        pq.write_table(table, out, compression=codec, compression_level=level, use_dictionary=True,
                       data_page_size=1 << 20, dictionary_pagesize_limit=1 << 20, row_group_size=1 << 20,
                       write_statistics=True, write_page_index=True, data_page_version="1.0")
        best = min(best, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.process_time() - c)
    size = os.path.getsize(out)
    print(f"RESULT impl=pyarrow codec={label} rows={rows} best_s={best:.4f} rows_per_s={rows / best:.0f} "
          f"cpu_s={best_cpu:.4f} bytes={size}")
