"""The fault suite: drives the real `lakewriter run` against redis-server and SeaweedFS while a
producer writes a known set of events, injects one fault per scenario, then reads every Parquet
file back and reports sent, found, lost (must be 0), duplicates, dead letters, time to recover
and peak RSS. Run by scripts/chaos (all scenarios) and by IntegrationTests/ChaosTests (--short).

Environment (scripts/lib/services.sh exports it): LAKEWRITER_TEST_S3_ENDPOINT, _ACCESS_KEY,
_SECRET_KEY, _REGION, LAKEWRITER_REDIS_SERVER. Each scenario starts its own redis-server (AOF on,
fsync always) and uses its own bucket prefix.
"""
import argparse, collections, io, json, os, random, select, shutil, signal, socket, subprocess, sys, tempfile, threading, time, uuid

import boto3, pyarrow.parquet as pq, redis

ENV = os.environ
ENDPOINT = ENV["LAKEWRITER_TEST_S3_ENDPOINT"]
KEY, SECRET = ENV["LAKEWRITER_TEST_S3_ACCESS_KEY"], ENV["LAKEWRITER_TEST_S3_SECRET_KEY"]
REGION = ENV.get("LAKEWRITER_TEST_S3_REGION", "us-east-1")
REDIS_SERVER = ENV.get("LAKEWRITER_REDIS_SERVER", "/usr/bin/redis-server")
BUCKET = "lakewriter-worker-tests"  # the bucket the worker tests share (SeaweedFS: volumes per bucket)
STREAM = "chaos:events"


def log(*a):
    print("[chaos]", *a, file=sys.stderr, flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Redis:
    def __init__(self, root):
        self.port, self.dir = free_port(), os.path.join(root, "redis")
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", self.dir,
                                      "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                                      "--logfile", os.path.join(self.dir, "log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                if redis.Redis(port=self.port).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def client(self):
        return redis.Redis(port=self.port, socket_timeout=10)


class FaultProxy:
    """A loopback TCP proxy in front of SeaweedFS: `pass`, `down` (connections closed at once),
    `reset` (connections reset), `stall` (accepted, nothing forwarded) or `http503` (every request
    answered 503 SlowDown)."""

    def __init__(self, target_port):
        self.mode, self.target = "pass", target_port
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def set(self, mode):
        with self.lock:
            self.mode = mode
            if mode in ("down", "reset", "http503"):
                for c in self.conns:
                    try:
                        c.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                self.conns = []

    def accept_loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            mode = self.mode
            if mode == "down":
                c.close()
            elif mode == "reset":
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
            elif mode == "http503":
                threading.Thread(target=self.answer_503, args=(c,), daemon=True).start()
            else:
                threading.Thread(target=self.pipe, args=(c,), daemon=True).start()

    def answer_503(self, c):
        body = b"<?xml version='1.0'?><Error><Code>SlowDown</Code><Message>chaos</Message></Error>"
        try:
            c.settimeout(5)
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = c.recv(65536)
                if not chunk:
                    break
                data += chunk
            c.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nConnection: close\r\n"
                      b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        except OSError:
            pass
        finally:
            c.close()

    def pipe(self, c):
        try:
            u = socket.create_connection(("127.0.0.1", self.target))
        except OSError:
            c.close()
            return
        with self.lock:
            self.conns += [c, u]
        socks = [c, u]
        try:
            while True:
                if self.mode == "stall":
                    time.sleep(0.05)
                    continue
                r, _, _ = select.select(socks, [], [], 0.2)
                for s in r:
                    data = s.recv(65536)
                    if not data:
                        raise OSError
                    (u if s is c else c).sendall(data)
        except OSError:
            pass
        finally:
            for s in socks:
                try:
                    s.close()
                except OSError:
                    pass


class Worker:
    def __init__(self, binary, config, name, root, env=None):
        self.binary, self.config, self.name, self.env = binary, config, name, env or {}
        self.log = open(os.path.join(root, f"{name}.log"), "ab")
        self.proc, self.peak_rss = None, 0
        self.start()

    def start(self):
        env = dict(ENV, HOSTNAME=self.name, AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=SECRET, **self.env)
        self.proc = subprocess.Popen([self.binary, "run", "--config", self.config], stdout=self.log, stderr=self.log, env=env)

    def sample_rss(self):
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmHWM:"):
                    self.peak_rss = max(self.peak_rss, int(line.split()[1]) * 1024)
        except OSError:
            pass

    def kill(self):
        self.sample_rss()
        self.proc.kill()
        self.proc.wait()

    def term(self, timeout=60):
        self.sample_rss()
        t = time.time()
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = -9
        return rc, time.time() - t

    def alive(self):
        return self.proc.poll() is None


RUNS = []


class Run:
    def __init__(self, name, binary, root, events, rate, claim_idle="5s", extra_flush="", memory="64MiB", table_format="parquet",
                 max_rows=5000):
        RUNS.append(self)
        self.name, self.binary, self.events, self.rate, self.table_format = name, binary, events, rate, table_format
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.redis = Redis(self.dir)
        self.proxy = FaultProxy(int(ENDPOINT.rsplit(":", 1)[1]))
        self.prefix = f"{name}-{uuid.uuid4().hex[:8]}"
        self.config = os.path.join(self.dir, "config.yaml")
        with open(self.config, "w") as f:
            f.write(f"""
redis: {{url: "redis://127.0.0.1:{self.redis.port}/0", group: chaos, consumer: "${{HOSTNAME}}", batch: 500, block: 500ms,
        claim_idle: {claim_idle}, consumer_lease: 3s}}
storage: {{url: "s3://{BUCKET}/{self.prefix}", endpoint: "http://127.0.0.1:{self.proxy.port}", region: {REGION}, path_style: true,
          access_key_id: "${{AWS_ACCESS_KEY_ID}}", secret_access_key: "${{AWS_SECRET_ACCESS_KEY}}", table_format: {table_format}}}
flush: {{max_rows: {max_rows}, max_age: 3s, idle: 1s, memory_limit: {memory}, shutdown_grace: 30s{extra_flush}}}
http: {{listen: "127.0.0.1:0"}}
log: {{level: warning}}
entities:
  events:
    stream: "{STREAM}"
    payload: fields
    columns:
      n: int64 not null
      pad: string
""")
        self.workers = []
        self.sent = 0
        self.producer = None
        self.s3 = boto3.client("s3", endpoint_url=ENDPOINT, aws_access_key_id=KEY, aws_secret_access_key=SECRET,
                               region_name=REGION)
        try:
            self.s3.create_bucket(Bucket=BUCKET)
        except Exception:
            pass

    def worker(self, name, env=None):
        w = Worker(self.binary, self.config, name, self.dir, env)
        self.workers.append(w)
        return w

    def produce(self, events=None, rate=None, pad=64):
        """Writes events n = sent..sent+events-1 at `rate` per second (0: as fast as possible), in the background."""
        events, rate = events or self.events, self.rate if rate is None else rate
        start = self.sent
        self.sent += events

        def run():
            r = None
            t0 = time.time()
            n = start
            while n < start + events:
                try:
                    if r is None:
                        r = self.redis.client()
                    p = r.pipeline(transaction=False)
                    chunk = min(200, start + events - n)
                    for i in range(n, n + chunk):
                        p.xadd(STREAM, {"n": str(i), "pad": "x" * pad})
                    p.execute()
                    n += chunk
                except Exception:
                    # Redis restarting: the chunk is retried; an XADD that landed before the error is
                    # written twice to the stream, which the count below would show as a duplicate n.
                    r = None
                    time.sleep(0.2)
                    continue
                if rate:
                    ahead = (n - start) / rate - (time.time() - t0)
                    if ahead > 0:
                        time.sleep(ahead)

        self.producer = threading.Thread(target=run, daemon=True)
        self.producer.start()

    def wait_producer(self):
        if self.producer:
            self.producer.join()

    def stream_ns(self):
        """The n of every entry in the stream (what was really sent, duplicates of retried XADDs included)."""
        r, out, last = self.redis.client(), collections.Counter(), "-"
        while True:
            batch = r.xrange(STREAM, min=last, max="+", count=10000)
            if last != "-":
                batch = batch[1:]
            if not batch:
                return out
            for _id, f in batch:
                out[int(f[b"n"])] += 1
            last = batch[-1][0].decode()

    def all_acknowledged(self):
        r = self.redis.client()
        try:
            g = next((g for g in r.xinfo_groups(STREAM) if g["name"] == b"chaos"), None)
        except redis.ResponseError:
            return False
        return g is not None and g["pending"] == 0 and g.get("lag") == 0

    def wait_acknowledged(self, timeout=180):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.all_acknowledged():
                return time.time() - t0
            for w in self.workers:
                w.sample_rss()
            time.sleep(0.25)
        raise RuntimeError(f"{self.name}: not everything acknowledged within {timeout} s")

    def lake_ns(self):
        if self.table_format == "delta":
            return self.delta_ns()
        out = collections.Counter()
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=self.prefix + "/events/")
        for page in pages:
            for o in page.get("Contents", []):
                if o["Key"].endswith(".parquet"):
                    body = self.s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
                    for n in pq.read_table(io.BytesIO(body), columns=["n"]).column("n").to_pylist():
                        out[n] += 1
        return out

    def delta_ns(self):
        """The n of every row of the Delta table, read by delta-rs and by DuckDB's delta_scan (which must agree)."""
        local = os.path.join(self.dir, "table")
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=self.prefix + "/events/")
        for page in pages:
            for o in page.get("Contents", []):
                path = os.path.join(local, o["Key"][len(self.prefix + "/events/"):])
                os.makedirs(os.path.dirname(path), exist_ok=True)
                self.s3.download_file(BUCKET, o["Key"], path)
        script = """
import json, sys, os, glob, duckdb
from deltalake import DeltaTable
ns = DeltaTable(sys.argv[1]).to_pyarrow_table(columns=["n"]).column("n").to_pylist()
ext = glob.glob(os.path.dirname(duckdb.__file__) + "/../duckdb_ext/extensions/*/*/delta.duckdb_extension")[0]
con = duckdb.connect(config={"allow_unsigned_extensions": "true"}); con.execute("SET enable_progress_bar = false"); con.execute(f"LOAD '{ext}'")
d = con.execute(f"select count(*), count(distinct n) from delta_scan('{sys.argv[1]}')").fetchall()[0]
print(json.dumps({"n": ns, "duckdb": [d[0], d[1]]}), flush=True)
os._exit(0)
"""
        r = subprocess.run([os.environ["LAKEWRITER_TEST_DELTA_PYTHON"], "-c", script, local], check=True, capture_output=True, text=True)
        out = json.loads(r.stdout)
        ns = collections.Counter(out["n"])
        self.duckdb_rows = out["duckdb"]
        if out["duckdb"] != [sum(ns.values()), len(ns)]:
            raise RuntimeError(f"DuckDB's delta_scan reads {out['duckdb']}, delta-rs {sum(ns.values())} rows, {len(ns)} distinct")
        return ns

    def report(self, recovery, extra=None):
        for w in self.workers:
            w.sample_rss()
        sent = self.stream_ns()
        found = self.lake_ns()
        lost = sorted(n for n in sent if n not in found)
        # A duplicate is a row beyond the number of times its n is in the stream.
        duplicates = sum(max(0, c - sent.get(n, 0)) for n, c in found.items())
        dlq = self.redis.client().xlen(STREAM + ":dlq")
        r = {"scenario": self.name, "sent": sum(sent.values()), "found": sum(found.values()), "lost": len(lost),
             "duplicates": duplicates, "dead_letters": dlq, "recovery_seconds": round(recovery, 1),
             "peak_rss_mib": round(max([w.peak_rss for w in self.workers] or [0]) / 2**20, 1)}
        if lost:
            r["lost_sample"] = lost[:10]
        r.update(extra or {})
        return r

    def close(self):
        for w in self.workers:
            if w.alive():
                w.kill()
        self.redis.kill()
        self.proxy.sock.close()


# ---- scenarios -----------------------------------------------------------------------------

def sigkill_restarts(run, kills):
    w = run.worker("w1")
    run.produce()
    rng = random.Random(7)
    for _ in range(kills):
        time.sleep(rng.uniform(1.0, 3.0))
        w.kill()
        time.sleep(rng.uniform(0.1, 1.0))
        w.start()
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"kills": kills})


def delta_sigkill(run, kills):
    """Delta mode, exactly once: SIGKILLs at random moments and right after commits (the fault point
    LAKEWRITER_FAULT_KILL_AFTER_COMMIT, a commit made and its entries not yet acknowledged); the
    worker is restarted whenever it dies. Duplicates must be 0, not only losses."""
    w = run.worker("w1", {"LAKEWRITER_FAULT_KILL_AFTER_COMMIT": "0.3"})
    run.produce()
    rng = random.Random(11)
    deaths, t_end = 0, time.time() + 600
    planned = [time.time() + rng.uniform(1.0, 3.0) * (i + 1) for i in range(kills)]
    while time.time() < t_end:
        if planned and time.time() >= planned[0]:
            planned.pop(0)
            if w.alive():
                w.kill()
        if not w.alive():
            deaths += 1
            time.sleep(rng.uniform(0.1, 0.5))
            w.start()
        if not planned and not run.producer.is_alive() and run.all_acknowledged():
            break
        time.sleep(0.1)
    run.wait_producer()
    recovery = run.wait_acknowledged()
    w.log.flush()
    faults = open(os.path.join(run.dir, "w1.log"), "rb").read().count(b"fault injection: SIGKILL after the delta commit")
    r = run.report(recovery, {"kills": kills, "restarts": deaths, "killed_after_commit": faults})
    r["duckdb_rows"] = getattr(run, "duckdb_rows", None)
    return r


def store_outage(run, seconds):
    run.worker("w1")
    run.produce()
    time.sleep(2)
    run.proxy.set("down")
    time.sleep(seconds)
    run.proxy.set("pass")
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"outage_seconds": seconds})


def store_faults(run, seconds):
    run.worker("w1")
    run.produce()
    for mode in ("http503", "reset", "stall"):
        time.sleep(1.5)
        run.proxy.set(mode)
        time.sleep(seconds)
        run.proxy.set("pass")
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"faults": "503, resets, stall", "seconds_each": seconds})


def redis_restart(run, restarts):
    run.worker("w1")
    run.produce()
    for _ in range(restarts):
        time.sleep(2)
        run.redis.kill()
        time.sleep(1)
        run.redis.start()
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"restarts": restarts})


def sigterm_under_load(run):
    w = run.worker("w1")
    run.produce(rate=0)
    time.sleep(2)
    rc, took = w.term()
    run.wait_producer()
    w.start()
    return run.report(run.wait_acknowledged(), {"exit_code": rc, "drain_seconds": round(took, 1)})


def fast_producer(run):
    w = run.worker("w1")
    run.proxy.set("stall")
    run.produce(rate=0, pad=512)
    run.wait_producer()
    time.sleep(5)
    w.sample_rss()
    run.proxy.set("pass")
    return run.report(run.wait_acknowledged(), {"memory_limit": "32MiB"})


def three_workers_one_dies(run):
    ws = [run.worker(f"w{i}") for i in (1, 2, 3)]
    run.produce()
    time.sleep(3)
    ws[0].kill()  # never restarted: its pending entries are claimed after claim_idle
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"workers": 3, "killed": 1})


def slow_flush_two_replicas(run):
    run.worker("w1")
    run.worker("w2")
    run.produce()
    time.sleep(2)
    run.proxy.set("stall")  # uploads hang past claim_idle (2s)
    time.sleep(6)
    run.proxy.set("pass")
    run.wait_producer()
    return run.report(run.wait_acknowledged(), {"workers": 2, "stall_seconds": 6})


def full_disk(run, binary, root):
    """A file:// lake on a filesystem that fills up: writes fail (ENOSPC), nothing is acknowledged, and once
    space is back everything lands. Needs root (a small tmpfs); skipped otherwise."""
    mnt = os.path.join(run.dir, "small")
    os.makedirs(mnt, exist_ok=True)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt]).returncode != 0:
        return {"scenario": run.name, "skipped": "needs root to mount a small tmpfs"}
    try:
        filler = os.path.join(mnt, "filler")
        with open(filler, "wb") as f:
            try:
                f.write(b"\0" * (2 << 20))
            except OSError:
                pass
        text = open(run.config).read().replace(f's3://{BUCKET}/{run.prefix}', f'file://{mnt}/lake')
        open(run.config, "w").write(text)
        run.worker("w1")
        run.produce(events=2000)
        run.wait_producer()
        time.sleep(4)
        pending_while_full = run.redis.client().xpending(STREAM, "chaos")["pending"]
        os.remove(filler)
        recovery = run.wait_acknowledged()
        found = collections.Counter()
        for dirpath, _, files in os.walk(os.path.join(mnt, "lake")):
            for fn in files:
                if fn.endswith(".parquet"):
                    for n in pq.read_table(os.path.join(dirpath, fn), columns=["n"]).column("n").to_pylist():
                        found[n] += 1
        sent = run.stream_ns()
        lost = [n for n in sent if n not in found]
        return {"scenario": run.name, "sent": sum(sent.values()), "found": sum(found.values()), "lost": len(lost),
                "duplicates": sum(max(0, c - sent.get(n, 0)) for n, c in found.items()),
                "dead_letters": run.redis.client().xlen(STREAM + ":dlq"), "recovery_seconds": round(recovery, 1),
                "pending_while_full": pending_while_full}
    finally:
        for w in run.workers:
            if w.alive():
                w.kill()
        subprocess.run(["umount", "-l", mnt])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--short", action="store_true", help="the CI form: fewer events, three scenarios")
    ap.add_argument("--only", help="comma-separated scenario names")
    a = ap.parse_args()
    root = tempfile.mkdtemp(prefix="lakewriter-chaos-")
    events, rate = (6000, 3000) if a.short else (60000, 6000)
    scenarios = {
        "sigkill": lambda: sigkill_restarts(Run("sigkill", a.binary, root, events, rate), 2 if a.short else 5),
        "store_outage": lambda: store_outage(Run("store_outage", a.binary, root, events, rate), 5 if a.short else 30),
        "delta_sigkill": lambda: delta_sigkill(Run("delta_sigkill", a.binary, root, events, rate, table_format="delta",
                                                   max_rows=500),
                                               3 if a.short else 8),
        "store_faults": lambda: store_faults(Run("store_faults", a.binary, root, events, rate), 3),
        "redis_restart": lambda: redis_restart(Run("redis_restart", a.binary, root, events, rate), 1 if a.short else 3),
        "sigterm_under_load": lambda: sigterm_under_load(Run("sigterm_under_load", a.binary, root, events * 2, 0)),
        "fast_producer": lambda: fast_producer(Run("fast_producer", a.binary, root, events * 2, 0, memory="32MiB")),
        "three_workers_one_dies": lambda: three_workers_one_dies(Run("three_workers_one_dies", a.binary, root, events, rate)),
        "slow_flush_two_replicas": lambda: slow_flush_two_replicas(
            Run("slow_flush_two_replicas", a.binary, root, events, rate, claim_idle="2s")),
        "full_disk": lambda: full_disk(Run("full_disk", a.binary, root, 2000, 0), a.binary, root),
    }
    names = a.only.split(",") if a.only else (["sigkill", "store_outage", "redis_restart", "delta_sigkill"] if a.short
                                              else list(scenarios))
    results, failed = [], False
    for name in names:
        log(f"scenario {name}")
        t0 = time.time()
        try:
            r = scenarios[name]()
        except Exception as e:
            r = {"scenario": name, "error": str(e)}
        finally:
            while RUNS:
                try:
                    RUNS.pop().close()
                except Exception:
                    pass
        r["seconds"] = round(time.time() - t0, 1)
        log(json.dumps(r))
        results.append(r)
        if r.get("error") or r.get("lost", 0) != 0 or r.get("exit_code", 0) != 0 or \
                (name.startswith("delta") and r.get("duplicates", 0) != 0):
            failed = True
    print(json.dumps(results, indent=1))
    if not failed:
        shutil.rmtree(root, ignore_errors=True)
    else:
        log(f"logs kept in {root}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
