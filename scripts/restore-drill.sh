#!/usr/bin/env bash
# restore-drill.sh — the canary restore drill: a backup only counts once it
# has been restored. Restores the newest verified set into scratch
# collections on a canary server, checks them against the backup
# (`backup-verify --against`), measures the restore time (reading the set
# where it lives + load + index + load into memory: the RTO an operator
# would see) against
# RTO_SECONDS, drops the scratch collections, writes metrics.
#
#   CANARY_MILVUS_URI=http://milvus-canary:19530 BACKUP_URL=s3://bk/milvus RTO_SECONDS=1800 scripts/restore-drill.sh
#
# Environment (all optional):
#   BACKUP_URL          the root holding the dated sets (default: file://$PWD/backups)
#   DRILL_SET           the set to restore (default: the newest verified set,
#                       holding DRILL_COLLECTIONS if it names one)
#   DRILL_COLLECTIONS   collections to restore, space- or comma-separated
#                       (default: every collection of the set)
#   CANARY_MILVUS_URI   the server to restore into (default: MILVUS_URI)
#   CANARY_MILVUS_TOKEN, CANARY_MILVUS_DB: its token and database (default:
#                       MILVUS_TOKEN, MILVUS_DB)
#   RTO_SECONDS         the restore must finish within this (default: 3600)
#   VERIFY_SAMPLE       rows compared per collection (default: 100)
#   DRILL_PREFIX        scratch collections are PREFIX<collection>_<time> (default: drill_)
#   LOAD_MAX_ROWS_PER_SECOND, LOAD_MAX_BYTES_PER_SECOND
#                       cap the inserts into the canary (default: none)
#   MILVUS_LOAD_ARGS    extra milvus-load flags (e.g. "--index-fallback AUTOINDEX"
#                       when the canary runs another Milvus version)
#   METRICS_DIR         node_exporter textfile directory: writes milvus_backup_drill.prom (default: none)
#   PUSHGATEWAY_URL     also push that file to this Prometheus Pushgateway (needs curl) (default: none)
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...: the object store
#   MP_BIN_DIR          directory of the milvus-pipes binaries (default: PATH)
#
# Exit 0: restored, identical to the backup, within the RTO. 20: restored and
# verified but slower than RTO_SECONDS. Otherwise the failing tool's code, from
# the tools' one table (README, "Exit codes"): 3 no such set, 10 backup corrupt,
# 11 incomplete, 13 the copy differs from the backup, 14 unreachable, ...
# The scratch collections are dropped whatever happens.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"
ops_no_args "$@"

BACKUP_URL=${BACKUP_URL:-file://$PWD/backups}
DRILL_SET=${DRILL_SET:-}
DRILL_COLLECTIONS=${DRILL_COLLECTIONS:-}
RTO_SECONDS=${RTO_SECONDS:-3600}
VERIFY_SAMPLE=${VERIFY_SAMPLE:-100}
DRILL_PREFIX=${DRILL_PREFIX:-drill_}
MILVUS_LOAD_ARGS=${MILVUS_LOAD_ARGS:-}
LOAD_MAX_ROWS_PER_SECOND=${LOAD_MAX_ROWS_PER_SECOND:-}
LOAD_MAX_BYTES_PER_SECOND=${LOAD_MAX_BYTES_PER_SECOND:-}
METRICS_DIR=${METRICS_DIR:-}
export MILVUS_URI=${CANARY_MILVUS_URI:-${MILVUS_URI:-http://localhost:19530}}
[[ -z ${CANARY_MILVUS_TOKEN:-} ]] || export MILVUS_TOKEN=$CANARY_MILVUS_TOKEN
[[ -z ${CANARY_MILVUS_DB:-} ]] || export MILVUS_DB=$CANARY_MILVUS_DB

[[ $RTO_SECONDS =~ ^[0-9]+$ ]] || ops_die 2 "RTO_SECONDS must be a whole number of seconds: '$RTO_SECONDS'"
ops_require backup-verify milvus-load

started_ms=$(ops_now_ms)
stamp=$(date -u +%Y%m%d%H%M%S)
scratch=()
restore_secs=""
set_time=""
rows=0

write_metrics() {
    local status=$1 file labels success last now
    [[ -n $METRICS_DIR ]] || return 0
    file="$METRICS_DIR/milvus_backup_drill.prom"
    labels="url=\"$(ops_label "$BACKUP_URL")\""
    now=$(date -u +%s)
    success=0 last=$(ops_metric_value "$file" milvus_backup_drill_last_success_timestamp_seconds)
    [[ $status -ne 0 ]] || success=1 last=$now
    {
        ops_gauge milvus_backup_drill_success "1 if the last restore drill restored, verified and met the RTO." "$labels" "$success"
        ops_gauge milvus_backup_drill_exit_code "Exit code of the last restore drill." "$labels" "$status"
        ops_gauge milvus_backup_drill_timestamp_seconds "When the last restore drill ended." "$labels" "$now"
        ops_gauge milvus_backup_drill_duration_seconds "How long the last restore drill took, checks and clean-up included." "$labels" "$(ops_secs_since "$started_ms")"
        ops_gauge milvus_backup_drill_rto_seconds "The restore-time objective (RTO_SECONDS)." "$labels" "$RTO_SECONDS"
        [[ -z $restore_secs ]] || ops_gauge milvus_backup_drill_restore_seconds "Measured restore time of the last drill: download, load, index, load into memory." "$labels" "$restore_secs"
        [[ -z $set_time ]] || ops_gauge milvus_backup_drill_set_timestamp_seconds "Time of the backup set the last drill restored." "$labels" "$set_time"
        ops_gauge milvus_backup_drill_rows "Rows the last drill restored." "$labels" "$rows"
        [[ -z $last ]] || ops_gauge milvus_backup_drill_last_success_timestamp_seconds "When a restore drill last succeeded." "$labels" "$last"
    } | ops_metrics_write "$file" || true
}

finish() {
    local status=$? name
    for name in "${scratch[@]}"; do
        # Exit 3: never created (the load failed before creating it).
        local drop=0
        ops_run milvus-load -q --drop -c "$name" 2>/dev/null || drop=$?
        case $drop in
        0) ops_log "dropped scratch collection $name" ;;
        3) ;;
        *)
            ops_log "error: could not drop scratch collection $name on $MILVUS_URI (exit $drop): drop it by hand"
            [[ $status -ne 0 ]] || status=1
            ;;
        esac
    done
    write_metrics "$status"
    if [[ $status -eq 0 ]]; then
        ops_log "ok: drill passed: restored in ${restore_secs}s (RTO ${RTO_SECONDS}s), $rows rows verified"
    else
        ops_log "FAILED (exit $status): restore drill${restore_secs:+ (restore took ${restore_secs}s, RTO ${RTO_SECONDS}s)}"
    fi
    exit "$status"
}
trap finish EXIT

# One collection named: the newest verified set holding it.
want=""
[[ -z $DRILL_COLLECTIONS || $(ops_words "$DRILL_COLLECTIONS" | wc -l) -ne 1 ]] || want=$(ops_words "$DRILL_COLLECTIONS")
line=$(ops_pick_set "$BACKUP_URL" "$want" "$DRILL_SET") || exit
read -r set_name time _state set_colls _rows _bytes set_url <<<"$line"
set_time=$(ops_epoch "$time")
collections=()
while read -r c; do collections+=("$c"); done < <(ops_words "${DRILL_COLLECTIONS:-$set_colls}")
for c in "${collections[@]}"; do
    [[ ",$set_colls," == *",$c,"* ]] || ops_die 1 "set $set_name does not hold collection $c (it holds $set_colls)"
done
ops_log "drill: restoring ${collections[*]} from $set_name ($set_url) into $MILVUS_URI, RTO ${RTO_SECONDS}s"

for c in "${collections[@]}"; do
    name="${DRILL_PREFIX}${c}_${stamp}"
    scratch+=("$name")
    # shellcheck disable=SC2206 # extra flags as an operator writes them
    load_args=(-q -c "$name" --pick "$c" $MILVUS_LOAD_ARGS)
    while read -r word; do load_args+=("$word"); done < <(ops_rate_args "$LOAD_MAX_ROWS_PER_SECOND" "$LOAD_MAX_BYTES_PER_SECOND")
    status=0
    ops_run milvus-load "${load_args[@]}" "$set_url" || status=$?
    [[ $status -eq 0 ]] || ops_die "$status" "milvus-load of $c into $name failed (exit $status)"
done
restore_ms=$(($(ops_now_ms) - started_ms))
restore_secs=$(ops_secs_since "$started_ms")
ops_log "restored ${#collections[@]} collection(s) in ${restore_secs}s"

for i in "${!collections[@]}"; do
    c=${collections[i]}
    status=0
    report=$(ops_run backup-verify --json --against "${scratch[i]}" --pick "$c" --sample "$VERIFY_SAMPLE" "$set_url") || status=$?
    # The set's rows are all the collections'; count the restored ones.
    n=$(grep -o '"live_rows": *[0-9]*' <<<"$report" | head -n 1 | grep -o '[0-9]*$') || n=""
    [[ $status -eq 0 ]] || ops_die "$status" "backup-verify --against ${scratch[i]} failed (exit $status)"
    rows=$((rows + ${n:-0}))
done

if ((restore_ms > RTO_SECONDS * 1000)); then
    ops_die 20 "restore took ${restore_secs}s, over the RTO of ${RTO_SECONDS}s"
fi
