#!/usr/bin/env python3
"""The backfill benchmark (scripts/bench backfill): PostgreSQL table -> Parquet, side by side.

usage: run.py LAKEWRITER_BACKFILL   (the environment below comes from scripts/bench / services.sh)
  LAKEWRITER_TEST_PG                 libpq conninfo of the throw-away server
  LAKEWRITER_TEST_PYTHON             the venv's python (pyarrow)
  LAKEWRITER_BENCH_BACKFILL_SITE     pinned duckdb + postgres_scanner extension + connectorx (PYTHONPATH)
  LAKEWRITER_BENCH_BACKFILL_ROWS     rows of the compared table (default 2000000)
  LAKEWRITER_BENCH_BACKFILL_ROUNDS   alternated rounds, best wall time kept (default 3)
  LAKEWRITER_BENCH_BACKFILL_SIZES    extra table sizes lakewriter and DuckDB copy once, to show its peak
                                     RSS does not grow with the table (default 6000000; "" skips)
  LAKEWRITER_BENCH_BACKFILL_JOBS     --jobs / threads / partitions / COPY streams (default 2)

Every tool runs as a child process; wall time is measured around it and peak RSS is the child's
ru_maxrss from wait4 (for the two-stream COPY, the two psql processes added up). Tools are
alternated round by round so all of them see the same machine load. CPU seconds are counted too,
since they do not depend on what else the machine runs: the tool's (ru_utime + ru_stime from
wait4) and PostgreSQL's (the postmaster's cutime + cstime: its backends, reaped when they exit).
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

LW = sys.argv[1]
PG = os.environ["LAKEWRITER_TEST_PG"]
PY = os.environ["LAKEWRITER_TEST_PYTHON"]
SITE = os.environ.get("LAKEWRITER_BENCH_BACKFILL_SITE", "")
ROWS = int(os.environ.get("LAKEWRITER_BENCH_BACKFILL_ROWS", "2000000"))
ROUNDS = int(os.environ.get("LAKEWRITER_BENCH_BACKFILL_ROUNDS", "3"))
SIZES = [int(s) for s in re.split(r"[ ,]+", os.environ.get("LAKEWRITER_BENCH_BACKFILL_SIZES", "6000000")) if s]
JOBS = int(os.environ.get("LAKEWRITER_BENCH_BACKFILL_JOBS", "2"))
HERE = os.path.dirname(os.path.abspath(__file__))
KV = dict(re.findall(r"(\w+)=(\S+)", PG))
URI = "postgresql://%s@%s:%s/%s" % (KV.get("user", "postgres"), KV.get("host", "127.0.0.1"), KV["port"],
                                    KV.get("dbname", "postgres"))


def log(msg):
    print("[bench backfill] " + msg, file=sys.stderr, flush=True)


def psql(*args, **kw):
    return subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", PG, *args], check=True, **kw)


def scalar(sql):
    return psql("-At", "-c", sql, stdout=subprocess.PIPE, text=True).stdout.strip()


POSTMASTER = None  # pid, once known (make_table)
TICK = os.sysconf("SC_CLK_TCK")


def postmaster_children():
    try:
        with open(f"/proc/{POSTMASTER}/task/{POSTMASTER}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def server_processes():
    """The postmaster's long-lived children (checkpointer, walwriter, launchers): not client
    backends, not zombies waiting to be reaped."""
    keep = set()
    for c in postmaster_children():
        try:
            with open(f"/proc/{c}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
            with open(f"/proc/{c}/cmdline", "rb") as f:
                cmd = f.read()
            client = b"127.0.0.1(" in cmd or b"[local]" in cmd
        except OSError:
            continue
        if state != "Z" and not client:
            keep.add(c)
    return keep


def pg_cpu(baseline):
    """CPU seconds of the postmaster's reaped children, once every child not in `baseline` (this
    run's backends, zombies until reaped) is gone."""
    if POSTMASTER is None:
        return None
    deadline = time.time() + 5
    while time.time() < deadline and not set(postmaster_children()) <= baseline:
        time.sleep(0.02)
    try:
        with open(f"/proc/{POSTMASTER}/stat") as f:
            rest = f.read().rsplit(")", 1)[1].split()
        return (int(rest[13]) + int(rest[14])) / TICK  # fields 16 and 17: cutime, cstime
    except OSError:
        return None


def run(cmds, env=None, stdout=None):
    """Starts every command at once, waits for all; returns (wall s, peak RSS bytes summed,
    the commands' CPU s, PostgreSQL's CPU s or None)."""
    baseline = server_processes()  # earlier clients' backends are waited for by pg_cpu
    pg0 = pg_cpu(baseline)
    t = time.perf_counter()
    procs = [subprocess.Popen(c, env=env, stdout=stdout) for c in cmds]
    rss, cpu, failed = 0, 0.0, []
    for p in procs:
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        rss += usage.ru_maxrss * 1024  # kilobytes on Linux
        cpu += usage.ru_utime + usage.ru_stime
        if p.returncode != 0:
            failed.append((p.args, p.returncode))
    wall = time.perf_counter() - t
    if failed:
        raise SystemExit("bench backfill: failed: %r" % failed)
    pg1 = pg_cpu(baseline)
    return wall, rss, cpu, (pg1 - pg0 if pg0 is not None and pg1 is not None else None)


def parquet_rows(path):
    """Rows in the Parquet file, or in every .parquet file under the directory (via pyarrow)."""
    code = ("import os, sys, pyarrow.parquet as pq\n"
            "p = sys.argv[1]\n"
            "fs = [p] if os.path.isfile(p) else [os.path.join(d, f) for d, _, n in os.walk(p) for f in n"
            " if f.endswith('.parquet')]\n"
            "print(len(fs), sum(pq.ParquetFile(f).metadata.num_rows for f in fs))\n")
    files, rows = subprocess.run([PY, "-c", code, path], check=True, stdout=subprocess.PIPE,
                                 text=True).stdout.split()
    return int(files), int(rows)


def make_table(table, rows):
    global POSTMASTER
    if POSTMASTER is None:
        try:
            with open(os.path.join(scalar("SHOW data_directory"), "postmaster.pid")) as f:
                POSTMASTER = int(f.readline())
        except (OSError, ValueError) as e:
            log(f"PostgreSQL's CPU time is not counted: {e}")
    log(f"generating public.{table}: {rows:,} rows (generate_series), VACUUM ANALYZE")
    t = time.perf_counter()
    psql("-v", f"rows={rows}", "-v", f"table={table}", "-f", os.path.join(HERE, "orders.sql"))
    pages = int(scalar(f"SELECT pg_relation_size('public.{table}') / 8192"))
    size = int(scalar(f"SELECT pg_total_relation_size('public.{table}')"))
    log(f"public.{table}: {pages:,} pages ({size / 1e6:,.0f} MB with the index) in {time.perf_counter() - t:.1f} s")
    return pages


def lakewriter(table, out, *extra):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    return run([[LW, "--dsn", PG, "--table", f"public.{table}", "--output", "file://" + out,
                 "--jobs", str(JOBS), "--compression", "snappy", "--rejects", os.path.join(out, "rejects.jsonl"), *extra]])


def main():
    tmp = tempfile.mkdtemp(prefix="lakewriter-bench-backfill.")
    peer_env = dict(os.environ, PYTHONPATH=SITE)
    try:
        pages = make_table("orders", ROWS)
        copy = "COPY (SELECT * FROM public.orders%s) TO STDOUT (FORMAT binary)"
        # Stream k of n covers the pages [k*pages/n, (k+1)*pages/n) (the last one is open-ended).
        def ctid_range(k, n):
            lo, hi = k * pages // n, (k + 1) * pages // n
            cond = [f"ctid >= '({lo},0)'::tid"] if k > 0 else []
            cond += [f"ctid < '({hi},0)'::tid"] if k < n - 1 else []
            return " WHERE " + " AND ".join(cond) if cond else ""
        tools = {
            "lakewriter-backfill": lambda: lakewriter("orders", f"{tmp}/lakewriter"),
            "lakewriter, no dictionary": lambda: lakewriter("orders", f"{tmp}/lakewriter-nodict", "--config",
                                                            f"{HERE}/no-dictionary.yaml"),
            "duckdb postgres": lambda: run([[PY, f"{HERE}/peer_duckdb.py", PG, "public.orders", f"{tmp}/duckdb.parquet",
                                             str(JOBS)]], env=peer_env),
            "connectorx + pyarrow": lambda: run([[PY, f"{HERE}/peer_connectorx.py", URI, "public.orders",
                                                  f"{tmp}/connectorx.parquet", str(JOBS)]], env=peer_env),
            "raw COPY, 1 stream": lambda: run([["psql", "-X", "-q", "-d", PG, "-c", copy % ""]],
                                              stdout=subprocess.DEVNULL),
            f"raw COPY, {JOBS} streams": lambda: run([["psql", "-X", "-q", "-d", PG, "-c", copy % ctid_range(k, JOBS)]
                                                      for k in range(JOBS)], stdout=subprocess.DEVNULL),
        }
        psql("-c", copy % "", stdout=subprocess.DEVNULL)  # warm the page cache for everyone
        time.sleep(0.5)  # its backend reaped before the first count
        best = {}
        for r in range(ROUNDS):
            for name, f in tools.items():
                wall, rss, cpu, pg = f()
                log(f"round {r + 1}/{ROUNDS}: {name:24} {wall:7.2f} s {rss / 2**20:8.1f} MiB  cpu {cpu:6.2f} s"
                    + (f" + postgres {pg:6.2f} s" if pg is not None else ""))
                b = best.setdefault(name, [wall, rss, cpu, pg])
                b[0], b[1], b[2] = min(b[0], wall), max(b[1], rss), min(b[2], cpu)
                b[3] = min(b[3], pg) if pg is not None and b[3] is not None else None

        checks, lw_files = [], 0
        outputs = (("lakewriter-backfill", f"{tmp}/lakewriter"), ("lakewriter, no dictionary", f"{tmp}/lakewriter-nodict"),
                   ("duckdb postgres", f"{tmp}/duckdb.parquet"), ("connectorx + pyarrow", f"{tmp}/connectorx.parquet"))
        for name, path in outputs:
            files, rows = parquet_rows(path)
            checks.append(f"{name}: {rows:,} rows in {files} file(s) {'ok' if rows == ROWS else 'MISMATCH'}")
            lw_files = lw_files or files
            if rows != ROWS:
                raise SystemExit(f"bench backfill: {name} wrote {rows} rows, expected {ROWS}")
        sizes = {n: sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(p) for f in fs if f.endswith(".parquet"))
                 if os.path.isdir(p) else os.path.getsize(p)
                 for n, p in outputs}

        scaled = []
        if SIZES:
            psql("-c", "DROP TABLE public.orders")  # room for the bigger table
        for n in SIZES:
            make_table("orders_big", n)
            psql("-c", "COPY (SELECT * FROM public.orders_big) TO STDOUT (FORMAT binary)", stdout=subprocess.DEVNULL)
            time.sleep(0.5)  # the warm-up's backend reaped before lakewriter's PostgreSQL CPU is counted
            wall, rss, cpu, pg = lakewriter("orders_big", f"{tmp}/lakewriter-big")
            files, rows = parquet_rows(f"{tmp}/lakewriter-big")
            if rows != n:
                raise SystemExit(f"bench backfill: lakewriter wrote {rows} rows of orders_big, expected {n}")
            log(f"{n:,} rows: lakewriter {wall:.2f} s {rss / 2**20:.1f} MiB, cpu {cpu:.2f} s + postgres {pg or 0:.2f} s, "
                f"{files} file(s)")
            dwall, drss, dcpu_, dpg = run([[PY, f"{HERE}/peer_duckdb.py", PG, "public.orders_big", f"{tmp}/duckdb-big.parquet",
                                            str(JOBS)]], env=peer_env)
            log(f"{n:,} rows: duckdb {dwall:.2f} s {drss / 2**20:.1f} MiB, cpu {dcpu_:.2f} s + postgres {dpg or 0:.2f} s")
            os.remove(f"{tmp}/duckdb-big.parquet")
            scaled.append((n, wall, rss, files, dwall, drss))
            psql("-c", "DROP TABLE public.orders_big")
            shutil.rmtree(f"{tmp}/lakewriter-big", ignore_errors=True)

        duck = best["duckdb postgres"][0]
        raw = best[f"raw COPY, {JOBS} streams"][0]
        print(f"\nbackfill: public.orders, {ROWS:,} rows (uuid, bigint, numeric(12,2), 2 texts, timestamptz, int, "
              f"nullable text, bool, jsonb), {pages:,} pages; {JOBS} jobs/threads/streams, snappy; best of {ROUNDS} rounds")
        print("%-26s %8s %10s %12s %11s %15s %14s %8s %8s %11s" % (
            "tool", "seconds", "rows/s", "peak RSS MB", "parquet MB", "speed vs duckdb", f"time vs {JOBS}xCOPY",
            "cpu s", "pg cpu s", "cpu vs duck"))
        dcpu = best["duckdb postgres"][2] + (best["duckdb postgres"][3] or 0)
        for name, (wall, rss, cpu, pg) in best.items():
            pq_mb = "%11.1f" % (sizes[name] / 1e6) if name in sizes else "%11s" % "-"
            pgs = "%8.2f" % pg if pg is not None else "%8s" % "-"
            print(f"{name:26} {wall:8.2f} {ROWS / wall:10,.0f} {rss / 1e6:12.1f} {pq_mb} {duck / wall:14.2f}x "
                  f"{wall / raw:13.2f}x {cpu:8.2f} {pgs} {(cpu + (pg or 0)) / dcpu:10.2f}x")
        lw = best["lakewriter-backfill"][0]
        print(f"targets: lakewriter >= 1.20x DuckDB's speed: {duck / lw:.2f}x {'met' if duck / lw >= 1.2 else 'MISSED'}; "
              f"within 1.30x of {JOBS}-stream raw COPY: {lw / raw:.2f}x {'met' if lw / raw <= 1.3 else 'MISSED'}")
        nd = best["lakewriter, no dictionary"][0]
        print(f"  with parquet.dictionary false (Benchmarks/backfill/no-dictionary.yaml): {duck / nd:.2f}x DuckDB's speed, "
              f"{nd / raw:.2f}x the {JOBS}-stream COPY time")
        print("speed vs duckdb = DuckDB seconds / tool seconds (> 1 faster); time vs COPY = tool seconds / "
              f"{JOBS}-stream COPY seconds (raw COPY BINARY to /dev/null, the floor). Seconds: the whole process "
              "(start, connect, read, write); peak RSS: ru_maxrss of the process (COPY streams: summed).")
        print("cpu s: the tool's user + system CPU; pg cpu s: PostgreSQL backends' CPU for the same run (best "
              "rounds); cpu vs duck = (cpu + pg cpu) / DuckDB's (< 1: less work for the machine). On a 2-core machine "
              "the PostgreSQL backends producing COPY BINARY take most of both cores: raw COPY is the floor.")
        print("checks (pyarrow metadata): " + "; ".join(checks))
        if scaled:
            print("\nby table size (bigger sizes: one run each, same flags): lakewriter's peak RSS stays flat")
            print("%12s %9s %12s %13s %7s %12s %14s %15s" % ("rows", "seconds", "rows/s", "peak RSS MB", "files",
                                                           "duckdb s", "duckdb RSS MB", "speed vs duckdb"))
            lw2, dk2 = best["lakewriter-backfill"], best["duckdb postgres"]
            print(f"{ROWS:12,} {lw2[0]:9.2f} {ROWS / lw2[0]:12,.0f} {lw2[1] / 1e6:13.1f} {lw_files:7} {dk2[0]:12.2f} "
                  f"{dk2[1] / 1e6:14.1f} {dk2[0] / lw2[0]:14.2f}x")
            for n, wall, rss, files, dwall, drss in scaled:
                print(f"{n:12,} {wall:9.2f} {n / wall:12,.0f} {rss / 1e6:13.1f} {files:7} {dwall:12.2f} {drss / 1e6:14.1f} "
                      f"{dwall / wall:14.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


main()
