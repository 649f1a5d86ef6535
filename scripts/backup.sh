#!/usr/bin/env bash
# backup.sh — one dated backup set of Milvus collections, written and verified.
#
# Dumps the collections with milvus-dump straight into BACKUP_URL/SET/ (an
# object-store prefix or a directory: parts stream into it as they are
# written, nothing is staged on local disk; manifest.json last, and never
# over an existing one: a set without its manifest is incomplete by
# definition, so a failed run never looks like a backup), then checks the
# set end to end with `backup-verify --mark-verified` (prune.sh and
# restore.sh trust only verified sets) and writes metrics. For cron, a
# Kubernetes CronJob or CI:
#
#   BACKUP_URL=s3://bk/milvus COLLECTIONS=docs,faq scripts/backup.sh
#
# Environment (all optional):
#   BACKUP_URL       where sets go: s3://bucket/prefix, file:///dir or a path
#                    (default: file://$PWD/backups)
#   COLLECTIONS      collections, space- or comma-separated (default: every
#                    collection of the database, milvus-dump --all)
#   BACKUP_SET_NAME  the set's name (default: the UTC time, YYYY-MM-DDTHHMMSSZ;
#                    it must start with the date: --list and prune read it)
#   BACKUP_FORMAT    parquet or jsonl (default: parquet: smaller, and a tenth
#                    of JSONL's CPU to write, verify and load; bench/sets)
#   BACKUP_ZSTD      zstd level of the parts, 1-22; 0 for Parquet's default
#                    (zstd 1 on keys and text, vectors raw) (default: 3);
#                    Parquet compresses inside (parts stay importable by Milvus)
#   BACKUP_RESUME    1: continue the interrupted set BACKUP_SET_NAME (a run
#                    that failed midway keeps what it wrote, and says so)
#   PART_BYTES       bytes per part before compression, e.g. 32MiB (default:
#                    milvus-dump's): a huge collection is many bounded objects
#   PART_ROWS        rows per part instead (default: none)
#   BACKUP_FLUSH     1: seal growing segments before dumping (default: 0)
#   DUMP_JOBS        milvus-dump --jobs (default: milvus-dump's)
#   DUMP_MAX_ROWS_PER_SECOND, DUMP_MAX_BYTES_PER_SECOND
#                    cap the dump's reads from the server (e.g. 20000, 50MiB;
#                    default: none)
#   METRICS_DIR      node_exporter textfile directory: writes milvus_backup.prom
#                    (this script) and milvus_backup_verify.prom (backup-verify)
#                    (default: none, no metrics)
#   PUSHGATEWAY_URL  also push those files to this Prometheus Pushgateway
#                    (e.g. http://pushgateway:9091; needs curl) (default: none)
#   MILVUS_URI, MILVUS_DB, MILVUS_TOKEN or MILVUS_USER/MILVUS_PASSWORD: the
#                    Milvus server, read by milvus-dump
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                    AWS_PROFILE, ...: the object store, read by every tool
#   MP_BIN_DIR       directory of the milvus-pipes binaries (default: PATH)
#
# Prints the set's URL on stdout when it is written and verified. Exit 0 then;
# otherwise the failing tool's code, from the tools' one table (README, "Exit
# codes"): 3 no such collection, 4 the set already exists, 5 denied, 10
# corrupt, 11 incomplete, 14 unreachable, 143 terminated, ...
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"
ops_no_args "$@"

BACKUP_URL=${BACKUP_URL:-file://$PWD/backups}
COLLECTIONS=${COLLECTIONS:-}
BACKUP_SET_NAME=${BACKUP_SET_NAME:-$(date -u +%Y-%m-%dT%H%M%SZ)}
BACKUP_FORMAT=${BACKUP_FORMAT:-parquet}
BACKUP_ZSTD=${BACKUP_ZSTD:-3}
PART_BYTES=${PART_BYTES:-}
PART_ROWS=${PART_ROWS:-}
BACKUP_FLUSH=${BACKUP_FLUSH:-0}
DUMP_JOBS=${DUMP_JOBS:-}
DUMP_MAX_ROWS_PER_SECOND=${DUMP_MAX_ROWS_PER_SECOND:-}
DUMP_MAX_BYTES_PER_SECOND=${DUMP_MAX_BYTES_PER_SECOND:-}
BACKUP_RESUME=${BACKUP_RESUME:-0}
METRICS_DIR=${METRICS_DIR:-}

[[ $BACKUP_SET_NAME =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2} ]] ||
    ops_die 2 "BACKUP_SET_NAME must start with a date (YYYY-MM-DD...): '$BACKUP_SET_NAME'"
[[ $BACKUP_SET_NAME != */* ]] || ops_die 2 "BACKUP_SET_NAME must not hold a slash"
ops_require milvus-dump backup-verify

set_url="$(ops_url_join "$BACKUP_URL" "$BACKUP_SET_NAME")/"
started_ms=$(ops_now_ms)
rows=""
bytes=0

write_metrics() {
    local status=$1 file labels success last last_rows last_bytes now
    [[ -n $METRICS_DIR ]] || return 0
    file="$METRICS_DIR/milvus_backup.prom"
    labels="url=\"$(ops_label "$BACKUP_URL")\""
    now=$(date -u +%s)
    if [[ $status -eq 0 ]]; then
        success=1 last=$now last_rows=${rows:-0} last_bytes=$bytes
    else
        # A failed run keeps what the last good one recorded: an alert on the
        # age of the last success keeps counting from the right moment.
        success=0
        last=$(ops_metric_value "$file" milvus_backup_last_success_timestamp_seconds)
        last_rows=$(ops_metric_value "$file" milvus_backup_rows)
        last_bytes=$(ops_metric_value "$file" milvus_backup_bytes)
    fi
    {
        ops_gauge milvus_backup_success "1 if the last backup run wrote and verified its set." "$labels" "$success"
        ops_gauge milvus_backup_exit_code "Exit code of the last backup run." "$labels" "$status"
        ops_gauge milvus_backup_timestamp_seconds "When the last backup run ended." "$labels" "$now"
        ops_gauge milvus_backup_duration_seconds "How long the last backup run took." "$labels" "$(ops_secs_since "$started_ms")"
        if [[ -n $last ]]; then
            ops_gauge milvus_backup_last_success_timestamp_seconds "When a backup run last succeeded." "$labels" "$last"
            ops_gauge milvus_backup_rows "Rows in the last successful backup set." "$labels" "${last_rows:-0}"
            ops_gauge milvus_backup_bytes "Bytes written for the last successful backup set." "$labels" "${last_bytes:-0}"
        fi
    } | ops_metrics_write "$file" || true
}

finish() {
    local status=$?
    write_metrics "$status"
    if [[ $status -eq 0 ]]; then
        ops_log "ok: $set_url (${rows:-?} rows, $bytes bytes, $(ops_secs_since "$started_ms") s)"
    else
        ops_log "FAILED (exit $status): $set_url"
    fi
}
trap finish EXIT

[[ -z $METRICS_DIR ]] || mkdir -p "$METRICS_DIR"

dump_args=(--out-dir "$set_url" --format "$BACKUP_FORMAT")
if [[ -n $COLLECTIONS ]]; then
    while read -r c; do dump_args+=(-c "$c"); done < <(ops_words "$COLLECTIONS")
else
    dump_args+=(--all)
fi
[[ $BACKUP_ZSTD == 0 || -z $BACKUP_ZSTD ]] || dump_args+=("--zstd=$BACKUP_ZSTD")
[[ -z $PART_BYTES ]] || dump_args+=(--part-bytes "$PART_BYTES")
[[ -z $PART_ROWS ]] || dump_args+=(--part-rows "$PART_ROWS")
[[ $BACKUP_FLUSH != 1 ]] || dump_args+=(--flush)
[[ -z $DUMP_JOBS ]] || dump_args+=(--jobs "$DUMP_JOBS")
[[ $BACKUP_RESUME != 1 ]] || dump_args+=(--resume)
while read -r word; do dump_args+=("$word"); done < <(ops_rate_args "$DUMP_MAX_ROWS_PER_SECOND" "$DUMP_MAX_BYTES_PER_SECOND")

ops_log "dumping ${COLLECTIONS:-every collection} into $set_url"
status=0
ops_run milvus-dump "${dump_args[@]}" || status=$?
if [[ $status -ne 0 ]]; then
    # What was written stays: complete parts are resumable (milvus-dump
    # removes only what it cannot trust); the set has no manifest, so
    # nothing counts it as a backup, and prune.sh removes it once it is
    # older than the retention.
    ops_die "$status" "milvus-dump failed (exit $status); $set_url is incomplete. To continue it: BACKUP_SET_NAME=$BACKUP_SET_NAME BACKUP_RESUME=1 $0"
fi
verify_args=(--mark-verified --json)
[[ -z $METRICS_DIR ]] || verify_args+=(--metrics "$METRICS_DIR/milvus_backup_verify.prom")
ops_log "verifying $set_url"
status=0
verified=$(ops_run backup-verify "${verify_args[@]}" "$set_url") || status=$?
[[ -z $METRICS_DIR ]] || ops_push_metrics "$METRICS_DIR/milvus_backup_verify.prom"
[[ $status -eq 0 ]] || ops_die "$status" "backup-verify failed (exit $status) on $set_url; the set stays unverified"
# The set's own totals, as backup-verify read them (a resumed set included):
# the report's last "rows" and "bytes" are the whole set's.
rows=$(grep -o '"rows": *[0-9]*' <<<"$verified" | tail -n 1 | grep -o '[0-9]*$') || rows=""
bytes=$(grep -o '"bytes": *[0-9]*' <<<"$verified" | tail -n 1 | grep -o '[0-9]*$') || bytes=0
printf '%s\n' "$set_url"
