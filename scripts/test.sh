#!/usr/bin/env bash
# The whole test suite: installs what it needs (scripts/setup-env.sh), starts
# the real servers once on free loopback ports, runs every test, stops them.
# Server logs are kept in $MP_RUN_DIR (printed on failure).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup-env.sh
# shellcheck source=lib/servers.sh
source scripts/lib/servers.sh
# shellcheck source=lib/s3-server.sh
source scripts/lib/s3-server.sh

mp_run_dir >/dev/null
on_exit() {
    local status=$?
    stop_servers
    if [[ $status -ne 0 ]]; then
        echo "test.sh: failed (exit $status); server logs kept in $MP_RUN_DIR" >&2
    else
        rm -rf "$MP_RUN_DIR"
    fi
}
trap on_exit EXIT

echo "test.sh: starting servers in $MP_RUN_DIR" >&2
# Slow to start: let it come up while the rest runs. Its proxy takes requests
# of 16 MiB at most (64 MiB by default), so that refusal is met with test data.
start_milvus235 --auth --max-request 16777216
start_lite25
start_lite3
start_s3_server

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo build --workspace --all-targets --locked
wait_milvus235

export MP_TEST_PYTHON="$MP_VENV/main/bin/python"
# Milvus 2.3.5 runs with authorization on: every tool and helper connects as
# root (the Lite servers have no authorization and ignore the token).
export MILVUS_TOKEN=$MP_TEST_MILVUS235_TOKEN
cargo test --workspace --locked
"$MP_TEST_PYTHON" tests/e2e/k8s_manifests.py
bash tests/e2e/scripted-week.sh
bash tests/e2e/docs.sh
bash tests/e2e/image.sh
# A short pass of every fuzz target, built unoptimized (a third of the
# build time; scripts/fuzz.sh runs longer, optimized ones).
FUZZ_BUILD=dev bash scripts/fuzz.sh "${FUZZ_SECONDS:-15}"
