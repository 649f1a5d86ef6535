#!/usr/bin/env bash
# milvus-dump benchmark (100,000 rows × 768-dim FLOAT_VECTOR + INT64 pk +
# 200-char VARCHAR). In one run on one server it measures:
#   (a) the runbook: pymilvus query_iterator (batch 5,000) → pyarrow Parquet
#   (b) the wire ceiling: page queries on 1, 2 and 4 connections at two page
#       sizes, bytes discarded undecoded; read at Eventually consistency (no
#       wait) and at a snapshot timestamp as the dump reads (one wait for the
#       query nodes to catch up; see bench/wire-ceiling/src/query.rs)
#   (c) milvus-dump --format parquet > /dev/null: default (--jobs 2), --jobs 1, 3, 4
#   (d) milvus-dump peak RSS at 10,000 rows versus all rows (flat memory)
#   (e) --jobs 4 and the 4-connection ceilings again, interleaved run by run,
#       so that the server's drift over the benchmark does not bias the ratio;
#       on Milvus 2.3.5 also the caught-up ceiling (snapshot reads timed after
#       the one consistency wait), the ceiling of the dump's read phase
# and prints one JSON line per measurement (rows/s, CPU seconds, peak RSS),
# then one line of (e)'s ratios: --jobs 4 over each ceiling, per round,
# median and pooled (the dump's read phase over the caught-up ceiling).
#
#   bench/dump/run.sh [--server milvus235|lite25] [--rows N] [--runbook-rows N] [--uri URI] [--repeat N] [--rounds N]
#
# --repeat N (default 3): (b) and (c) report the fastest of N runs, with all
#   runs' seconds ("runs_seconds"); (c) also reports "read_seconds", the read
#   phase alone (the run less describing, the snapshot's consistency wait
#   and the counts), from milvus-dump --report.
#
# --rounds N (default 3): rounds of (e), each one run of every command.
#
# --uri: use a server already running at URI instead of starting one (--server
#   then only names it and picks the ceiling's page sizes). Only one Milvus
#   2.3.5 standalone can run per machine; this is how to bench against one that
#   is already up. The benchmark's collection (bench_dump) is dropped at exit.
#
# --runbook-rows limits (a) to the first N keys (Milvus Lite 2.5 serves the
# runbook's 5,000-row pages at ~58 rows/s: all 100,000 rows would take 30 min).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

server=milvus235 rows=100000 runbook_rows='' uri='' repeat=3 rounds=3
while [[ $# -gt 0 ]]; do
    case $1 in
        --uri) uri=$2; shift 2 ;;
        --server) server=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --runbook-rows) runbook_rows=$2; shift 2 ;;
        --repeat) repeat=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        *) echo "usage: $0 [--server milvus235|lite25] [--rows N] [--runbook-rows N] [--uri URI] [--repeat N] [--rounds N]" >&2; exit 2 ;;
    esac
done
runbook_rows=${runbook_rows:-$rows}

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump -p wire-ceiling
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
mp_run_dir >/dev/null
py="$MP_VENV/main/bin/python"
measure() { "$py" bench/measure.py "$@"; }
name=bench_dump
given_uri=$uri
cleanup() {
    if [[ -n $given_uri ]]; then
        "$py" -c 'import sys; from pymilvus import MilvusClient; MilvusClient(sys.argv[1]).drop_collection(sys.argv[2])' \
            "$given_uri" "$name" >/dev/null 2>&1 || true
    else
        stop_servers
    fi
    rm -rf "$MP_RUN_DIR"
}
trap cleanup EXIT

case $server in
    milvus235) ceiling_pages="1000 16384" ceiling_reads="eventually snapshot" rounds_reads="eventually snapshot caught-up" ;;
    # Milvus Lite has no timestamp oracle: snapshot reads are eventual reads.
    lite25) ceiling_pages="250 1000" ceiling_reads="eventually" rounds_reads="eventually" ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
esac
if [[ -z $uri ]]; then
    case $server in
        milvus235) start_milvus235; wait_milvus235; uri=$MP_TEST_MILVUS235_URI ;;
        lite25) start_lite25; uri=$MP_TEST_LITE25_URI ;;
    esac
fi
echo "bench: seeding $rows rows × 768 dims on $server ($uri) ..." >&2
"$py" test-harness/py/seed.py bench --uri "$uri" --name "$name" --rows "$rows" --dim 768
dump=target/release/milvus-dump

# Let the server settle (flush, index, load) and warm its caches: one
# unreported read before anything is measured.
sleep 10
target/release/wire-ceiling "$uri" "$name" "$rows" 1 1000 >/dev/null
echo "{\"server\": \"$server\", \"rows\": $rows, \"cores\": $(nproc)}"
filter=""
[[ $runbook_rows -lt $rows ]] && filter="id < $runbook_rows"
measure "a runbook pymilvus query_iterator → pyarrow" "$runbook_rows" -- \
    "$py" bench/dump/runbook_dump.py "$uri" "$name" "$MP_RUN_DIR/runbook.parquet" "$filter"
rm -f "$MP_RUN_DIR/runbook.parquet"
for page in $ceiling_pages; do
    for conns in 1 2 4; do
        for reads in $ceiling_reads; do
            measure "b wire ceiling, $conns connection(s), $page-row pages, $reads reads" "$rows" \
                --repeat "$repeat" -- \
                target/release/wire-ceiling "$uri" "$name" "$rows" "$conns" "$page" "$reads"
        done
    done
done
report=$MP_RUN_DIR/report.json
measure "c milvus-dump --format parquet (default: --jobs 2)" "$rows" --repeat "$repeat" --report "$report" -- \
    "$dump" --uri "$uri" -c "$name" --format parquet -q --report "$report"
echo "  page sizes (last run): $(grep -o '"page_rows_[a-z]*":[0-9]*' "$report" | tr '\n' ' ')"
for jobs in 1 3 4; do
    measure "c milvus-dump --format parquet --jobs $jobs" "$rows" --repeat "$repeat" --report "$report" -- \
        "$dump" --uri "$uri" -c "$name" --format parquet -q --jobs "$jobs" --report "$report"
done
measure "c milvus-dump --format jsonl (default)" "$rows" --repeat "$repeat" --report "$report" -- \
    "$dump" --uri "$uri" -c "$name" -q --report "$report"
measure "d milvus-dump --format parquet, first 10,000 rows (RSS flatness)" 10000 --repeat "$repeat" -- \
    "$dump" --uri "$uri" -c "$name" --format parquet -q --filter "id < 10000"
first_page=${ceiling_pages%% *}
rounds_log=$MP_RUN_DIR/rounds.jsonl
for _ in $(seq "$rounds"); do
    for reads in $rounds_reads; do
        # caught-up times itself: its clock starts after the wait.
        timed=()
        [[ $reads == caught-up ]] && timed=(--timed)
        measure "e wire ceiling, 4 connections, $first_page-row pages, $reads reads" "$rows" "${timed[@]}" -- \
            target/release/wire-ceiling "$uri" "$name" "$rows" 4 "$first_page" "$reads"
    done
    measure "e milvus-dump --format parquet --jobs 4" "$rows" --report "$report" -- \
        "$dump" --uri "$uri" -c "$name" --format parquet -q --jobs 4 --report "$report"
done | tee "$rounds_log"
"$py" bench/dump/rounds.py "$rounds_log"
