# shellcheck shell=bash
# Starting and stopping the real servers the tests and benchmarks use, on free
# loopback ports. Sourced by scripts/test.sh, bench/ and scripts/demo.sh.
#
# Every server runs in its own process group (setsid) with its log under
# $MP_RUN_DIR, and is stopped by group: the Milvus wrappers leave children
# behind when only the wrapper is signalled.

MP_ROOT=${MP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MP_VENV=${MP_VENV:-$MP_ROOT/.venv}

mp_run_dir() {
    if [[ -z "${MP_RUN_DIR:-}" ]]; then
        MP_RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/milvus-pipes-run.XXXXXX")
        export MP_RUN_DIR
    fi
    echo "$MP_RUN_DIR"
}

free_port() {
    "$MP_VENV/main/bin/python" - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
PY
}

# wait_port NAME PORT SECONDS: wait until something accepts on 127.0.0.1:PORT.
wait_port() {
    local name=$1 port=$2 limit=$3 pidfile
    pidfile="$(mp_run_dir)/$name.pid"
    for ((i = 0; i < limit * 5; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "servers: $name exited during start-up; its log:" >&2
            tail -n 40 "$(mp_run_dir)/$name.log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "servers: $name did not listen on port $port within ${limit}s; its log:" >&2
    tail -n 40 "$(mp_run_dir)/$name.log" >&2
    return 1
}

# spawn NAME CMD...: run CMD in its own session, logging to $MP_RUN_DIR/NAME.log.
spawn() {
    local name=$1 dir
    shift
    mp_run_dir >/dev/null # not in $(...): that would set MP_RUN_DIR in a subshell only
    dir=$MP_RUN_DIR
    setsid "$@" >"$dir/$name.log" 2>&1 </dev/null &
    echo $! >"$dir/$name.pid"
    # Not a job of this shell: no "Killed" notice when stop_servers ends it.
    disown $!
}

# Milvus Lite 2.5.1: its bundled C++ server binary.
start_lite25() {
    local port lib data
    mp_run_dir >/dev/null
    port=$(free_port)
    lib=$(echo "$MP_VENV"/lite25/lib/python3*/site-packages/milvus_lite/lib)
    data="$(mp_run_dir)/lite25-data"
    mkdir -p "$data"
    LD_LIBRARY_PATH="$lib" spawn lite25 "$lib/milvus" "$data/milvus.db" "127.0.0.1:$port" ERROR
    wait_port lite25 "$port" 60
    export MP_TEST_LITE25_URI="http://127.0.0.1:$port"
}

# Milvus Lite 3.x: a Python server around the engine.
start_lite3() {
    local port data
    mp_run_dir >/dev/null
    port=$(free_port)
    data="$(mp_run_dir)/lite3-data"
    mkdir -p "$data"
    spawn lite3 "$MP_VENV/main/bin/python" -m milvus_lite server --data-dir "$data" --host 127.0.0.1 --port "$port"
    wait_port lite3 "$port" 120
    export MP_TEST_LITE3_URI="http://127.0.0.1:$port"
}

# Milvus 2.3.5 standalone: a full server (about 45 s to start). Every port it
# lets us set is set to a free one; its embedded etcd's peer port (2380) is
# fixed, so one instance per machine.
# start_milvus235 [--auth] [--max-request BYTES]: --auth turns authorization
# on; the root user's token (root:Milvus, the server's default) is then in
# MP_TEST_MILVUS235_TOKEN; its storage directory (which its Import reads) is
# MP_TEST_MILVUS235_STORAGE. --max-request lowers the largest request its proxy
# accepts (64 MiB by default), so a test can meet that refusal with little data.
start_milvus235() {
    local data args=() opt
    mp_run_dir >/dev/null
    while [[ $# -gt 0 ]]; do
        case $1 in
        --auth)
            args+=(--authorization-enabled true)
            export MP_TEST_MILVUS235_TOKEN=root:Milvus
            ;;
        --max-request)
            args+=(--extra-config "proxy.grpc.serverMaxRecvSize=$2")
            export MP_TEST_MILVUS235_MAX_REQUEST=$2
            shift
            ;;
        *)
            echo "servers: start_milvus235: unknown option $1" >&2
            return 2
            ;;
        esac
        shift
    done
    # Its embedded etcd always takes peer port 2380 (no setting reaches it).
    if (exec 3<>/dev/tcp/127.0.0.1/2380) 2>/dev/null; then
        echo "servers: port 2380 is in use (another Milvus 2.3.5 standalone?): only one can run per machine" >&2
        return 1
    fi
    data="$(mp_run_dir)/milvus235-data"
    mkdir -p "$data"
    # Its local storage (localStorage.path): where its Import reads files,
    # by absolute path.
    export MP_TEST_MILVUS235_STORAGE="$data/data"
    for opt in etcd-port root-coord-port proxy-internal-port query-coord-port query-node-port \
        index-coord-port index-node-port data-coord-port data-node-port; do
        args+=("--$opt" "$(free_port)")
    done
    MP_MILVUS235_PORT=$(free_port)
    spawn milvus235 "$MP_VENV/milvus235/bin/milvus-server" --data "$data" \
        --proxy-port "$MP_MILVUS235_PORT" "${args[@]}"
}

# The 2.3.5 proxy listens before it can serve: wait for a real answer.
wait_milvus235() {
    wait_port milvus235 "$MP_MILVUS235_PORT" 240
    local uri="http://127.0.0.1:$MP_MILVUS235_PORT"
    for ((i = 0; i < 120; i++)); do
        if "$MP_VENV/main/bin/python" -c "
import sys
from pymilvus import MilvusClient
MilvusClient(uri='$uri', token='${MP_TEST_MILVUS235_TOKEN:-}', timeout=5).list_collections()
" >/dev/null 2>&1; then
            export MP_TEST_MILVUS235_URI="$uri"
            return 0
        fi
        sleep 1
    done
    echo "servers: milvus 2.3.5 never answered; its log:" >&2
    tail -n 40 "$(mp_run_dir)/milvus235.log" >&2
    return 1
}

stop_servers() {
    local dir=${MP_RUN_DIR:-} pidfile pid
    [[ -n "$dir" && -d "$dir" ]] || return 0
    for pidfile in "$dir"/*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid=$(cat "$pidfile")
        kill -TERM -- "-$pid" 2>/dev/null || true
    done
    sleep 1
    for pidfile in "$dir"/*.pid; do
        [[ -f "$pidfile" ]] || continue
        pid=$(cat "$pidfile")
        kill -KILL -- "-$pid" 2>/dev/null || true
        rm -f "$pidfile"
    done
}
