#!/usr/bin/env bash
# Remakes fuzz/seeds/ from real outputs: a collection of every field type
# (test-harness/py/seed.py types, 6 rows) on a running Milvus at URI, dumped by
# milvus-dump as JSONL (plain, zstd), Parquet (plain, zstd inside), a header
# (--schema-only) and a 2-part set (its manifest and a part), plus what
# pymilvus's LocalBulkWriter writes for it (JSON and Parquet).
#
#   fuzz/make-seeds.sh URI       (e.g. a Milvus Lite 3 server; needs a debug build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
uri=${1:?usage: fuzz/make-seeds.sh MILVUS_URI}
bin=$root/target/debug
py=$root/.venv/main/bin/python
seeds=$root/fuzz/seeds
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
name=fuzz_seeds_$$

"$py" "$root/test-harness/py/seed.py" types --uri "$uri" --name "$name" --server lite3 --rows 6 --dim 4
dump() { "$bin/milvus-dump" --uri "$uri" -q -c "$name" "$@"; }
dump -o "$work/types.jsonl"
dump --zstd -o "$work/types.jsonl.zst"
dump --format parquet -o "$work/types.parquet"
dump --format parquet --zstd -o "$work/types-zstd.parquet"
dump --schema-only >"$work/types-header.json"
dump --part-rows 3 --out-dir "$work/set"
for format in json parquet; do
    "$py" "$root/test-harness/py/seed.py" bulk-files --uri "$uri" --name "$name" --server lite3 \
        --rows 4 --dim 4 --format "$format" --bulk-compatible --out "$work/bulk-$format" >/dev/null 2>&1
done
"$bin/milvus-load" --uri "$uri" -q --drop -c "$name"

rm -rf "$seeds"
mkdir -p "$seeds"/{jsonl,parquet,rows_document,manifest,header}
cp "$work/types.jsonl" "$work/types.jsonl.zst" "$seeds/jsonl/"
cp "$work/set/$name/part-00000.jsonl" "$seeds/jsonl/set-part.jsonl"
cp "$work/types.parquet" "$work/types-zstd.parquet" "$seeds/parquet/"
cp "$work"/bulk-parquet/*/1.parquet "$seeds/parquet/bulk-writer.parquet"
cp "$work"/bulk-json/*/1.json "$seeds/rows_document/bulk-writer.json"
cp "$work/set/manifest.json" "$seeds/manifest/"
cp "$work/types-header.json" "$seeds/header/"
echo "make-seeds: $(find "$seeds" -type f | wc -l) seeds in $seeds" >&2
