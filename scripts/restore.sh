#!/usr/bin/env bash
# restore.sh — restore one collection from the newest verified backup set (or
# a named one) into a NEW collection, check it against the backup, and
# optionally point an alias at it. The original is never touched.
#
#   COLLECTION=docs scripts/restore.sh                     # -> docs_restored_20261124T021500Z
#   COLLECTION=docs ALIAS=docs_live scripts/restore.sh     # ... and move alias docs_live to it
#   COLLECTION=docs RESTORE_SET=2026-11-20T021500Z TARGET_COLLECTION=docs_old scripts/restore.sh
#   COLLECTION=docs RESTORE_VIA=import BACKUP_URL=s3://milvus-bucket/backups scripts/restore.sh   # the server reads the set
#
# Steps: pick the set (`backup-verify --list`); `milvus-load -c TARGET --pick
# COLLECTION SET_URL`, read where the set lives (object storage or a
# directory; nothing is downloaded to local disk): every part checked against
# the manifest before the first write, its row count checked after;
# `backup-verify --against TARGET --pick
# COLLECTION`: the live row count and a sample of rows compared field by field
# with the backup; only then `milvus-load --alias-only` points ALIAS at it.
#
# Environment:
#   COLLECTION         the collection to restore (required)
#   BACKUP_URL         the root holding the dated sets (default: file://$PWD/backups)
#   RESTORE_SET        the set's name (default: the newest verified set holding COLLECTION)
#   TARGET_COLLECTION  the new collection (default: COLLECTION_restored_<set name, digits only>);
#                      an existing collection is refused (exit 4)
#   ALIAS              once the copy is verified, point this alias at the new
#                      collection (milvus-load --alias-only) (default: none)
#   VERIFY_SAMPLE      rows compared with the live copy (default: 100)
#   RESTORE_VIA        insert (default): rows through the proxy; import: Milvus's own Import
#                      reads the Parquet parts where the set lives (it must be where the
#                      server reads files: its bucket, or a standalone's storage directory;
#                      refused with the reason, exit 4, otherwise); auto: import where it
#                      can, insert otherwise (milvus-load --import / --import=auto)
#   IMPORT_ROOT        what to strip from the set's location to get the server's paths
#                      (milvus-load --import-root; default: the bucket, or nothing for a path)
#   MILVUS_LOAD_ARGS   extra milvus-load flags, e.g. "--index-fallback AUTOINDEX" or "--new-ids"
#   LOAD_MAX_ROWS_PER_SECOND, LOAD_MAX_BYTES_PER_SECOND
#                      cap the inserts into the server (default: none)
#   MILVUS_URI, MILVUS_DB, MILVUS_TOKEN or MILVUS_USER/MILVUS_PASSWORD: the target server
#   AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, ...: the object store
#   MP_BIN_DIR         directory of the milvus-pipes binaries (default: PATH)
#
# Prints the restored collection's name on stdout. Exit 0 when restored and
# verified; otherwise the failing tool's code, from the tools' one table
# (README, "Exit codes"): 3 no such set, 4 the target exists, 10 backup corrupt
# or 11 incomplete (nothing written), 13 the copy differs from the backup, ...
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"
ops_no_args "$@"

COLLECTION=${COLLECTION:-}
BACKUP_URL=${BACKUP_URL:-file://$PWD/backups}
RESTORE_SET=${RESTORE_SET:-}
ALIAS=${ALIAS:-}
VERIFY_SAMPLE=${VERIFY_SAMPLE:-100}
MILVUS_LOAD_ARGS=${MILVUS_LOAD_ARGS:-}
LOAD_MAX_ROWS_PER_SECOND=${LOAD_MAX_ROWS_PER_SECOND:-}
LOAD_MAX_BYTES_PER_SECOND=${LOAD_MAX_BYTES_PER_SECOND:-}
RESTORE_VIA=${RESTORE_VIA:-insert}
IMPORT_ROOT=${IMPORT_ROOT:-}

[[ -n $COLLECTION ]] || ops_die 2 "set COLLECTION to the collection to restore"
case $RESTORE_VIA in
insert) via_args=() ;;
import) via_args=(--import) ;;
auto) via_args=(--import=auto) ;;
*) ops_die 2 "RESTORE_VIA=$RESTORE_VIA: use insert, import or auto" ;;
esac
if [[ -n $IMPORT_ROOT ]]; then
    [[ $RESTORE_VIA != insert ]] || ops_die 2 "IMPORT_ROOT is for RESTORE_VIA=import or auto"
    via_args+=(--import-root "$IMPORT_ROOT")
fi
ops_require backup-verify milvus-load

line=$(ops_pick_set "$BACKUP_URL" "$COLLECTION" "$RESTORE_SET") || exit
read -r set_name _time state _colls _rows _bytes set_url <<<"$line"
TARGET_COLLECTION=${TARGET_COLLECTION:-${COLLECTION}_restored_${set_name//[^0-9A-Za-z]/}}
started_ms=$(ops_now_ms)
ops_log "restoring $COLLECTION from $set_name ($state, $set_url) into $TARGET_COLLECTION (rows via $RESTORE_VIA)"

load_args=(-c "$TARGET_COLLECTION" --pick "$COLLECTION" "${via_args[@]}")
# Word splitting wanted: extra flags as an operator writes them.
# shellcheck disable=SC2206
load_args+=($MILVUS_LOAD_ARGS)
while read -r word; do load_args+=("$word"); done < <(ops_rate_args "$LOAD_MAX_ROWS_PER_SECOND" "$LOAD_MAX_BYTES_PER_SECOND")
status=0
ops_run milvus-load "${load_args[@]}" "$set_url" || status=$?
[[ $status -eq 0 ]] || ops_die "$status" "milvus-load failed (exit $status)"
ops_log "loaded $TARGET_COLLECTION in $(ops_secs_since "$started_ms") s"

status=0
ops_run backup-verify --against "$TARGET_COLLECTION" --pick "$COLLECTION" --sample "$VERIFY_SAMPLE" "$set_url" || status=$?
if [[ $status -ne 0 ]]; then
    ops_die "$status" "backup-verify --against $TARGET_COLLECTION failed (exit $status)${ALIAS:+; alias $ALIAS not moved}"
fi
# Readers move over only once the copy is proven: count and sampled rows.
if [[ -n $ALIAS ]]; then
    ops_run milvus-load -q --alias-only --alias "$ALIAS" -c "$TARGET_COLLECTION" ||
        ops_die $? "cannot point alias $ALIAS at $TARGET_COLLECTION"
    ops_log "alias $ALIAS points at $TARGET_COLLECTION"
fi
ops_log "ok: $TARGET_COLLECTION matches $set_name ($(ops_secs_since "$started_ms") s)"
printf '%s\n' "$TARGET_COLLECTION"
