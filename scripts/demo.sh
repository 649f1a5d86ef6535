#!/usr/bin/env bash
# The main job on an embedded default: starts a local Milvus Lite, seeds a
# sample collection (1,000 rows, 768-dim vectors), dumps it as a JSONL stream
# and as a Parquet backup set under ./demo-backup/, restores the set under a
# new name and checks the copy row by row, then stops the server.
#   scripts/demo.sh [OUT_DIR]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/demo-backup}
cd "$root"

bash scripts/setup-env.sh
cargo build --release --locked -p milvus-dump -p milvus-load
# shellcheck source=lib/servers.sh
source scripts/lib/servers.sh
mp_run_dir >/dev/null
trap 'stop_servers; rm -rf "$MP_RUN_DIR"' EXIT
start_lite25
export MILVUS_URI=$MP_TEST_LITE25_URI
echo "demo: Milvus Lite 2.5.1 at $MILVUS_URI; seeding aero_docs_v1 ..." >&2
"$MP_VENV/main/bin/python" test-harness/py/seed.py bench --uri "$MILVUS_URI" --name aero_docs_v1 --rows 1000

rm -rf "$out"
mkdir -p "$out"
target/release/milvus-dump --list
target/release/milvus-dump -c aero_docs_v1 --zstd >"$out/aero_docs_v1.jsonl.zst"
target/release/milvus-dump -c aero_docs_v1 --format parquet --out-dir "$out/set" --part-rows 400
echo "demo: wrote $out/aero_docs_v1.jsonl.zst and the backup set $out/set:" >&2
ls -l "$out" "$out/set" "$out/set/aero_docs_v1" >&2

echo "demo: restoring the set as aero_docs_v1_restored ..." >&2
target/release/milvus-load -c aero_docs_v1_restored "$out/set"
"$MP_VENV/main/bin/python" test-harness/py/compare.py --uri "$MILVUS_URI" \
    --name aero_docs_v1 --copy aero_docs_v1_restored
echo "demo: the restored copy equals the original, value by value" >&2
