#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, through cargo fuzz) of every reader the
# tools point at bytes they did not write: the JSONL stream reader (also in a
# zstd frame), the Parquet reader, the bulk-import JSON reader, the manifest
# and header parsers. Each target starts from real outputs (fuzz/seeds/, made
# by fuzz/make-seeds.sh) and runs for SECONDS. A panic, an allocation over
# 1 GiB, a 10 s hang, or an error that does not name its input is a finding:
# the input is kept under fuzz/artifacts/TARGET/ and the script exits 1.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     (default: 60 s, every target)
#
# Prints one line per target: executions, coverage, corpus size, findings.
# The corpus grows across runs in fuzz/corpus/TARGET (not committed).
# FUZZ_BUILD=dev builds the targets unoptimized: about a third of the
# optimized build's 30 minutes on 2 cores, at a tenth of the executions per
# second. scripts/test.sh runs a short pass that way (FUZZ_SECONDS, default
# 15 s per target: every seed, then hundreds to thousands of inputs derived
# from them).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/fuzz"

seconds=${1:-60}
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(jsonl parquet rows_document manifest header)
[[ $seconds =~ ^[0-9]+$ ]] || {
    echo "fuzz.sh: SECONDS must be a whole number, not '$seconds'" >&2
    exit 2
}

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: installing cargo-fuzz (crates.io)" >&2
    cargo install --locked cargo-fuzz >&2
fi
# cargo fuzz passes unstable rustc flags (sanitizer coverage, AddressSanitizer):
# the one stable toolchain accepts them this way.
export RUSTC_BOOTSTRAP=1
case ${FUZZ_BUILD:-optimized} in
    optimized) build=(-O) ;;
    dev) build=(--dev) ;;
    *)
        echo "fuzz.sh: FUZZ_BUILD is optimized or dev, not '$FUZZ_BUILD'" >&2
        exit 2
        ;;
esac
cargo fuzz build "${build[@]}" >&2

status=0
for target in "${targets[@]}"; do
    corpus=corpus/$target
    mkdir -p "$corpus" "artifacts/$target"
    log=$(mktemp)
    if cargo fuzz run "${build[@]}" "$target" "$corpus" "seeds/$target" -- \
        -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=1024 \
        -malloc_limit_mb=1024 -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        found=0
    else
        found=1
        status=1
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    size=$(find "$corpus" -type f | wc -l)
    echo "fuzz: $target: ${runs:-0} executions in ${seconds}s, coverage ${cov:-0} edges, corpus $size inputs, findings $found"
    if [[ $found -ne 0 ]]; then
        grep -E 'panicked at|ERROR|SUMMARY|Test unit written' "$log" | head -n 8 >&2
        echo "fuzz: $target: full log kept in $log" >&2
    else
        rm -f "$log"
    fi
done
exit "$status"
