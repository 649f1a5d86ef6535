#!/usr/bin/env bash
# prune.sh — retention: delete the backup sets under BACKUP_URL older than
# RETENTION_DAYS, but never the newest KEEP_MIN verified sets, so backups that
# silently stopped do not age the last good copies away.
#
#   scripts/prune.sh --dry-run      # print what would be deleted; delete nothing
#   RETENTION_DAYS=30 BACKUP_URL=s3://bk/milvus scripts/prune.sh
#
# The sets are those `backup-verify --list` shows (children of BACKUP_URL whose
# names start with a UTC date, as backup.sh names them). Older than the
# retention and deleted: verified sets beyond the newest KEEP_MIN, complete but
# unverified sets, incomplete ones (a failed upload). Kept: everything newer
# than the retention, the newest KEEP_MIN verified sets (topped up with the
# newest complete ones while fewer than KEEP_MIN are verified), and anything
# that is not a dated set. Each set goes with `s3-rm --recursive SET/`.
#
# Environment (all optional):
#   BACKUP_URL       the root holding the dated sets (default: file://$PWD/backups)
#   RETENTION_DAYS   keep sets younger than this many days (default: 14; runbook: 7-30)
#   KEEP_MIN         never delete the newest KEEP_MIN verified sets (default: 3)
#   PRUNE_NOW        judge ages against this RFC 3339 time (default: now; for tests and drills)
#   PRUNE_DRY_RUN    1: same as --dry-run
#   METRICS_DIR      node_exporter textfile directory: writes milvus_backup_prune.prom (default: none)
#   PUSHGATEWAY_URL     also push that file to this Prometheus Pushgateway (needs curl) (default: none)
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...: the object store
#   MP_BIN_DIR       directory of the milvus-pipes binaries (default: PATH)
#
# Prints one line per deleted set on stdout ("deleted NAME URL", or "would
# delete NAME URL" with --dry-run). Exit 0; 1 when a deletion or the listing
# failed (the other deletions are still attempted); 2 bad settings.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"

BACKUP_URL=${BACKUP_URL:-file://$PWD/backups}
RETENTION_DAYS=${RETENTION_DAYS:-14}
KEEP_MIN=${KEEP_MIN:-3}
PRUNE_NOW=${PRUNE_NOW:-}
PRUNE_DRY_RUN=${PRUNE_DRY_RUN:-0}
METRICS_DIR=${METRICS_DIR:-}

for arg in "$@"; do
    case $arg in
    -n | --dry-run) PRUNE_DRY_RUN=1 ;;
    -h | --help) ops_help "$arg" ;;
    *) ops_die 2 "unknown argument '$arg' (only --dry-run)" ;;
    esac
done
[[ $RETENTION_DAYS =~ ^[0-9]+$ ]] || ops_die 2 "RETENTION_DAYS must be a whole number of days: '$RETENTION_DAYS'"
[[ $KEEP_MIN =~ ^[0-9]+$ ]] || ops_die 2 "KEEP_MIN must be a whole number: '$KEEP_MIN'"
ops_require backup-verify s3-ls s3-rm

now=$(ops_epoch "$PRUNE_NOW")
cutoff=$((now - RETENTION_DAYS * 86400))
listing=$(ops_list_sets "$BACKUP_URL") || ops_die 1 "cannot list the sets under $BACKUP_URL; nothing deleted"

names=() times=() states=() urls=()
while read -r name time state _colls _rows _bytes url; do
    [[ -n $name ]] || continue
    names+=("$name") states+=("$state") urls+=("$url")
    times+=("$(ops_epoch "$time")")
done <<<"$listing"

# The protected sets: walk from the newest, take KEEP_MIN verified ones; if
# there are fewer, the newest complete ones make up the number (a complete set
# is still a backup, even if its verification never ran).
declare -A keep=()
protected=0
for state_wanted in verified complete; do
    for ((i = ${#names[@]} - 1; i >= 0 && protected < KEEP_MIN; i--)); do
        if [[ ${states[i]} == "$state_wanted" && -z ${keep[$i]:-} ]]; then
            keep[$i]=1
            protected=$((protected + 1))
        fi
    done
done

verb=deleted
[[ $PRUNE_DRY_RUN != 1 ]] || verb="would delete"
deleted=0 kept=0 failed=0
for ((i = 0; i < ${#names[@]}; i++)); do
    if [[ -n ${keep[$i]:-} || ${times[i]} -ge $cutoff ]]; then
        kept=$((kept + 1))
        continue
    fi
    url="${urls[i]%/}/"
    if [[ ${states[i]} == incomplete ]]; then
        # Some stores (SeaweedFS) keep listing a prefix as a directory once
        # its objects are gone: nothing left to delete there.
        listed=0
        ops_run s3-ls --recursive "$url" >/dev/null 2>&1 || listed=$?
        if [[ $listed -eq 3 ]]; then
            kept=$((kept + 1))
            continue
        fi
    fi
    if [[ $PRUNE_DRY_RUN != 1 ]]; then
        if ! ops_run s3-rm --recursive "$url" >/dev/null; then
            ops_log "error: could not delete ${names[i]} ($url)"
            failed=$((failed + 1))
            continue
        fi
    fi
    printf '%s %s %s\n' "$verb" "${names[i]}" "$url"
    ops_log "$verb ${names[i]} (${states[i]}, older than $RETENTION_DAYS days)"
    deleted=$((deleted + 1))
done
ops_log "${#names[@]} set(s): $verb $deleted, left $kept (the newest $protected protected), $failed failed"

if [[ -n $METRICS_DIR && $PRUNE_DRY_RUN != 1 ]]; then
    labels="url=\"$(ops_label "$BACKUP_URL")\""
    {
        ops_gauge milvus_backup_prune_success "1 if the last prune deleted everything it meant to." "$labels" $((failed == 0 ? 1 : 0))
        ops_gauge milvus_backup_prune_timestamp_seconds "When the last prune ran." "$labels" "$(date -u +%s)"
        ops_gauge milvus_backup_prune_deleted_sets "Sets the last prune deleted." "$labels" "$deleted"
        ops_gauge milvus_backup_prune_kept_sets "Sets left after the last prune." "$labels" "$((kept + failed))"
    } | ops_metrics_write "$METRICS_DIR/milvus_backup_prune.prom" || true
fi
[[ $failed -eq 0 ]] || exit 1
