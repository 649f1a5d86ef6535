#!/usr/bin/env bash
# End-to-end test of the operational scripts: a scripted week on real servers.
# A collection on Milvus Lite 3 is backed up every day (dates faked through
# BACKUP_SET_NAME) to the local S3 server, one day fails, prune keeps KEEP_MIN,
# a restore flips an alias, a drill restores and passes (and fails its RTO),
# backup-verify --max-age flags a stale root, a corrupted byte is caught with
# its part named, and the metrics files hold the expected series.
#
# Run by scripts/test.sh after `cargo test`, with the servers it started:
#   MP_TEST_LITE3_URI, MP_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION
#   (MP_TEST_LITE25_URI, if set, is the drill's canary: a cross-version restore)
#   MP_TEST_PYTHON (default .venv/main/bin/python), MP_BIN_DIR (default target/debug)
# Prints each check; exits non-zero at the first failure, with the step's log.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${MP_TEST_LITE3_URI:?set MP_TEST_LITE3_URI (scripts/test.sh starts the servers)}"
: "${MP_TEST_S3_ENDPOINT:?set MP_TEST_S3_ENDPOINT (scripts/test.sh starts the servers)}"
py=${MP_TEST_PYTHON:-$root/.venv/main/bin/python}
export MP_BIN_DIR=${MP_BIN_DIR:-$root/target/debug}
export AWS_ENDPOINT_URL=$MP_TEST_S3_ENDPOINT
export MILVUS_URI=$MP_TEST_LITE3_URI
canary=${MP_TEST_LITE25_URI:-$MP_TEST_LITE3_URI}
scripts=$root/scripts
bin=$MP_BIN_DIR

run_id="$(date +%s)$$"
coll="week_$run_id"
bucket="mp-week-$run_id"
url="s3://$bucket/milvus"
work=$(mktemp -d "${TMPDIR:-/tmp}/scripted-week.XXXXXX")
metrics=$work/metrics

E2E_NAME=scripted-week
# shellcheck source=SCRIPTDIR/lib.sh
source "$root/tests/e2e/lib.sh"
# metric FILE SERIES: the value of the first line starting with SERIES.
metric() {
    awk -v s="$2" 'index($0, s) == 1 { print $NF; exit }' "$1"
}
has_series() {
    grep -q "^$2[{ ]" "$1" || fail "$1 has no series $2"
}
list_sets() {
    "$bin/backup-verify" --list -q "$url"
}
# The sets that still hold objects: SeaweedFS keeps listing the prefix of a
# deleted set as a directory, which --list shows as an incomplete set.
live_sets() {
    local name rest
    while read -r name rest; do
        if [[ $rest == *" incomplete "* ]] && ! "$bin/s3-ls" --recursive "$url/$name/" >/dev/null 2>&1; then
            continue
        fi
        printf '%s %s\n' "$name" "$rest"
    done < <(list_sets)
}

cleanup() {
    local status=$?
    set +e
    "$py" - "$MP_TEST_LITE3_URI" "${coll}_live" <<'PY' >/dev/null 2>&1
import sys
from pymilvus import MilvusClient
MilvusClient(uri=sys.argv[1]).drop_alias(sys.argv[2])
PY
    local name
    for name in $("$bin/milvus-dump" --list 2>/dev/null | cut -f1 | grep "^$coll"); do
        "$bin/milvus-load" -q --drop -c "$name" >/dev/null 2>&1
    done
    for name in $("$bin/milvus-dump" --uri "$canary" --list 2>/dev/null | cut -f1 | grep "^drill_$coll"); do
        "$bin/milvus-load" --uri "$canary" -q --drop -c "$name" >/dev/null 2>&1
    done
    "$bin/s3-rm" --recursive "$url/" >/dev/null 2>&1
    if [[ -n ${import_root:-} ]]; then
        for name in $("$bin/milvus-dump" --uri "$MP_TEST_MILVUS235_URI" --list 2>/dev/null | cut -f1 | grep "^$coll"); do
            "$bin/milvus-load" --uri "$MP_TEST_MILVUS235_URI" -q --drop -c "$name" >/dev/null 2>&1
        done
        rm -rf "$import_root"
    fi
    "$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY' >/dev/null 2>&1
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).delete_bucket(Bucket=sys.argv[2])
PY
    if [[ $status -eq 0 ]]; then
        rm -rf "$work"
        say "passed: $checks checks"
    else
        say "failed (exit $status); files kept in $work"
    fi
}
trap cleanup EXIT

say "collection $coll on $MP_TEST_LITE3_URI, backups in $url, drill canary $canary"
"$py" "$root/test-harness/py/seed.py" bench --uri "$MILVUS_URI" --name "$coll" --rows 200 --dim 8 >/dev/null
"$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])
PY

# --- The week: Monday 2026-11-16 to Sunday 2026-11-22, Thursday fails.
export BACKUP_URL=$url COLLECTIONS=$coll METRICS_DIR=$metrics PART_ROWS=100
for day in 16 17 18 19 20 21 22; do
    set_name="2026-11-${day}T021500Z"
    if [[ $day == 17 ]]; then
        # Tuesday's rows: the sets from here on hold 220.
        "$py" "$root/test-harness/py/seed.py" append --uri "$MILVUS_URI" --name "$coll" --start 200 --rows 20 --dim 8 >/dev/null
    fi
    if [[ $day == 19 ]]; then
        before=$(metric "$metrics/milvus_backup.prom" milvus_backup_last_success_timestamp_seconds)
        step "backup-$day" env BACKUP_SET_NAME="$set_name" COLLECTIONS="$coll,${coll}_gone" "$scripts/backup.sh"
        [[ $rc -ne 0 ]] || fail "backup.sh with a missing collection exited 0"
        ok "day $day: backup.sh with a missing collection fails (exit $rc)"
        step "backup-$day-down" env BACKUP_SET_NAME="$set_name" MILVUS_URI=http://127.0.0.1:9 "$scripts/backup.sh"
        [[ $rc -ne 0 ]] || fail "backup.sh with the server down exited 0"
        ok "day $day: backup.sh with the server down (MILVUS_URI on a closed port) fails (exit $rc)"
        # The dump killed midway (a node lost, an OOM kill) once its first
        # part is complete: small pages make it last long enough.
        fakebin=$work/fakebin
        mkdir -p "$fakebin"
        for tool in milvus-load s3-get s3-ls s3-put s3-rm backup-verify; do ln -sf "$bin/$tool" "$fakebin/$tool"; done
        cat >"$fakebin/milvus-dump" <<EOF
#!/usr/bin/env bash
"$bin/milvus-dump" --page-rows 1 "\$@" &
pid=\$!
for ((i = 0; i < 3000; i++)); do
    if "$bin/s3-ls" --recursive "$url/$set_name/" 2>/dev/null | grep -q 'part-00000[.a-z]*[.]json\$'; then
        kill -9 \$pid
        wait \$pid
        exit 137
    fi
    kill -0 \$pid 2>/dev/null || break
    sleep 0.01
done
wait \$pid
EOF
        chmod +x "$fakebin/milvus-dump"
        step "backup-$day-killed" env BACKUP_SET_NAME="$set_name" MP_BIN_DIR="$fakebin" "$scripts/backup.sh"
        expect_rc 137
        grep -q "BACKUP_SET_NAME=$set_name BACKUP_RESUME=1" "$work/backup-$day-killed.err" || fail "backup.sh did not say how to resume"
        "$bin/s3-ls" --recursive "$url/$set_name/" | grep -q "/$coll/part-00000" || fail "the killed dump's complete part is gone"
        ok "day $day: backup.sh whose dump is killed midway exits 137, keeps its complete parts and says how to resume"
        if list_sets | grep -q "^$set_name .* \(verified\|complete\) "; then
            fail "day $day left a complete set"
        fi
        ok "day $day: no complete set left behind"
        [[ $(metric "$metrics/milvus_backup.prom" milvus_backup_success) == 0 ]] || fail "milvus_backup_success is not 0 after the failed day"
        [[ $(metric "$metrics/milvus_backup.prom" milvus_backup_last_success_timestamp_seconds) == "$before" ]] ||
            fail "milvus_backup_last_success_timestamp_seconds was not carried over the failed day"
        ok "day $day: metrics say failure (success 0, exit code $(metric "$metrics/milvus_backup.prom" milvus_backup_exit_code)) and keep the last success ($before)"
        step "backup-$day-resumed" env BACKUP_SET_NAME="$set_name" BACKUP_RESUME=1 "$scripts/backup.sh"
        expect_rc 0
        grep -q "resuming after 1 complete parts" "$work/backup-$day-resumed.err" || fail "backup.sh BACKUP_RESUME=1 did not resume"
        ok "day $day: BACKUP_RESUME=1 continues the set after its complete part and verifies it"
        continue
    fi
    step "backup-$day" env BACKUP_SET_NAME="$set_name" "$scripts/backup.sh"
    expect_rc 0
    [[ $(cat "$work/backup-$day.out") == "$url/$set_name/" ]] || fail "backup.sh printed '$(cat "$work/backup-$day.out")', not the set's URL"
    ok "day $day: backup.sh wrote and verified $url/$set_name/"
done

listing=$(list_sets)
printf '%s\n' "$listing" >"$work/list-week.txt"
[[ $(grep -c ' verified ' <<<"$listing") == 7 ]] || fail "expected 7 verified sets after the week: $listing"
read -r _ _ _ colls rows_mon _ _ <<<"$(grep '^2026-11-16T' <<<"$listing")"
read -r _ _ _ _ rows_sun _ _ <<<"$(grep '^2026-11-22T' <<<"$listing")"
[[ $colls == "$coll" && $rows_mon == 200 && $rows_sun == 220 ]] ||
    fail "sets hold $colls with $rows_mon/$rows_sun rows, expected $coll with 200/220"
ok "backup-verify --list: 7 verified sets (Thursday's resumed), Monday 200 rows, Sunday 220"
parts=$("$bin/s3-ls" --recursive "$url/2026-11-22T021500Z/" | grep -c "/$coll/part-") || true
((parts >= 2)) || fail "PART_ROWS=100 should cut the set into several parts, found $parts"
"$bin/s3-ls" --recursive "$url/" | grep -q '\.sha256$' && fail "backup.sh left s3-put sidecars (--no-sidecar)"
ok "the Sunday set has $parts parts, and no sidecars"

for series in milvus_backup_success milvus_backup_exit_code milvus_backup_timestamp_seconds \
    milvus_backup_duration_seconds milvus_backup_last_success_timestamp_seconds milvus_backup_rows milvus_backup_bytes; do
    has_series "$metrics/milvus_backup.prom" "$series"
done
[[ $(metric "$metrics/milvus_backup.prom" milvus_backup_success) == 1 && $(metric "$metrics/milvus_backup.prom" milvus_backup_rows) == 220 ]] ||
    fail "milvus_backup.prom after Sunday: $(grep -v '^#' "$metrics/milvus_backup.prom")"
ok "milvus_backup.prom: success 1, rows 220, bytes $(metric "$metrics/milvus_backup.prom" milvus_backup_bytes), every series present"
for series in milvus_backup_verify_success milvus_backup_verify_last_success_timestamp_seconds \
    milvus_backup_verify_rows milvus_backup_verify_bytes milvus_backup_verify_parts milvus_backup_verify_failures; do
    has_series "$metrics/milvus_backup_verify.prom" "$series"
done
[[ $(metric "$metrics/milvus_backup_verify.prom" 'milvus_backup_verify_success{location="'"$url/2026-11-22T021500Z/"'"}') == 1 ]] ||
    fail "milvus_backup_verify.prom does not record Sunday's set as verified"
ok "milvus_backup_verify.prom: Sunday's set verified, every series present"

# --- Retention. An old incomplete set (an upload cut short) and one still
# being written (younger than the retention) sit beside the week.
for stray in 2026-11-15T021500Z 2026-11-29T230000Z; do
    "$bin/s3-get" -q "$url/2026-11-16T021500Z/$coll/part-00000.parquet" |
        "$bin/s3-put" -q --no-sidecar "$url/$stray/$coll/part-00000.parquet" >/dev/null
done
export PRUNE_NOW=2026-11-30T12:00:00Z RETENTION_DAYS=7 KEEP_MIN=3
step prune-dry "$scripts/prune.sh" --dry-run
expect_rc 0
expected="would delete 2026-11-15T021500Z $url/2026-11-15T021500Z/
would delete 2026-11-16T021500Z $url/2026-11-16T021500Z/
would delete 2026-11-17T021500Z $url/2026-11-17T021500Z/
would delete 2026-11-18T021500Z $url/2026-11-18T021500Z/
would delete 2026-11-19T021500Z $url/2026-11-19T021500Z/"
[[ $(cat "$work/prune-dry.out") == "$expected" ]] || fail "prune.sh --dry-run printed:
$(cat "$work/prune-dry.out")
expected:
$expected"
[[ $(live_sets | wc -l) == 9 ]] || fail "prune.sh --dry-run deleted something"
ok "prune.sh --dry-run (retention 7 days, KEEP_MIN 3, now $PRUNE_NOW) names the 5 sets it would delete and deletes none"
step prune "$scripts/prune.sh"
expect_rc 0
[[ $(sed 's/^deleted/would delete/' "$work/prune.out") == "$expected" ]] || fail "prune.sh deleted: $(cat "$work/prune.out")"
listing=$(live_sets)
printf '%s\n' "$listing" >"$work/list-pruned.txt"
[[ $(awk '{print $1, $3}' <<<"$listing") == "2026-11-20T021500Z verified
2026-11-21T021500Z verified
2026-11-22T021500Z verified
2026-11-29T230000Z incomplete" ]] || fail "after prune.sh: $listing"
if "$bin/s3-ls" --recursive "$url/2026-11-16T021500Z/" >/dev/null 2>&1; then fail "Monday's objects are still there"; fi
ok "prune.sh deleted 5 sets (incomplete 15th included) and kept the newest KEEP_MIN=3 verified sets, all older than the retention, and the recent incomplete one"
has_series "$metrics/milvus_backup_prune.prom" milvus_backup_prune_deleted_sets
[[ $(metric "$metrics/milvus_backup_prune.prom" milvus_backup_prune_deleted_sets) == 5 ]] || fail "milvus_backup_prune_deleted_sets is not 5"
ok "milvus_backup_prune.prom: 5 deleted sets"
step prune-again "$scripts/prune.sh"
expect_rc 0
[[ ! -s "$work/prune-again.out" ]] || fail "a second prune deleted $(cat "$work/prune-again.out")"
ok "a second prune.sh deletes nothing: KEEP_MIN holds"
"$bin/s3-rm" --recursive "$url/2026-11-29T230000Z/" >/dev/null
unset PRUNE_NOW RETENTION_DAYS KEEP_MIN

# --- Restore with the alias flip, twice: the alias follows the newest restore.
alias_of() {
    "$py" - "$MP_TEST_LITE3_URI" "$1" <<'PY'
import sys
from pymilvus import MilvusClient
print(MilvusClient(uri=sys.argv[1]).describe_alias(sys.argv[2])["collection_name"])
PY
}
step restore-sun env COLLECTION="$coll" ALIAS="${coll}_live" "$scripts/restore.sh"
expect_rc 0
target=$(cat "$work/restore-sun.out")
[[ $target == "${coll}_restored_20261122T021500Z" ]] || fail "restore.sh restored into '$target'"
[[ $(alias_of "${coll}_live") == "$target" ]] || fail "alias ${coll}_live does not point at $target"
grep -q "220 live rows (backup 220)" "$work/restore-sun.err" || fail "restore.sh did not compare 220 live rows"
ok "restore.sh: newest verified set into $target (220 rows checked), alias ${coll}_live flipped to it"
step restore-sat env COLLECTION="$coll" ALIAS="${coll}_live" RESTORE_SET=2026-11-21T021500Z TARGET_COLLECTION="${coll}_sat" "$scripts/restore.sh"
expect_rc 0
[[ $(alias_of "${coll}_live") == "${coll}_sat" ]] || fail "alias ${coll}_live did not move to ${coll}_sat"
ok "restore.sh RESTORE_SET=2026-11-21T021500Z: restored, alias ${coll}_live moved from $target to ${coll}_sat"
step restore-again env COLLECTION="$coll" "$scripts/restore.sh"
expect_rc 4
ok "restore.sh into an existing collection is refused (exit 4), the collection untouched"

# --- The drill: on the canary, then once more with an RTO it cannot meet.
export BACKUP_URL=$url CANARY_MILVUS_URI=$canary
step drill env RTO_SECONDS=600 "$scripts/restore-drill.sh"
expect_rc 0
grep -q "220 live rows (backup 220)" "$work/drill.err" || fail "the drill did not compare 220 live rows"
if "$bin/milvus-dump" --uri "$canary" --list | grep -q "^drill_$coll"; then fail "the drill left its scratch collection on $canary"; fi
drill_metrics=$metrics/milvus_backup_drill.prom
for series in milvus_backup_drill_success milvus_backup_drill_duration_seconds milvus_backup_drill_rto_seconds \
    milvus_backup_drill_restore_seconds milvus_backup_drill_last_success_timestamp_seconds milvus_backup_drill_rows; do
    has_series "$drill_metrics" "$series"
done
[[ $(metric "$drill_metrics" milvus_backup_drill_success) == 1 && $(metric "$drill_metrics" milvus_backup_drill_rows) == 220 &&
    $(metric "$drill_metrics" milvus_backup_drill_rto_seconds) == 600 ]] || fail "drill metrics: $(grep -v '^#' "$drill_metrics")"
ok "restore-drill.sh: restored 220 rows into $canary in $(metric "$drill_metrics" milvus_backup_drill_restore_seconds)s (RTO 600s), verified, scratch dropped, metrics written"
drill_last=$(metric "$drill_metrics" milvus_backup_drill_last_success_timestamp_seconds)
step drill-rto env RTO_SECONDS=0 "$scripts/restore-drill.sh"
expect_rc 20
[[ $(metric "$drill_metrics" milvus_backup_drill_success) == 0 &&
    $(metric "$drill_metrics" milvus_backup_drill_last_success_timestamp_seconds) == "$drill_last" ]] ||
    fail "drill metrics after the missed RTO: $(grep -v '^#' "$drill_metrics")"
if "$bin/milvus-dump" --uri "$canary" --list | grep -q "^drill_$coll"; then fail "the failed drill left its scratch collection"; fi
ok "restore-drill.sh with RTO_SECONDS=0: exit 20, success 0, last success kept, scratch dropped"
unset CANARY_MILVUS_URI

# --- Staleness: the newest complete set is Sunday 02:15.
fresh=$metrics/milvus_backup_freshness.prom
step max-age-fresh "$bin/backup-verify" --max-age 26h --now 2026-11-22T20:00:00Z --metrics "$fresh" "$url/"
expect_rc 0
ok "backup-verify --max-age 26h at Sunday 20:00: fresh (exit 0)"
step max-age-stale "$bin/backup-verify" --max-age 26h --now 2026-11-24T12:00:00Z --metrics "$fresh" "$url/"
expect_rc 12
has_series "$fresh" milvus_backup_newest_set_age_seconds
[[ $(metric "$fresh" milvus_backup_newest_set_age_seconds) == 207900 ]] ||
    fail "milvus_backup_newest_set_age_seconds is $(metric "$fresh" milvus_backup_newest_set_age_seconds), expected 207900 (57.75 h)"
[[ $(metric "$fresh" 'milvus_backup_verify_failures{location="'"$url/"'",kind="stale"}') -ge 1 ]] || fail "no stale failure in $fresh"
ok "backup-verify --max-age 26h at Tuesday 12:00: stale (exit 12), newest set age 207900 s in the metrics"

# --- One corrupt byte in one part of Friday's set.
part="$coll/part-00001.parquet"
"$bin/s3-get" -q "$url/2026-11-20T021500Z/$part" -o "$work/part"
"$py" - "$work/part" <<'PY'
import sys
p = sys.argv[1]
data = bytearray(open(p, "rb").read())
data[len(data) // 2] ^= 0x01
open(p, "wb").write(data)
PY
"$bin/s3-put" -q --no-sidecar "$url/2026-11-20T021500Z/$part" <"$work/part" >/dev/null
step corrupt "$bin/backup-verify" "$url/2026-11-20T021500Z/"
expect_rc 10
grep -q "$part" "$work/corrupt.err" || fail "backup-verify did not name $part"
ok "backup-verify on a set with one flipped byte: exit 10 (corrupt), names $part"
step restore-corrupt env COLLECTION="$coll" RESTORE_SET=2026-11-20T021500Z TARGET_COLLECTION="${coll}_fri" "$scripts/restore.sh"
expect_rc 10
if "$bin/milvus-dump" --list | grep -q "^${coll}_fri[[:space:]]"; then fail "the corrupt restore created ${coll}_fri"; fi
ok "restore.sh from the corrupt set: milvus-load refuses it (exit 10, corrupt), nothing created"

# --- A local backup (file://), and snapshot.sh's flush and manifests.
step backup-local env BACKUP_URL="file://$work/local" BACKUP_SET_NAME=2026-11-23T021500Z METRICS_DIR= PART_ROWS= BACKUP_ZSTD=0 "$scripts/backup.sh"
expect_rc 0
[[ -f "$work/local/2026-11-23T021500Z/manifest.json" && -f "$work/local/2026-11-23T021500Z/verified.json" &&
    -f "$work/local/2026-11-23T021500Z/$coll/part-00000.parquet" ]] || fail "file:// set incomplete: $(find "$work/local")"
ok "backup.sh to file://: the set, its manifest and verified.json on disk"
step snapshot env COLLECTIONS="$coll" SNAPSHOT_PVCS="milvus-etcd,milvus-minio" SNAPSHOT_STAMP=20261122-021500 SNAPSHOT_DRY_RUN=1 "$scripts/snapshot.sh"
expect_rc 0
grep -q "flushed $coll" "$work/snapshot.err" || fail "snapshot.sh did not flush $coll"
[[ $(grep -c '^kind: VolumeSnapshot$' "$work/snapshot.out") == 2 ]] || fail "snapshot.sh did not print 2 VolumeSnapshots"
grep -q "name: milvus-milvus-minio-20261122-021500" "$work/snapshot.out" || fail "snapshot names"
if command -v yq >/dev/null; then
    yq . "$work/snapshot.out" >/dev/null || fail "snapshot.sh printed invalid YAML"
fi
ok "snapshot.sh (dry run): flushed $coll, printed 2 VolumeSnapshot manifests"
step snapshot-missing env COLLECTIONS="${coll}_gone" SNAPSHOT_PVCS=x SNAPSHOT_DRY_RUN=1 "$scripts/snapshot.sh"
expect_rc 3
[[ ! -s "$work/snapshot-missing.out" ]] || fail "snapshot.sh printed manifests after a failed flush"
ok "snapshot.sh: a failed flush stops it before any snapshot (exit 3, no such collection)"

# --- A restore through Milvus's Import (Milvus 2.3.5, whose data node reads
# the set from its own storage directory): rows in two partitions.
: "${MP_TEST_MILVUS235_URI:?set MP_TEST_MILVUS235_URI (scripts/test.sh starts the servers)}"
: "${MP_TEST_MILVUS235_STORAGE:?set MP_TEST_MILVUS235_STORAGE (scripts/test.sh starts the servers)}"
import_root=$MP_TEST_MILVUS235_STORAGE/week-$run_id
imported="${coll}_parted"
"$py" "$root/test-harness/py/seed.py" types --uri "$MP_TEST_MILVUS235_URI" --server milvus235 --name "$imported" --rows 40 --bulk-compatible --partitions p1 >/dev/null
step backup-235 env MILVUS_URI="$MP_TEST_MILVUS235_URI" COLLECTIONS="$imported" BACKUP_URL="file://$import_root" BACKUP_SET_NAME=2026-11-23T021500Z METRICS_DIR= "$scripts/backup.sh"
expect_rc 0
step restore-import env MILVUS_URI="$MP_TEST_MILVUS235_URI" COLLECTION="$imported" BACKUP_URL="file://$import_root" RESTORE_VIA=import "$scripts/restore.sh"
expect_rc 0
grep -q '"rows_via":"import"' "$work/restore-import.err" || fail "restore.sh RESTORE_VIA=import did not import: $(tail -3 "$work/restore-import.err")"
grep -q "40 live rows (backup 40)" "$work/restore-import.err" || fail "restore.sh did not compare 40 live rows after the import"
ok "restore.sh RESTORE_VIA=import on Milvus 2.3.5: the set (2 partitions) imported by the server, 40 rows checked"
step restore-via-typo env MILVUS_URI="$MP_TEST_MILVUS235_URI" COLLECTION="$imported" BACKUP_URL="file://$import_root" RESTORE_VIA=bulk "$scripts/restore.sh"
expect_rc 2
ok "restore.sh RESTORE_VIA=bulk: refused (exit 2)"
