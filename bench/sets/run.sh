#!/usr/bin/env bash
# Backup sets in object storage against sets on local disk, and the formats
# a backup can take. The dump benchmark's data (100,000 rows × 768-dim
# FLOAT_VECTOR + INT64 pk + 200-char VARCHAR) on Milvus 2.3.5, SeaweedFS's S3
# gateway on the same machine. In one run it measures:
#
#   (a) rounds (--rounds, default 3), interleaved so the machine's drift hits
#       every kind alike:
#       milvus-dump --format parquet > /dev/null       (the stream, no set)
#       milvus-dump --format parquet --out-dir DIR      (a set on local disk)
#       milvus-dump --format parquet --out-dir s3://... (a set in the store)
#       s3-put of the local set's parts into the store, one after another, with
#         the dump's upload settings (8 MiB parts, 4 in flight): the store's
#         intake alone, the ceiling of any dump into it on this machine
#       milvus-load DIR into a fresh target             (a set on local disk)
#       milvus-load s3://... into a fresh target        (the same set in the store)
#   (b) once per backup format (Parquet; Parquet with zstd inside; JSONL with
#       a zstd frame, backup.sh's old default), written to s3://: the dump,
#       backup-verify of the set, milvus-load of the set; bytes stored.
#
# Each line is measure.py's JSON: rows/s, client CPU seconds, peak RSS and
# the bytes the tool wrote to local disk (disk_written_mib); plus the CPU the
# S3 server spent meanwhile (s3_server_cpu_seconds: it shares the machine's 2
# cores with Milvus and the client), the whole machine's busy CPU meanwhile
# (machine_cpu_seconds: against 2 × seconds, how saturated the cores were),
# and the set's stored bytes where one is written.
#
#   bench/sets/run.sh [--rows N] [--rounds N] [--no-formats] [--uri URI]
#
# --no-formats: only (a) (at 1,000,000 rows, (b)'s JSONL alone takes minutes;
#   that run needs about 20 GB of free disk for Milvus's and SeaweedFS's data).
# --uri: a Milvus 2.3.5 already running (only one can run per machine); its
#   bench collections are dropped at exit. SeaweedFS is always started here.
# Loads restore as restore.sh does: milvus-load creates the target from the
# set's header (each part proven as it is read; `--no-load`), checked
# afterwards to hold exactly the rows (bench/load/check_target.py). Besides
# the whole command's rows/s, "insert_rows_per_sec" is the reading and
# inserting alone (milvus-load's report: without the flush and the index
# build after, which do not depend on where the set is).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

rows=100000 rounds=3 formats=1 uri=
usage="usage: $0 [--rows N] [--rounds N] [--no-formats] [--uri URI]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) rows=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --no-formats) formats=0; shift ;;
        --uri) uri=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump -p milvus-load -p backup-verify -p s3-tools
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
# shellcheck source=../../scripts/lib/s3-server.sh
source scripts/lib/s3-server.sh
unset MP_RUN_DIR
mp_run_dir >/dev/null
py="$MP_VENV/main/bin/python"
bin=target/release
src=bench_sets_src target=bench_sets_target dim=768
own_server=0
cleanup() {
    [[ -z $uri ]] || "$py" bench/load/make_target.py --drop "$uri" "$src" "$target" || true
    stop_servers
    rm -rf "$MP_RUN_DIR"
}
trap cleanup EXIT
if [[ -z $uri ]]; then
    start_milvus235
    own_server=1
fi
start_s3_server
export AWS_ENDPOINT_URL=$MP_TEST_S3_ENDPOINT
if [[ $own_server == 1 ]]; then
    wait_milvus235
    uri=$MP_TEST_MILVUS235_URI
fi
bucket="bench-sets-$$"
"$py" -c 'import sys, boto3; boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])' \
    "$MP_TEST_S3_ENDPOINT" "$bucket"
echo "bench: seeding $rows rows × $dim dims ($uri) ..." >&2
"$py" test-harness/py/seed.py bench --uri "$uri" --name "$src" --rows "$rows" --dim "$dim"
sleep 10

# The S3 server's CPU seconds so far (user + system, from /proc).
s3_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$(cat "$MP_RUN_DIR/s3.pid")/stat"
}
# The whole machine's busy CPU seconds so far (every core, every process:
# user, nice, system, irq, softirq, steal), from /proc/stat.
machine_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" { print ($2 + $3 + $4 + $7 + $8 + $9) / hz; exit }' /proc/stat
}
# measure LABEL ROWS -- CMD...: measure.py's line, with the S3 server's CPU
# and the whole machine's meanwhile (Milvus, the client, the S3 server).
measure() {
    local before machine_before line
    before=$(s3_cpu)
    machine_before=$(machine_cpu)
    line=$("$py" bench/measure.py "$@") || true
    "$py" -c 'import json, sys; d = json.loads(sys.argv[1]); d["s3_server_cpu_seconds"] = round(float(sys.argv[3]) - float(sys.argv[2]), 2); d["machine_cpu_seconds"] = round(float(sys.argv[5]) - float(sys.argv[4]), 2); print(json.dumps(d))' \
        "$line" "$before" "$(s3_cpu)" "$machine_before" "$(machine_cpu)"
}
# The stored bytes of a set (its manifest's collections).
set_bytes() {
    "$bin/backup-verify" --json --checksums-only "$1" | "$py" -c 'import json, sys; print(json.load(sys.stdin)["bytes"])'
}
# with_bytes LINE SET: LINE with the set's stored bytes added.
with_bytes() {
    "$py" -c 'import json, sys; d = json.loads(sys.argv[1]); d["set_bytes"] = int(sys.argv[2]); print(json.dumps(d))' "$1" "$(set_bytes "$2")"
}
dump() { "$bin/milvus-dump" --uri "$uri" -q -c "$src" "$@"; }
# load LABEL SET: milvus-load SET into a fresh target, checked to hold every row.
load() {
    local label=$1 set=$2 line
    "$py" bench/load/make_target.py --drop "$uri" "$target"
    line=$(measure "$label" "$rows" --report "$MP_RUN_DIR/load-report.json" -- \
        "$bin/milvus-load" --uri "$uri" -q -c "$target" --no-load \
        --report "$MP_RUN_DIR/load-report.json" "$set") || true
    if ! "$py" bench/load/check_target.py "$uri" "$target" "$rows"; then
        line="{\"label\": \"$label\", \"failed\": true, \"reason\": \"the target does not hold the rows loaded\"}"
    fi
    echo "$line"
    sleep 5
}

echo "{\"bench\": \"sets\", \"server\": \"milvus235\", \"rows\": $rows, \"rounds\": $rounds, \"cores\": $(nproc)}"
for ((round = 1; round <= rounds; round++)); do
    dir=$MP_RUN_DIR/set-$round s3="s3://$bucket/round-$round/"
    measure "a$round dump parquet > /dev/null" "$rows" -- "$bin/milvus-dump" --uri "$uri" -q -c "$src" --format parquet
    line=$(measure "a$round dump parquet --out-dir DIR" "$rows" -- "$bin/milvus-dump" --uri "$uri" -q -c "$src" \
        --format parquet --out-dir "$dir")
    with_bytes "$line" "$dir"
    line=$(measure "a$round dump parquet --out-dir s3://" "$rows" -- "$bin/milvus-dump" --uri "$uri" -q -c "$src" \
        --format parquet --out-dir "$s3")
    with_bytes "$line" "$s3"
    # shellcheck disable=SC2016 # expanded by the inner shell
    measure "a$round s3-put of the DIR set's parts (the store's intake alone)" "$rows" -- bash -c '
        for part in "$1"/*/part-*; do
            "$2/s3-put" -q --no-sidecar --part-size 8MiB --concurrency 4 "$3${part#"$1"/}" <"$part" >/dev/null || exit
        done' _ "$dir" "$bin" "s3://$bucket/intake-$round/"
    load "a$round load from DIR" "$dir"
    load "a$round load from s3://" "$s3"
    rm -rf "$dir"
done

[[ $formats == 1 ]] || exit 0
for format in "parquet" "parquet --zstd" "jsonl --zstd"; do
    # shellcheck disable=SC2086 # the format's flags, split on purpose
    set -- $format
    s3="s3://$bucket/format-${format// /}/"
    line=$(measure "b dump $format --out-dir s3://" "$rows" -- "$bin/milvus-dump" --uri "$uri" -q -c "$src" \
        --format "$@" --out-dir "$s3")
    with_bytes "$line" "$s3"
    measure "b backup-verify $format set" "$rows" -- "$bin/backup-verify" -q "$s3"
    load "b load $format set from s3://" "$s3"
done
