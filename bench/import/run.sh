#!/usr/bin/env bash
# Restore through inserts against restore through Milvus's Import, on
# Milvus 2.3.5 standalone with local storage (the bench shape: INT64 pk,
# 768-dim FLOAT_VECTOR with a FLAT index, 200-char VARCHAR; 1,000,000 rows
# by default). One Parquet set is dumped once under the server's storage
# directory (where its Import reads files, by absolute path); then, in one
# run on one server:
#   (a) milvus-load SET:          reads the parts and inserts the rows
#   (b) milvus-load --import SET: the server's data node reads the parts
#   (c) the same from a set of large parts (--part-bytes, 1 GiB by default,
#       --big-part-bytes SIZE): one Import task per part, and each task
#       carries a fixed cost on the server
# each the whole restore of a new collection (create, rows in, persisted,
# index built, loaded), timed by bench/measure.py: wall seconds, rows/s,
# the client's CPU seconds and peak RSS, and the bytes the client read
# (read_mib: files and sockets; the set's size is printed first). After
# each, outside its timing, the copy's row count is checked and it is
# dropped. Prints one JSON line per measurement, then the ratios.
#
#   bench/import/run.sh [--rows N] [--big-part-bytes SIZE] [--uri URI --storage DIR]
#
# --uri/--storage: a Milvus 2.3.5 already running at URI, whose local
#   storage directory (localStorage.path) is DIR (only one 2.3.5 standalone
#   can run per machine; $MILVUS_TOKEN authenticates, as for the tools).
#   Without them a server is started here and stopped at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

rows=1000000 uri= storage= big_part_bytes=1GiB
usage="usage: $0 [--rows N] [--big-part-bytes SIZE] [--uri URI --storage DIR]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --rows) rows=$2; shift 2 ;;
        --uri) uri=$2; shift 2 ;;
        --storage) storage=$2; shift 2 ;;
        --big-part-bytes) big_part_bytes=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
if [[ -n $uri && -z $storage ]]; then
    echo "$usage: --uri needs --storage (where the server's Import reads files)" >&2
    exit 2
fi

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump -p milvus-load
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
unset MP_RUN_DIR
mp_run_dir >/dev/null
py="$MP_VENV/main/bin/python"
src=bench_import_src copy=bench_import_copy dim=768

if [[ -n $uri ]]; then
    cleanup() {
        "$py" bench/load/make_target.py --drop "$uri" "$src" "$copy" || true
        rm -rf "$set" "$big_parts" "$MP_RUN_DIR"
    }
else
    cleanup() { stop_servers; rm -rf "$MP_RUN_DIR"; }
    start_milvus235
    wait_milvus235
    uri=$MP_TEST_MILVUS235_URI storage=$MP_TEST_MILVUS235_STORAGE
fi
set=$storage/bench-import-set-$$ big_parts=$storage/bench-import-set-1g-$$
trap cleanup EXIT

echo "bench: seeding $rows rows × $dim dims ($uri) ..." >&2
"$py" test-harness/py/seed.py bench --uri "$uri" --name "$src" --rows "$rows" --dim "$dim"
target/release/milvus-dump --uri "$uri" -c "$src" --format parquet -q --out-dir "$set"
target/release/milvus-dump --uri "$uri" -c "$src" --format parquet -q --out-dir "$big_parts" --part-bytes "$big_part_bytes"
set_bytes=$(du -sb "$set" | cut -f1)
parts() { find "$1" -name 'part-*.parquet' | wc -l; }
echo "{\"server\": \"milvus235\", \"rows\": $rows, \"dim\": $dim, \"set_mib\": $((set_bytes >> 20)), \"parts\": [$(parts "$set"), $(parts "$big_parts")], \"cores\": $(nproc)}"

# restore LABEL -- CMD...: one whole restore into $copy, measured (with the
# phases of milvus-load's --report $report), then checked and dropped.
report=$MP_RUN_DIR/restore-report.json
restore() {
    local label=$1 line
    shift 2
    sleep 10 # let the server settle (flushes, drops) before the clock starts
    rm -f "$report"
    line=$("$py" bench/measure.py "$label" "$rows" --report "$report" -- "$@") || { echo "$line"; return 1; }
    "$py" bench/load/check_target.py "$uri" "$copy" "$rows" || {
        echo "{\"label\": \"$label\", \"failed\": true, \"reason\": \"$copy does not hold $rows rows\"}"
        return 1
    }
    echo "$line"
}
inserted=$(restore "a milvus-load (insert)" -- \
    target/release/milvus-load --uri "$uri" -c "$copy" -q --report "$report" "$set")
echo "$inserted"
imported=$(restore "b milvus-load --import" -- \
    target/release/milvus-load --uri "$uri" -c "$copy" -q --report "$report" --import "$set")
echo "$imported"
imported_big=$(restore "c milvus-load --import, $big_part_bytes parts" -- \
    target/release/milvus-load --uri "$uri" -c "$copy" -q --report "$report" --import "$big_parts")
echo "$imported_big"
"$py" - "$inserted" "$imported" "$imported_big" <<'RATIOS'
import json, sys
a, *imports = (json.loads(line) for line in sys.argv[1:])
for label, b in zip("bc", imports):
    print(json.dumps({
        "label": f"{label} against a",
        "rows_per_sec": round(b["rows_per_sec"] / a["rows_per_sec"], 2),
        "client_cpu": round(b["cpu_seconds"] / a["cpu_seconds"], 3),
        "client_read_mib": [a["read_mib"], b["read_mib"]],
    }))
RATIOS
