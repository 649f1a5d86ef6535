#!/usr/bin/env bash
# backup-verify benchmark (does the checksum pass run at >= 0.8x sha256sum
# on the same local files; does the decode pass stream with flat memory?).
#
#   bench/verify/run.sh [--uri URI] [--rows N] [--dim D] [--part-bytes SIZE]
#
# Seeds the dump benchmark's shape (INT64 pk + D-dim FLOAT_VECTOR + 200-char
# VARCHAR, default 100,000 rows x 768) with `seed.py bench`, writes it once as
# a JSONL backup set and once as a Parquet set with milvus-dump, plus a
# tenth-size JSONL set, then measures on those local files (page cache warm:
# every file is read once before the clock starts, and each checksum
# measurement runs 3 times, the best kept):
#   sha256sum      sha256sum over the JSONL set's part files (the yardstick)
#   checksums      backup-verify --checksums-only on the JSONL set
#   decode-jsonl   backup-verify on the JSONL set (every row decoded and checked)
#   decode-parquet backup-verify on the Parquet set
#   decode-small   backup-verify on the tenth-size set (peak RSS must not grow
#                  with rows: compare with decode-jsonl)
# One JSON line each (bench/measure.py: wall and CPU seconds, peak RSS), then
# a summary line with the checksum pass's speed relative to sha256sum.
#
# --uri: a running Milvus to seed and dump from (default: start a Milvus Lite 3
#   on a free port for the run). The collection bench_verify_src is dropped at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

uri='' rows=100000 dim=768 part_bytes=128MiB
usage="usage: $0 [--uri URI] [--rows N] [--dim D] [--part-bytes SIZE]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --uri) uri=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --dim) dim=$2; shift 2 ;;
        --part-bytes) part_bytes=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done

bash scripts/setup-env.sh >&2
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
python="$MP_VENV/main/bin/python"
cargo build --release -p milvus-dump -p backup-verify >&2
bin="$root/target/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-verify.XXXXXX")
collection=bench_verify_src
cleanup() {
    if [[ -n $uri ]]; then
        "$python" - "$uri" "$collection" <<'PY' >/dev/null 2>&1 || true
import sys
from pymilvus import MilvusClient
c = MilvusClient(sys.argv[1])
if c.has_collection(sys.argv[2]):
    c.drop_collection(sys.argv[2])
PY
    fi
    [[ -n ${started:-} ]] && stop_servers
    rm -rf "$work"
}
trap cleanup EXIT
if [[ -z $uri ]]; then
    MP_RUN_DIR="$work/servers"
    export MP_RUN_DIR
    start_lite3 >&2
    started=1
    uri=$MP_TEST_LITE3_URI
fi

echo "bench/verify: seeding $rows rows x $dim dims at $uri" >&2
"$python" test-harness/py/seed.py bench --uri "$uri" --name "$collection" --rows "$rows" --dim "$dim"
small=$((rows / 10))
"$bin/milvus-dump" --uri "$uri" -q -c "$collection" --out-dir "$work/jsonl" --part-bytes "$part_bytes"
"$bin/milvus-dump" --uri "$uri" -q -c "$collection" --out-dir "$work/parquet" --part-bytes "$part_bytes" --format parquet
"$bin/milvus-dump" --uri "$uri" -q -c "$collection" --out-dir "$work/small" --part-bytes "$part_bytes" \
    --filter "id < $small"

parts=("$work"/jsonl/"$collection"/part-*)
bytes=$(cat "${parts[@]}" | wc -c)
echo "bench/verify: JSONL set: ${#parts[@]} parts, $bytes bytes" >&2
measure() { "$python" bench/measure.py "$@"; }
best_of_3() {
    local label=$1 best='' line secs
    shift
    for _ in 1 2 3; do
        line=$(measure "$label" "$rows" -- "$@")
        secs=$("$python" -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$line")
        if [[ -z $best ]] || "$python" -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$secs" "$best"; then
            best=$secs best_line=$line
        fi
    done
    echo "$best_line"
}
cat "${parts[@]}" >/dev/null # warm the page cache for both contenders
sha_line=$(best_of_3 sha256sum sha256sum "${parts[@]}")
echo "$sha_line"
bv_line=$(best_of_3 checksums "$bin/backup-verify" -q --checksums-only "$work/jsonl")
echo "$bv_line"
measure decode-jsonl "$rows" -- "$bin/backup-verify" -q "$work/jsonl"
measure decode-parquet "$rows" -- "$bin/backup-verify" -q "$work/parquet"
measure decode-small "$small" -- "$bin/backup-verify" -q "$work/small"
"$python" - "$sha_line" "$bv_line" "$bytes" <<'PY'
import json, sys
sha, bv, size = json.loads(sys.argv[1]), json.loads(sys.argv[2]), int(sys.argv[3])
print(json.dumps({
    "summary": "checksum pass vs sha256sum (same files, warm cache)",
    "bytes": size,
    "sha256sum_mib_per_sec": round(size / sha["seconds"] / 2**20, 1),
    "backup_verify_mib_per_sec": round(size / bv["seconds"] / 2**20, 1),
    "relative_speed": round(sha["seconds"] / bv["seconds"], 2),
}))
PY
