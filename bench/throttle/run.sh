#!/usr/bin/env bash
# Rate-limit benchmark: a dump and a load held at --max-rows-per-second RATE
# must run within -10%/+5% of it.
#
#   bench/throttle/run.sh [--uri URI] [--rows N] [--dim D] [--rate R]
#
# Seeds the bench shape (INT64 pk + D-dim FLOAT_VECTOR + VARCHAR, default
# 30,000 rows x 768) with `seed.py bench`, then with RATE (default 3,000):
#   dump   milvus-dump --jobs 2 --max-rows-per-second RATE into a Parquet file
#   load   milvus-load --concurrency 2 --max-rows-per-second RATE of that file
# Each prints one JSON line: the rows/s the tool's own summary reports
# (dump: rows over its whole run; load: rows over its insert phase), the
# limit, the deviation from it in percent, and whether it is inside
# -10%/+5%. Exit 1 when one is not.
#
# --uri: a running Milvus (default: start a Milvus Lite 3 on a free port for
#   the run). The collections bench_throttle_src and _copy are dropped at exit.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

uri='' rows=30000 dim=768 rate=3000
usage="usage: $0 [--uri URI] [--rows N] [--dim D] [--rate R]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --uri) uri=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --dim) dim=$2; shift 2 ;;
        --rate) rate=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done

bash scripts/setup-env.sh >&2
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
python="$MP_VENV/main/bin/python"
cargo build --release -p milvus-dump -p milvus-load >&2
bin="$root/target/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-throttle.XXXXXX")
source_name=bench_throttle_src
copy=bench_throttle_copy
cleanup() {
    if [[ -n $uri ]]; then
        "$bin/milvus-load" --uri "$uri" -q --drop -c "$source_name" >/dev/null 2>&1 || true
        "$bin/milvus-load" --uri "$uri" -q --drop -c "$copy" >/dev/null 2>&1 || true
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

echo "bench/throttle: seeding $rows rows x $dim dims at $uri" >&2
"$python" test-harness/py/seed.py bench --uri "$uri" --name "$source_name" --rows "$rows" --dim "$dim"

"$bin/milvus-dump" --uri "$uri" -q -c "$source_name" --jobs 2 --format parquet \
    --max-rows-per-second "$rate" -o "$work/s.parquet" --report "$work/dump.json"
"$bin/milvus-load" --uri "$uri" -q -c "$copy" --concurrency 2 --no-load \
    --max-rows-per-second "$rate" "$work/s.parquet" --report "$work/load.json"

"$python" - "$rate" "$work/dump.json" "$work/load.json" <<'PY'
import json, sys
rate = float(sys.argv[1])
ok = True
for step, path, key in (("dump", sys.argv[2], "rows_per_sec"), ("load", sys.argv[3], "insert_rows_per_sec")):
    summary = json.load(open(path))
    held = summary[key] if key in summary else summary["rows"] / summary["phases"]["rows"]
    deviation = (held / rate - 1) * 100
    inside = -10 <= deviation <= 5
    ok &= inside
    print(json.dumps({"step": step, "rows": summary["rows"], "limit": rate,
                      "rows_per_sec": round(held, 1), "deviation_pct": round(deviation, 2),
                      "within_-10_+5": inside}))
sys.exit(0 if ok else 1)
PY
