# Compresses the pages written by bench-codecs with pyarrow's codecs, page by page,
# and prints one RESULT line per codec (best of R rounds).
#   peer.py PAGES_BIN ROUNDS
import sys
import time

import pyarrow as pa

path, rounds = sys.argv[1], int(sys.argv[2])
data = open(path, "rb").read()
page = 1 << 20
pages = [pa.py_buffer(data[i:i + page]) for i in range(0, len(data), page)]
mib = len(pages)
for name, level in (("snappy", None), ("gzip", 6), ("zstd", 3), ("lz4_raw", None)):
    codec = pa.Codec(name, compression_level=level) if level is not None else pa.Codec(name)
    best = float("inf")
    total = 0
    for _ in range(rounds):
        total = 0
        start = time.perf_counter()
        for p in pages:
            total += codec.compress(p).size
        best = min(best, time.perf_counter() - start)
    print(f"RESULT impl=pyarrow codec={name} mib={mib} mib_per_s={mib / best} bytes={total}")
