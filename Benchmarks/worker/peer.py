"""The seed-style Python writer lakewriter is compared with: redis-py XREADGROUP, json.loads per
entry, rows buffered in memory (100k-row buffers), pyarrow Table + pq.write_table (snappy) into
memory, boto3 put_object, then XACK. Run by run.py; prints one JSON line with its figures."""
import io, json, os, resource, sys, time, uuid
from decimal import Decimal
from datetime import datetime
import boto3, redis
import pyarrow as pa, pyarrow.parquet as pq

def main():
    redis_url, stream, group, bucket, total = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    r = redis.Redis.from_url(redis_url)
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], aws_access_key_id=os.environ["S3_KEY"],
                      aws_secret_access_key=os.environ["S3_SECRET"], region_name="us-east-1")
    schema = pa.schema([
        ("order_id", pa.string()), ("customer_id", pa.int64()), ("amount", pa.decimal128(12, 2)),
        ("currency", pa.string()), ("status", pa.string()), ("created_at", pa.timestamp("us", tz="UTC")),
        ("quantity", pa.int32()), ("note", pa.string()), ("paid", pa.bool_()), ("_stream_id", pa.string())])
    try:
        r.xgroup_create(stream, group, id="0")
    except redis.ResponseError:
        pass
    rows, ids, done = [], [], 0
    t0 = time.time()
    def flush():
        nonlocal rows, ids, done
        if not rows: return
        table = pa.Table.from_pylist(rows, schema=schema)
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="snappy")
        s3.put_object(Bucket=bucket, Key=f"py/orders/{uuid.uuid4()}.parquet", Body=buf.getvalue())
        for i in range(0, len(ids), 10000):
            r.xack(stream, group, *ids[i:i + 10000])
        done += len(rows)
        rows, ids = [], []
    while done + len(rows) < total:
        resp = r.xreadgroup(group, "py-1", {stream: ">"}, count=1000, block=1000)
        if not resp: continue
        for _, entries in resp:
            for eid, fields in entries:
                d = json.loads(fields[b"data"])
                rows.append({"order_id": d["order_id"], "customer_id": d["customer_id"], "amount": Decimal(d["amount"]),
                             "currency": d["currency"], "status": d["status"],
                             "created_at": datetime.fromisoformat(d["created_at"].replace("Z", "+00:00")),
                             "quantity": d["quantity"], "note": d.get("note"), "paid": d["paid"], "_stream_id": eid.decode()})
                ids.append(eid)
        if len(rows) >= 100_000: flush()
    flush()
    elapsed = time.time() - t0
    print(json.dumps({"events": done, "seconds": elapsed, "events_per_s": done / elapsed,
                      "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                      "cpu_s": resource.getrusage(resource.RUSAGE_SELF).ru_utime + resource.getrusage(resource.RUSAGE_SELF).ru_stime}))

if __name__ == "__main__":
    main()
