"""Worker benchmark: N orders events in one Redis stream, consumed by two consumer groups in
turn: the seed-style Python writer (peer.py) and `lakewriter run`, each until every entry is
acknowledged, both writing snappy Parquet to the same SeaweedFS; then `lakewriter run` again in
Delta mode (`table_format: delta`, its own group and prefix). Prints events/s, peak RSS, the
ratios and the Delta commit latency. Usage: run.py LAKEWRITER_BIN [N]  (env from scripts/lib/services.sh)"""
import json, os, random, subprocess, sys, tempfile, time, uuid
import boto3, redis

def fill(r, stream, n):
    random.seed(1)
    p = r.pipeline(transaction=False)
    for i in range(n):
        d = {"order_id": str(uuid.UUID(int=random.getrandbits(128), version=4)), "customer_id": random.randint(1, 10**6),
             "amount": f"{random.randint(1, 10**7) / 100:.2f}", "currency": random.choice(["EUR", "USD", "GBP"]),
             "status": random.choice(["new", "paid", "shipped", "cancelled"]),
             "created_at": f"2026-11-21T{10 + i * 4 // n:02d}:{random.randint(0, 59):02d}:{random.randint(0, 59):02d}.{random.randint(0, 999999):06d}Z",
             "quantity": random.randint(1, 20), "note": None if i % 3 else f"note {i}", "paid": i % 2 == 0}
        p.xadd(stream, {"entity": "order", "data": json.dumps(d)})
        if i % 10000 == 9999: p.execute()
    p.execute()

def acked(r, stream, group, n):
    try:
        g = [g for g in r.xinfo_groups(stream) if g["name"].decode() == group]
    except redis.ResponseError:
        return False
    return bool(g) and g[0]["pending"] == 0 and g[0]["entries-read"] is not None and g[0]["entries-read"] >= n

def peak_rss_mb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmHWM:"): return int(line.split()[1]) / 1024
    except OSError:
        return 0

def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0

def run_lakewriter(binary, r, url, endpoint, key, secret, bucket, stream, n, group, prefix, table_format):
    """`lakewriter run` with its own consumer group until every entry is acknowledged."""
    import urllib.request
    port = free_port()
    cfg = f"""
redis: {{url: "{url}", group: {group}, consumer: {group}-1, batch: 1000, block: 1s, claim_idle: 5m, route_field: entity}}
storage: {{url: "s3://{bucket}/{prefix}", endpoint: "{endpoint}", region: us-east-1, path_style: true,
          access_key_id: "{key}", secret_access_key: "{secret}", table_format: {table_format}}}
parquet: {{compression: snappy}}
flush: {{max_rows: 100000, max_bytes: 128MiB, max_age: 60s, idle: 250ms, memory_limit: 512MiB, shutdown_grace: 25s}}
http: {{listen: "127.0.0.1:{port}"}}
log: {{level: warning}}
entities:
  orders:
    stream: {stream}
    payload: json:data
    time: created_at
    columns:
      order_id: uuid not null
      customer_id: int64 not null
      amount: decimal(12,2) not null
      currency: string not null
      status: string not null
      created_at: timestamp(us, utc) not null
      quantity: int32 not null
      note: string
      paid: bool not null
"""
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        f.write(cfg)
    t0 = time.time()
    proc = subprocess.Popen([binary, "run", "--config", f.name])
    peak = 0
    while not acked(r, stream, group, n):
        peak = max(peak, peak_rss_mb(proc.pid))
        if proc.poll() is not None: sys.exit(f"lakewriter exited with {proc.returncode}")
        time.sleep(0.05)
    elapsed = time.time() - t0
    peak = max(peak, peak_rss_mb(proc.pid))
    stat = open(f"/proc/{proc.pid}/stat").read().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    proc.terminate(); proc.wait(timeout=60)
    commits = metric(text, 'lakewriter_delta_commit_seconds_count{entity="orders"}')
    commit_s = metric(text, 'lakewriter_delta_commit_seconds_sum{entity="orders"}')
    return {"events": n, "seconds": elapsed, "events_per_s": n / elapsed, "peak_rss_mb": peak, "cpu_s": cpu,
            "commits": int(commits), "commit_ms": 1000 * commit_s / commits if commits else 0}

def main():
    binary, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    url, endpoint = os.environ["LAKEWRITER_TEST_REDIS_URL"], os.environ["LAKEWRITER_TEST_S3_ENDPOINT"]
    key, secret = os.environ["LAKEWRITER_TEST_S3_ACCESS_KEY"], os.environ["LAKEWRITER_TEST_S3_SECRET_KEY"]
    r = redis.Redis.from_url(url)
    stream, bucket = "bench:orders", "bench-worker"
    boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=key, aws_secret_access_key=secret,
                 region_name="us-east-1").create_bucket(Bucket=bucket)
    r.delete(stream)
    t = time.time(); fill(r, stream, n); print(f"filled {n} entries in {time.time() - t:.1f} s", file=sys.stderr)

    env = dict(os.environ, S3_ENDPOINT=endpoint, S3_KEY=key, S3_SECRET=secret)
    py = json.loads(subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "peer.py"), url, stream,
                                    "py", bucket, str(n)], env=env, check=True, capture_output=True, text=True).stdout)

    lw = run_lakewriter(binary, r, url, endpoint, key, secret, bucket, stream, n, group="lw", prefix="lw", table_format="parquet")
    lwd = run_lakewriter(binary, r, url, endpoint, key, secret, bucket, stream, n, group="lwd", prefix="lwd", table_format="delta")
    print(f"| writer | events | seconds | events/s | peak RSS |")
    print(f"| --- | ---: | ---: | ---: | ---: |")
    for name, x in [("Python (redis-py + pyarrow + boto3)", py), ("lakewriter run", lw), ("lakewriter run, table_format: delta", lwd)]:
        print(f"| {name} | {x['events']} | {x['seconds']:.2f} | {x['events_per_s']:,.0f} | {x['peak_rss_mb']:.0f} MB |")
    print(f"\nlakewriter / Python: {lw['events_per_s'] / py['events_per_s']:.2f}x events/s (goal: >= 6x); "
          f"lakewriter CPU {lw['cpu_s']:.2f} s for {lw['seconds']:.2f} s wall, Python CPU {py.get('cpu_s', 0):.2f} s")
    print(f"delta / parquet: {lwd['events_per_s'] / lw['events_per_s']:.2f}x events/s (goal: >= 0.9x); "
          f"{lwd['commits']} commits, {lwd['commit_ms']:.1f} ms per commit on average")

if __name__ == "__main__":
    main()
