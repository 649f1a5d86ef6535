#!/usr/bin/env bash
# A dump split over two processes (--shard 0/2 and 1/2 into one set) against
# one process reading two key ranges at once (--jobs 2), on Milvus 2.3.5
# standalone, the bench shape (INT64 pk, 768-dim FLOAT_VECTOR, 200-char
# VARCHAR; 1,000,000 rows by default). Both use two connections in all:
#   (a) milvus-dump --jobs 2                     one process
#   (b) milvus-dump --shard 0/2 & --shard 1/2     two processes, --jobs 1 each
# (b) includes the plan (shard 0's snapshot and key scan). Each run writes a
# Parquet set into a fresh directory (removed after), timed by
# bench/measure.py over the whole command (for (b): a shell starting both
# shards and waiting for both): wall seconds, rows/s, CPU seconds of every
# process, the larger peak RSS. The set's manifest is checked to hold every
# row. Rounds alternate a, b; prints one JSON line per run, then the ratio
# of the medians.
#
#   bench/shard/run.sh [--rows N] [--rounds N] [--uri URI]
#
# --uri: a Milvus 2.3.5 already running ($MILVUS_TOKEN authenticates, as
#   for the tools); without it one is started here and stopped at exit
#   (only one 2.3.5 standalone can run per machine).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

rows=1000000 rounds=2 uri=
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) rows=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --uri) uri=$2; shift 2 ;;
        *) echo "usage: $0 [--rows N] [--rounds N] [--uri URI]" >&2; exit 2 ;;
    esac
done

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
unset MP_RUN_DIR
mp_run_dir >/dev/null
py="$MP_VENV/main/bin/python"
src=bench_shard_src dim=768
work=$(mktemp -d)

if [[ -n $uri ]]; then
    cleanup() {
        "$py" bench/load/make_target.py --drop "$uri" "$src" || true
        rm -rf "$work" "$MP_RUN_DIR"
    }
else
    cleanup() { stop_servers; rm -rf "$work" "$MP_RUN_DIR"; }
    start_milvus235
    wait_milvus235
    uri=$MP_TEST_MILVUS235_URI
fi
trap cleanup EXIT

echo "bench: seeding $rows rows × $dim dims ($uri) ..." >&2
"$py" test-harness/py/seed.py bench --uri "$uri" --name "$src" --rows "$rows" --dim "$dim"
echo "{\"server\": \"milvus235\", \"rows\": $rows, \"dim\": $dim, \"cores\": $(nproc)}"

dump=(target/release/milvus-dump --uri "$uri" -c "$src" --format parquet -q)
# measured LABEL SET -- CMD...: one dump into SET, measured, checked, removed.
measured() {
    local label=$1 set=$2 line
    shift 3
    sleep 5 # let the server settle before the clock starts
    line=$("$py" bench/measure.py "$label" "$rows" -- "$@") || { echo "$line"; return 1; }
    "$py" - "$set/manifest.json" "$rows" <<'CHECK' || return 1
import json, sys
manifest = json.load(open(sys.argv[1]))
rows = manifest["collections"][0]["rows"]
if rows != int(sys.argv[2]):
    sys.exit(f"bench: {sys.argv[1]} holds {rows} rows, not {sys.argv[2]}")
CHECK
    rm -rf "$set"
    echo "$line"
}
one_process=() two_shards=()
for round in $(seq "$rounds"); do
    line=$(measured "a one process, --jobs 2" "$work/a" -- "${dump[@]}" --jobs 2 --out-dir "$work/a")
    echo "$line"
    one_process+=("$line")
    shards="${dump[*]} --jobs 1 --out-dir $work/b"
    line=$(measured "b --shard 0/2 + 1/2, --jobs 1 each" "$work/b" -- \
        bash -c "$shards --shard 0/2 & first=\$!; $shards --shard 1/2; second=\$?; wait \$first && exit \$second")
    echo "$line"
    two_shards+=("$line")
done
"$py" - "${#one_process[@]}" "${one_process[@]}" "${two_shards[@]}" <<'RATIO'
import json, statistics, sys
n = int(sys.argv[1])
runs = [json.loads(line) for line in sys.argv[2:]]
a, b = runs[:n], runs[n:]
median = lambda runs, key: statistics.median(r[key] for r in runs)
print(json.dumps({
    "label": "b against a (medians)",
    "rows_per_sec": round(median(b, "rows_per_sec") / median(a, "rows_per_sec"), 2),
    "cpu_seconds": [median(a, "cpu_seconds"), median(b, "cpu_seconds")],
}))
RATIO
