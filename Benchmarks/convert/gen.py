#!/usr/bin/env python3
"""Writes N orders-like JSON lines (default 1,000,000, about 170 MB) for the convert benchmark.

Deterministic (seeded) so both sides of the benchmark read the same bytes.
usage: gen.py OUT.jsonl [N]
"""
import random
import sys
import uuid

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
rng = random.Random(42)
statuses = ["new", "paid", "shipped", "delivered", "cancelled"]
currencies = ["EUR", "USD", "GBP", "CHF"]
notes = [None, None, None, "gift", "express delivery", "leave at the door"]
base = 1_714_564_800  # 2024-05-01T12:00:00Z
with open(out, "w") as f:
    for i in range(n):
        oid = uuid.UUID(int=rng.getrandbits(128), version=4)
        ts = base + i // 10
        micros = rng.randrange(1_000_000)
        secs = ts % 86400
        created = "2024-05-%02dT%02d:%02d:%02d.%06dZ" % (1 + (ts - base) // 86400 % 28, secs // 3600, secs // 60 % 60, secs % 60, micros)
        note = rng.choice(notes)
        line = ('{"order_id":"%s","customer_id":%d,"amount":"%d.%02d","currency":"%s","status":"%s",'
                '"created_at":"%s","items":%d%s}\n') % (
            oid, rng.randrange(1, 5_000_000), rng.randrange(0, 100_000), rng.randrange(100),
            rng.choice(currencies), rng.choice(statuses), created, rng.randrange(1, 20),
            "" if note is None else ',"note":"%s"' % note)
        f.write(line)
