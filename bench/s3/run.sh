#!/usr/bin/env bash
# Benchmark: 1 GiB of random data through a local SeaweedFS, s3-put/s3-get
# versus boto3 upload_file/download_file (and the aws CLI when installed), in
# the same run on the same server. Prints a Markdown table with MiB/s and peak
# RSS per operation. The server and its data are removed afterwards.
#
#   bench/s3/run.sh [--size-mib N] [--reps N] [--part-size 16MiB] [--concurrency 4]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

size_mib=1024 reps=3 part_size=16MiB concurrency=4
while [[ $# -gt 0 ]]; do
    case $1 in
        --size-mib) size_mib=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --part-size) part_size=$2; shift 2 ;;
        --concurrency) concurrency=$2; shift 2 ;;
        *) echo "usage: $0 [--size-mib N] [--reps N] [--part-size SIZE] [--concurrency N]" >&2; exit 2 ;;
    esac
done

# shellcheck source=../../scripts/lib/servers.sh
source scripts/lib/servers.sh
# shellcheck source=../../scripts/lib/s3-server.sh
source scripts/lib/s3-server.sh
mp_run_dir >/dev/null
on_exit() {
    local status=$?
    disown -a 2>/dev/null || true
    stop_servers
    if [[ $status -eq 0 ]]; then
        rm -rf "$MP_RUN_DIR"
    else
        rm -f "$MP_RUN_DIR/s3-bench-input.bin" "$MP_RUN_DIR/download.bin"
        echo "bench: failed (exit $status); server log kept in $MP_RUN_DIR" >&2
    fi
}
trap on_exit EXIT

cargo build --release -p s3-tools >&2
start_s3_server
head -c "$((size_mib * 1024 * 1024))" /dev/urandom >"$MP_RUN_DIR/s3-bench-input.bin"

"$MP_VENV/main/bin/python" bench/s3/bench.py \
    --endpoint "$MP_TEST_S3_ENDPOINT" \
    --bin "$root/target/release" \
    --file "$MP_RUN_DIR/s3-bench-input.bin" \
    --workdir "$MP_RUN_DIR" \
    --reps "$reps" --part-size "$part_size" --concurrency "$concurrency" \
    --out "$MP_RUN_DIR/s3-bench.md"
