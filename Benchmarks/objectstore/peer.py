"""Peer of bench-objectstore: the same object uploaded by boto3 with its default
TransferConfig (upload_fileobj: 8 MiB threshold and parts, 10 threads) to the same endpoint.

Environment as main.swift: LAKEWRITER_TEST_S3_*, BENCH_OBJECT_MIB, BENCH_RUNS.
"""
import io
import os
import sys
import time
import uuid

import boto3
import botocore.config


def main() -> None:
    mib = int(os.environ.get("BENCH_OBJECT_MIB", "256"))
    runs = int(os.environ.get("BENCH_RUNS", "3"))
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["LAKEWRITER_TEST_S3_ENDPOINT"],
        aws_access_key_id=os.environ["LAKEWRITER_TEST_S3_ACCESS_KEY"],
        aws_secret_access_key=os.environ["LAKEWRITER_TEST_S3_SECRET_KEY"],
        region_name=os.environ.get("LAKEWRITER_TEST_S3_REGION", "us-east-1"),
        config=botocore.config.Config(s3={"addressing_style": "path"}),
    )
    bucket = "lw-bench-boto3-" + uuid.uuid4().hex[:6]
    s3.create_bucket(Bucket=bucket)
    data = os.urandom(mib << 20)
    rates = []
    for run in range(runs + 1):  # run 0 warms up
        key = f"bench/run={run}/object.bin"
        start = time.perf_counter()
        s3.upload_fileobj(io.BytesIO(data), bucket, key)
        elapsed = time.perf_counter() - start
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ContentLength"] == len(data)
        if run > 0:
            rates.append(mib / elapsed)
        s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    rates.sort()
    median = rates[len(rates) // 2]
    print(f"boto3 {boto3.__version__} upload_fileobj: {mib} MiB, runs {runs}: "
          f"median {median:.1f} MiB/s, best {rates[-1]:.1f} MiB/s")
    print(f"RESULT impl=boto3 mib={mib} runs={runs} median_mib_s={median:.2f} best_mib_s={rates[-1]:.2f}")


if __name__ == "__main__":
    sys.exit(main())
