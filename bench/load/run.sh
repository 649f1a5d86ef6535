#!/usr/bin/env bash
# milvus-load benchmark (the dump benchmark's data, 100,000 rows ×
# 768-dim FLOAT_VECTOR + INT64 pk + 200-char VARCHAR, loaded from Parquet).
# In one run on one server it measures:
#   (a) pymilvus: pyarrow reads the Parquet file in 5,000-row batches, each
#       batch one MilvusClient.insert of row dicts (bench/load/pymilvus_insert.py)
#   (b) the wire ceiling: the same 5,000-row insert requests, encoded before
#       the clock starts, sent on 1 and on 4 connections
#       (wire-ceiling insert, 2 requests in flight per connection)
#   (c) milvus-load from the Parquet file into the same kind of empty target:
#       all rows, and the first 10,000 (peak RSS must stay flat as rows grow)
# and prints one JSON line per measurement (rows/s, CPU seconds, peak RSS).
#
#   bench/load/run.sh [--server milvus235|lite25] [--rows N] [--batch-rows N] [--uri URI]
#
# --rows: rows seeded and loaded (default 100,000); the flatness run (c) loads
#   the first 10,000 rows, or a tenth of --rows when --rows is 10,000 or less.
# --batch-rows: rows per insert request in (a) and (b) (default 5,000).
# --uri: use a server already running at URI instead of starting one (--server
#   then only names it in the output). Only one Milvus 2.3.5 standalone can run
#   per machine; this is how to run against one that is already up. The
#   script's collections (bench_load_src, bench_load_target) are dropped at exit.
#
# The source collection is seeded with `seed.py bench` and written to Parquet
# once with milvus-dump; every measurement then loads that file into a fresh,
# empty target with the same schema (bench/load/make_target.py), unindexed and
# unloaded, so the server builds no index and serves no queries while the
# inserts are timed. No load flushes: only inserting is timed, for all three.
# After each measurement, outside its timing, bench/load/check_target.py
# flushes the target, checks that it holds exactly the rows loaded (a load
# that silently inserted nothing cannot report a number) and drops it.
#
# Timing: "seconds"/"rows_per_sec" are the whole process (measure.py);
# (a) and (b) also report "timed_seconds"/"timed_rows_per_sec", their own
# clock: (a) reading, converting and inserting, without Python start-up and
# connecting; (b) sending only (the ceiling). "cpu_seconds" and "peak_rss_mib"
# are the whole process in every case; (b)'s include reading and encoding the
# whole file, which it holds in memory (about 3.3 KB per row).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

server=milvus235 rows=100000 batch_rows=5000 uri=
usage="usage: $0 [--server milvus235|lite25] [--rows N] [--batch-rows N] [--uri URI]"
while [[ $# -gt 0 ]]; do
    case $1 in
        --server) server=$2; shift 2 ;;
        --rows) rows=$2; shift 2 ;;
        --batch-rows) batch_rows=$2; shift 2 ;;
        --uri) uri=$2; shift 2 ;;
        *) echo "$usage" >&2; exit 2 ;;
    esac
done
case $server in
    milvus235 | lite25) ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
esac
small_rows=10000
[[ $rows -le $small_rows ]] && small_rows=$((rows / 10))

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump -p milvus-load -p wire-ceiling
# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
# A run directory of our own, whatever the environment says: it is removed at exit.
unset MP_RUN_DIR
mp_run_dir >/dev/null
py="$MP_VENV/main/bin/python"
measure() { "$py" bench/measure.py "$@"; }
src=bench_load_src target=bench_load_target dim=768

if [[ -n $uri ]]; then
    # Someone else's server: leave it running, take our collections away.
    trap '"$py" bench/load/make_target.py --drop "$uri" "$src" "$target" || true; rm -rf "$MP_RUN_DIR"' EXIT
else
    trap 'stop_servers; rm -rf "$MP_RUN_DIR"' EXIT
    case $server in
        milvus235) start_milvus235; wait_milvus235; uri=$MP_TEST_MILVUS235_URI ;;
        lite25) start_lite25; uri=$MP_TEST_LITE25_URI ;;
    esac
fi
echo "bench: seeding $rows rows × $dim dims on $server ($uri) ..." >&2
"$py" test-harness/py/seed.py bench --uri "$uri" --name "$src" --rows "$rows" --dim "$dim"

# The Parquet files every load reads, written once (milvus-dump's layout:
# id int64, embedding list<float32>, text utf8, its header in the metadata).
parquet=$MP_RUN_DIR/bench.parquet small=$MP_RUN_DIR/bench-small.parquet
target/release/milvus-dump --uri "$uri" -c "$src" --format parquet -q -o "$parquet"
target/release/milvus-dump --uri "$uri" -c "$src" --format parquet -q -o "$small" \
    --filter "id < $small_rows"
parquet_rows() {
    "$py" -c 'import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)' "$1"
}
for f in "$parquet:$rows" "$small:$small_rows"; do
    if [[ $(parquet_rows "${f%:*}") != "${f##*:}" ]]; then
        echo "bench: ${f%:*} does not hold ${f##*:} rows" >&2
        exit 1
    fi
done

# load LABEL ROWS [--timed] -- CMD...: CMD loads ROWS rows into a fresh
# $target; prints measure.py's JSON line, or one with "failed": true (and
# returns 1) when CMD fails or the target does not then hold ROWS rows.
load() {
    local label=$1 n=$2 line
    shift 2
    "$py" bench/load/make_target.py "$uri" "$target" "$dim" || return 1
    if ! line=$(measure "$label" "$n" "$@"); then
        echo "$line"
        "$py" bench/load/make_target.py --drop "$uri" "$target"
        return 1
    fi
    if ! "$py" bench/load/check_target.py "$uri" "$target" "$n"; then
        echo "{\"label\": \"$label\", \"rows\": $n, \"failed\": true, \"reason\": \"the target does not hold the rows loaded\"}"
        return 1
    fi
    echo "$line"
    # Let the server finish the flush (and the drop) before the next one.
    sleep 10
}

# Let the server settle after seeding, and warm it up with one unreported load.
sleep 10
load "warm-up" "$small_rows" -- \
    target/release/wire-ceiling insert "$uri" "$target" "$small" 1 "$batch_rows" 2 >/dev/null
echo "{\"server\": \"$server\", \"rows\": $rows, \"batch_rows\": $batch_rows, \"cores\": $(nproc)}"
load "a pymilvus insert, row dicts, $batch_rows-row batches" "$rows" --timed -- \
    "$py" bench/load/pymilvus_insert.py "$uri" "$target" "$parquet" --batch "$batch_rows"
for conns in 1 4; do
    load "b wire ceiling, insert, $conns connection(s), 2 in flight each" "$rows" --timed -- \
        target/release/wire-ceiling insert "$uri" "$target" "$parquet" "$conns" "$batch_rows" 2
done
# milvus-load's command line: --uri, -c the target collection, --if-exists
# append (insert into the fresh, empty, unindexed target made for it, as the
# other loads do: milvus-load refuses an existing target by default, and one
# it creates itself gets the dump's index too), --no-load (leave it unloaded),
# -q, the Parquet file. Its insert requests are its own: adapted to the
# server (from 1 MiB, up to 8 MiB while rows/s improves), and once pinned at
# 8 MiB (--batch-bytes 8MiB, the former fixed default: about 2,550 of these
# rows) to show what adapting gains or costs. A failure prints a JSON line
# with "failed": true and the run goes on.
# Its own summary follows (insert_seconds: the insert phase alone, without
# the flush that makes the rows durable and countable).
report=$MP_RUN_DIR/load-report.json
load "c milvus-load" "$rows" -- \
    target/release/milvus-load --uri "$uri" -c "$target" --if-exists append --no-load -q \
    --report "$report" "$parquet" || true
[[ -s $report ]] && echo "{\"label\": \"c milvus-load summary\", \"summary\": $(cat "$report")}"
load "c milvus-load --batch-bytes 8MiB (pinned)" "$rows" -- \
    target/release/milvus-load --uri "$uri" -c "$target" --if-exists append --no-load -q \
    --batch-bytes 8MiB "$parquet" || true
load "c milvus-load, first $small_rows rows (RSS flatness)" "$small_rows" -- \
    target/release/milvus-load --uri "$uri" -c "$target" --if-exists append --no-load -q "$small" || true
