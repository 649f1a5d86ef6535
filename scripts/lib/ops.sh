# shellcheck shell=bash
# Sourced by the operational scripts (backup.sh, prune.sh, restore.sh,
# restore-drill.sh, snapshot.sh): logging, finding the tools, URLs, durations
# and Prometheus textfile metrics. Plain bash and GNU coreutils (date -d).

OPS_NAME=${OPS_NAME:-$(basename "$0" .sh)}

# A signal ends the script through its EXIT trap with the conventional status:
# without these, the EXIT trap of a terminated script sees status 0 and would
# record a success. A tool running under ops_run gets the signal first and
# stops cleanly (Kubernetes signals only a container's first process, the
# script: the tool would otherwise run on until SIGKILL).
OPS_CHILD=
ops_on_signal() {
    local signal=$1 status=$2
    if [[ -n $OPS_CHILD ]]; then
        kill -"$signal" "$OPS_CHILD" 2>/dev/null || true
        wait "$OPS_CHILD" 2>/dev/null || true
    fi
    exit "$status"
}
trap 'ops_on_signal HUP 129' HUP
trap 'ops_on_signal INT 130' INT
trap 'ops_on_signal TERM 143' TERM

# ops_help ARGS...: for -h/--help, print the calling script's header comment
# (its settings) and exit.
ops_help() {
    local arg
    for arg in "$@"; do
        case $arg in
        -h | --help)
            sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'
            exit 0
            ;;
        esac
    done
}

# ops_no_args ARGS...: refuse arguments: the settings come from the environment.
ops_no_args() {
    ops_help "$@"
    [[ $# -eq 0 ]] || ops_die 2 "unexpected argument '$1': settings come from the environment (--help lists them)"
}

# ops_log MESSAGE...: one timestamped line on stderr (cron mails it, kubectl logs shows it).
ops_log() {
    printf '%s %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$OPS_NAME" "$*" >&2
}

# ops_die CODE MESSAGE...: log and exit with CODE.
ops_die() {
    local code=$1
    shift
    ops_log "error: $*"
    exit "$code"
}

# ops_tool NAME: the path of a milvus-pipes binary (MP_BIN_DIR, else PATH).
ops_tool() {
    if [[ -n "${MP_BIN_DIR:-}" ]]; then
        printf '%s\n' "${MP_BIN_DIR%/}/$1"
    else
        printf '%s\n' "$1"
    fi
}

# ops_rate_args ROWS BYTES: --max-rows-per-second / --max-bytes-per-second
# for the limits given (empty: none), one word per line.
ops_rate_args() {
    [[ -z ${1:-} ]] || printf '%s\n' --max-rows-per-second "$1"
    [[ -z ${2:-} ]] || printf '%s\n' --max-bytes-per-second "$2"
}

# ops_run NAME ARGS...: run a milvus-pipes binary; a signal the script gets
# meanwhile is passed on to it (see the traps above). It runs as a background
# job the script waits for: bash runs a trap only between commands, and a
# `wait` is the one command a signal interrupts. Its stdin stays the
# script's (`<&0`: a background job's would be /dev/null).
ops_run() {
    local tool status=0
    tool=$(ops_tool "$1")
    shift
    "$tool" "$@" <&0 &
    OPS_CHILD=$!
    wait "$OPS_CHILD" || status=$?
    OPS_CHILD=
    return "$status"
}

# ops_require NAME...: fail early, naming what is missing, rather than halfway through.
ops_require() {
    local name path
    for name in "$@"; do
        path=$(ops_tool "$name")
        if ! command -v "$path" >/dev/null 2>&1; then
            ops_die 1 "$name not found (looked for ${path}; set MP_BIN_DIR or PATH)"
        fi
    done
}

# ops_words LIST: the items of a space- and/or comma-separated list, one per line.
ops_words() {
    local item
    for item in ${1//,/ }; do
        printf '%s\n' "$item"
    done
}

# ops_url_join BASE NAME: BASE/NAME with exactly one slash between them.
ops_url_join() {
    printf '%s/%s\n' "${1%/}" "${2#/}"
}

# ops_seconds DURATION: seconds in 90, 90s, 15m, 26h, 2d or 1w.
ops_seconds() {
    local d=$1
    if [[ $d =~ ^([0-9]+)([smhdw]?)$ ]]; then
        local n=${BASH_REMATCH[1]}
        case ${BASH_REMATCH[2]} in
        '' | s) echo "$n" ;;
        m) echo $((n * 60)) ;;
        h) echo $((n * 3600)) ;;
        d) echo $((n * 86400)) ;;
        w) echo $((n * 604800)) ;;
        esac
    else
        ops_die 2 "not a duration: '$d' (use e.g. 3600, 90m, 26h, 14d)"
    fi
}

# ops_epoch TIME: seconds since 1970 of an RFC 3339 time (or of now, without one).
ops_epoch() {
    if [[ $# -eq 0 || -z "$1" ]]; then
        date -u +%s
    else
        date -u -d "$1" +%s 2>/dev/null || ops_die 2 "not a time: '$1' (use RFC 3339, e.g. 2026-11-24T02:15:00Z)"
    fi
}

# ops_now_ms: milliseconds since 1970, for durations.
ops_now_ms() {
    date -u +%s%3N
}

# ops_secs_since MS: seconds (3 decimals) elapsed since ops_now_ms returned MS.
ops_secs_since() {
    local ms=$(($(ops_now_ms) - $1))
    printf '%d.%03d\n' $((ms / 1000)) $((ms % 1000))
}

# ops_label VALUE: VALUE escaped for a Prometheus label ("\" and '"').
ops_label() {
    local v=${1//\\/\\\\}
    v=${v//\"/\\\"}
    printf '%s\n' "${v//$'\n'/\\n}"
}

# ops_metric_value FILE NAME: the value of the first series NAME in FILE
# (nothing when the file or the series is missing).
ops_metric_value() {
    [[ -f "$1" ]] || return 0
    awk -v n="$2" '$1 == n || index($1, n "{") == 1 { print $NF; exit }' "$1"
}

# ops_metrics_write FILE: standard input into FILE, atomically (a temporary
# file renamed into place), so node_exporter's textfile collector never reads
# half a file. The temporary name does not end in .prom: the collector skips it.
ops_metrics_write() {
    local file=$1 tmp
    mkdir -p "$(dirname "$file")"
    tmp="$file.tmp.$$"
    if cat >"$tmp" && mv -f "$tmp" "$file"; then
        ops_push_metrics "$file"
        return 0
    fi
    rm -f "$tmp"
    ops_log "warning: cannot write metrics $file"
    return 1
}

# ops_push_metrics FILE: with PUSHGATEWAY_URL set, also push FILE to a
# Prometheus Pushgateway (job = the file's name without .prom): a CronJob's pod
# has no node_exporter to read its textfile directory.
ops_push_metrics() {
    local file=$1 job
    [[ -n "${PUSHGATEWAY_URL:-}" && -f "$file" ]] || return 0
    job=$(basename "$file" .prom)
    curl -fsS --max-time 30 --data-binary @"$file" "${PUSHGATEWAY_URL%/}/metrics/job/$job" ||
        ops_log "warning: cannot push $file to $PUSHGATEWAY_URL"
}

# ops_gauge NAME HELP LABELS VALUE: one gauge in the Prometheus text format.
ops_gauge() {
    printf '# HELP %s %s\n# TYPE %s gauge\n%s{%s} %s\n' "$1" "$2" "$1" "$1" "$3" "$4"
}

# ops_list_sets ROOT: the dated sets under ROOT, one line each, oldest first:
#   NAME TIME STATE COLLECTIONS ROWS BYTES URL   (backup-verify --list)
ops_list_sets() {
    ops_run backup-verify --list -q "$1"
}

# ops_pick_set ROOT [COLLECTION] [NAME]: the line of the set to restore from:
# set NAME if given (verified or complete), else the newest verified set
# (holding COLLECTION, if given). Fails, saying why, with the tools' exit
# codes: backup-verify's when the root cannot be listed, 11 (incomplete) for
# a named set without its manifest, 3 (not found) when there is no such set.
ops_pick_set() {
    local root=$1 want=${2:-} pick=${3:-} listing line="" name time state colls rows bytes url status
    listing=$(ops_list_sets "$root") || {
        status=$?
        ops_log "error: cannot list the sets under $root"
        return "$status"
    }
    while read -r name time state colls rows bytes url; do
        [[ -n $name ]] || continue
        if [[ -n $pick ]]; then
            [[ $name == "$pick" ]] || continue
            if [[ $state == incomplete ]]; then
                ops_log "error: set $name is incomplete (no manifest): it cannot be restored"
                return 11
            fi
            [[ $state == verified ]] || ops_log "warning: set $name was never verified (state: $state)"
        else
            [[ $state == verified ]] || continue
        fi
        if [[ -n $want && ",$colls," != *",$want,"* ]]; then
            [[ -z $pick ]] || {
                ops_log "error: set $name holds $colls, not $want"
                return 3
            }
            continue
        fi
        line="$name $time $state $colls $rows $bytes $url"
    done <<<"$listing"
    if [[ -z $line ]]; then
        ops_log "error: no ${pick:+set named $pick}${pick:-verified set}${want:+ holding $want} under $root"
        return 3
    fi
    printf '%s\n' "$line"
}

