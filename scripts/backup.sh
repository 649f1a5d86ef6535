#!/usr/bin/env bash
# backup.sh — one dated backup set of Milvus collections, uploaded and verified.
#
# Dumps the collections with milvus-dump into a local staging set, uploads its
# files under BACKUP_URL/SET/ (parts first, manifest.json last: a set without
# its manifest is incomplete by definition, so a failed run never looks like a
# backup), then checks the uploaded set end to end with
# `backup-verify --mark-verified` (prune.sh and restore.sh trust only verified
# sets) and writes metrics. For cron, a Kubernetes CronJob or CI:
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
#   BACKUP_FORMAT    jsonl or parquet (default: jsonl)
#   BACKUP_ZSTD      zstd level of the parts, 1-22; 0 for none (default: 3);
#                    Parquet parts stay importable by Milvus itself only with 0
#   PART_BYTES       bytes per part before compression, e.g. 256MiB (default:
#                    milvus-dump's): a huge collection is many bounded objects
#   PART_ROWS        rows per part instead (default: none)
#   BACKUP_FLUSH     1: seal growing segments before dumping (default: 0)
#   DUMP_JOBS        milvus-dump --jobs (default: milvus-dump's)
#   STAGING_DIR      local scratch space, needs room for one set (default:
#                    $TMPDIR or /tmp); removed at the end
#   METRICS_DIR      node_exporter textfile directory: writes milvus_backup.prom
#                    (this script) and milvus_backup_verify.prom (backup-verify)
#                    (default: none, no metrics)
#   PUSHGATEWAY_URL  also push those files to this Prometheus Pushgateway
#                    (e.g. http://pushgateway:9091; needs curl) (default: none)
#   MILVUS_URI, MILVUS_DB, MILVUS_TOKEN or MILVUS_USER/MILVUS_PASSWORD: the
#                    Milvus server, read by milvus-dump
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
#                    AWS_PROFILE, ...: the object store, read by the s3 tools
#   MP_BIN_DIR       directory of the milvus-pipes binaries (default: PATH)
#
# Prints the set's URL on stdout when it is uploaded and verified. Exit 0 then;
# otherwise the failing tool's exit code (milvus-dump 1; s3-put 4: the set
# already exists; backup-verify 10 corrupt, 11 incomplete, 14 unreachable) or 1.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"
ops_no_args "$@"

BACKUP_URL=${BACKUP_URL:-file://$PWD/backups}
COLLECTIONS=${COLLECTIONS:-}
BACKUP_SET_NAME=${BACKUP_SET_NAME:-$(date -u +%Y-%m-%dT%H%M%SZ)}
BACKUP_FORMAT=${BACKUP_FORMAT:-jsonl}
BACKUP_ZSTD=${BACKUP_ZSTD:-3}
PART_BYTES=${PART_BYTES:-}
PART_ROWS=${PART_ROWS:-}
BACKUP_FLUSH=${BACKUP_FLUSH:-0}
DUMP_JOBS=${DUMP_JOBS:-}
STAGING_DIR=${STAGING_DIR:-${TMPDIR:-/tmp}}
METRICS_DIR=${METRICS_DIR:-}

[[ $BACKUP_SET_NAME =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2} ]] ||
    ops_die 2 "BACKUP_SET_NAME must start with a date (YYYY-MM-DD...): '$BACKUP_SET_NAME'"
[[ $BACKUP_SET_NAME != */* ]] || ops_die 2 "BACKUP_SET_NAME must not hold a slash"
ops_require milvus-dump s3-put s3-rm backup-verify

set_url="$(ops_url_join "$BACKUP_URL" "$BACKUP_SET_NAME")/"
started_ms=$(ops_now_ms)
rows=""
bytes=0
staging=""
uploaded=()
finished=0

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
        ops_gauge milvus_backup_success "1 if the last backup run uploaded and verified its set." "$labels" "$success"
        ops_gauge milvus_backup_exit_code "Exit code of the last backup run." "$labels" "$status"
        ops_gauge milvus_backup_timestamp_seconds "When the last backup run ended." "$labels" "$now"
        ops_gauge milvus_backup_duration_seconds "How long the last backup run took." "$labels" "$(ops_secs_since "$started_ms")"
        if [[ -n $last ]]; then
            ops_gauge milvus_backup_last_success_timestamp_seconds "When a backup run last succeeded." "$labels" "$last"
            ops_gauge milvus_backup_rows "Rows in the last successful backup set." "$labels" "${last_rows:-0}"
            ops_gauge milvus_backup_bytes "Bytes uploaded for the last successful backup set." "$labels" "${last_bytes:-0}"
        fi
    } | ops_metrics_write "$file" || true
}

finish() {
    local status=$?
    [[ -n $staging ]] && rm -rf "$staging"
    if [[ $status -ne 0 && $finished -eq 0 && ${#uploaded[@]} -gt 0 ]]; then
        # The upload stopped halfway: take back what this run put there
        # (prune.sh removes whatever could not be removed now).
        ops_log "removing the ${#uploaded[@]} object(s) this run uploaded to $set_url"
        ops_run s3-rm "${uploaded[@]}" >/dev/null || ops_log "warning: could not remove them; prune.sh will"
    fi
    write_metrics "$status"
    if [[ $status -eq 0 ]]; then
        ops_log "ok: $set_url (${rows:-?} rows, $bytes bytes, $(ops_secs_since "$started_ms") s)"
    else
        ops_log "FAILED (exit $status): $set_url"
    fi
}
trap finish EXIT

mkdir -p "$STAGING_DIR" ${METRICS_DIR:+"$METRICS_DIR"}
staging=$(mktemp -d "${STAGING_DIR%/}/milvus-backup.XXXXXX")
set_dir="$staging/$BACKUP_SET_NAME"

dump_args=(--out-dir "$set_dir" --format "$BACKUP_FORMAT" --report "$staging/dump-report.json")
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

ops_log "dumping ${COLLECTIONS:-every collection} into $set_dir"
status=0
ops_run milvus-dump "${dump_args[@]}" || status=$?
[[ $status -eq 0 ]] || ops_die "$status" "milvus-dump failed (exit $status); nothing was uploaded"
[[ -f "$set_dir/manifest.json" ]] || ops_die 1 "milvus-dump wrote no manifest.json"
rows=$(grep -o '"rows":[0-9]*' "$staging/dump-report.json" | tail -n 1 | cut -d: -f2) || rows=""

# Parts first, the manifest last. --if-none-match: a set is never overwritten
# (a name used twice fails here, before anything is written).
files=()
while IFS= read -r f; do files+=("$f"); done < <(cd "$set_dir" && find . -type f ! -name manifest.json | sed 's|^\./||' | LC_ALL=C sort)
files+=(manifest.json)
ops_log "uploading ${#files[@]} file(s) to $set_url"
for f in "${files[@]}"; do
    url=$(ops_url_join "$set_url" "$f")
    status=0
    ops_run s3-put --no-sidecar --if-none-match -q "$url" <"$set_dir/$f" >/dev/null || status=$?
    [[ $status -eq 0 ]] || ops_die "$status" "s3-put $url failed (exit $status)"
    uploaded+=("$url")
    bytes=$((bytes + $(wc -c <"$set_dir/$f")))
done
# Uploaded in full: from here on the set stays, whatever the verdict.
finished=1
rm -rf "$set_dir"

verify_args=(--mark-verified)
[[ -z $METRICS_DIR ]] || verify_args+=(--metrics "$METRICS_DIR/milvus_backup_verify.prom")
ops_log "verifying $set_url"
status=0
ops_run backup-verify "${verify_args[@]}" "$set_url" || status=$?
[[ -z $METRICS_DIR ]] || ops_push_metrics "$METRICS_DIR/milvus_backup_verify.prom"
[[ $status -eq 0 ]] || ops_die "$status" "backup-verify failed (exit $status) on $set_url; the set stays unverified"
printf '%s\n' "$set_url"
