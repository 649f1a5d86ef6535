#!/usr/bin/env bash
# snapshot.sh — CSI VolumeSnapshots of Milvus's volumes, taken right after the
# collections are flushed, so sealed segments (not just the write-ahead log)
# are on the volumes the snapshots capture.
#
#   SNAPSHOT_PVCS="milvus-etcd milvus-minio" SNAPSHOT_CLASS=csi-snapclass scripts/snapshot.sh
#   SNAPSHOT_DRY_RUN=1 SNAPSHOT_PVCS=data-milvus scripts/snapshot.sh   # flush, print the manifests
#
# 1. Flush each collection (`milvus-dump --flush-only`): growing segments are
#    sealed and written to object storage / the volumes before the snapshot.
# 2. One VolumeSnapshot per PVC (snapshot.storage.k8s.io/v1), all labelled
#    milvus-pipes/snapshot=<stamp>, created with `kubectl apply -f -`.
# Snapshots of several volumes are not taken at one instant: writes landing
# between them are only in the later ones. Pause writers for a strict copy.
#
# Environment:
#   SNAPSHOT_PVCS           PersistentVolumeClaims to snapshot, space- or comma-separated (required)
#   SNAPSHOT_NAMESPACE      their namespace (default: kubectl's current one)
#   SNAPSHOT_CLASS          VolumeSnapshotClass (default: the cluster's default class)
#   SNAPSHOT_PREFIX         snapshot names are PREFIX-<pvc>-<stamp> (default: milvus)
#   SNAPSHOT_STAMP          the <stamp> (default: UTC time, YYYYMMDD-HHMMSS)
#   COLLECTIONS             collections to flush, space- or comma-separated (default: all, milvus-dump --list)
#   SNAPSHOT_FLUSH          0: do not flush (default: 1)
#   SNAPSHOT_DRY_RUN        1: flush, print the manifests, create nothing;
#                           client: also run `kubectl apply --dry-run=client` (default: 0)
#   SNAPSHOT_WAIT_SECONDS   wait this long for every snapshot to be readyToUse; 0: do not wait (default: 0)
#   KUBECTL                 the kubectl command (default: kubectl)
#   MILVUS_URI, MILVUS_DB, MILVUS_TOKEN or MILVUS_USER/MILVUS_PASSWORD: the Milvus server
#   MP_BIN_DIR              directory of the milvus-pipes binaries (default: PATH)
#
# Prints the manifests it applies on stdout. Exit 0; when a flush fails,
# milvus-dump's code (3 no such collection, 14 unreachable, ...) and no
# snapshot is created; 1 when kubectl failed; 2 bad settings.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/lib/ops.sh"
ops_no_args "$@"

SNAPSHOT_PVCS=${SNAPSHOT_PVCS:-}
SNAPSHOT_NAMESPACE=${SNAPSHOT_NAMESPACE:-}
SNAPSHOT_CLASS=${SNAPSHOT_CLASS:-}
SNAPSHOT_PREFIX=${SNAPSHOT_PREFIX:-milvus}
SNAPSHOT_STAMP=${SNAPSHOT_STAMP:-$(date -u +%Y%m%d-%H%M%S)}
COLLECTIONS=${COLLECTIONS:-}
SNAPSHOT_FLUSH=${SNAPSHOT_FLUSH:-1}
SNAPSHOT_DRY_RUN=${SNAPSHOT_DRY_RUN:-0}
SNAPSHOT_WAIT_SECONDS=${SNAPSHOT_WAIT_SECONDS:-0}
KUBECTL=${KUBECTL:-kubectl}

[[ -n $SNAPSHOT_PVCS ]] || ops_die 2 "set SNAPSHOT_PVCS to the PersistentVolumeClaims to snapshot"
[[ $SNAPSHOT_STAMP =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] ||
    ops_die 2 "SNAPSHOT_STAMP must be lowercase letters, digits and '-': '$SNAPSHOT_STAMP'"
case $SNAPSHOT_DRY_RUN in 0 | 1 | client) ;; *) ops_die 2 "SNAPSHOT_DRY_RUN must be 0, 1 or client" ;; esac
[[ $SNAPSHOT_WAIT_SECONDS =~ ^[0-9]+$ ]] || ops_die 2 "SNAPSHOT_WAIT_SECONDS must be a whole number"

flush_collection() {
    local c=$1
    local status=0
    ops_run milvus-dump -q --flush-only -c "$c" || status=$?
    if [[ $status -eq 0 ]]; then
        ops_log "flushed $c"
    else
        ops_log "error: flushing $c failed (exit $status)"
        return "$status"
    fi
}

if [[ $SNAPSHOT_FLUSH == 1 ]]; then
    ops_require milvus-dump
    collections=()
    if [[ -n $COLLECTIONS ]]; then
        while read -r c; do collections+=("$c"); done < <(ops_words "$COLLECTIONS")
    else
        listing=$(ops_run milvus-dump --list) || ops_die $? "cannot list the collections"
        while IFS=$'\t' read -r c _rows; do [[ -z $c ]] || collections+=("$c"); done <<<"$listing"
    fi
    for c in "${collections[@]}"; do
        # pipefail would turn the expected 141 into a failure: checked inside.
        flush_collection "$c" || ops_die $? "not taking snapshots: $c could not be flushed"
    done
    ops_log "flushed ${#collections[@]} collection(s)"
fi

manifest=""
names=()
while read -r pvc; do
    name="$SNAPSHOT_PREFIX-$pvc-$SNAPSHOT_STAMP"
    ((${#name} <= 253)) || ops_die 2 "snapshot name too long: $name"
    names+=("$name")
    manifest+="---
apiVersion: snapshot.storage.k8s.io/v1
kind: VolumeSnapshot
metadata:
  name: $name
${SNAPSHOT_NAMESPACE:+  namespace: $SNAPSHOT_NAMESPACE
}  labels:
    app.kubernetes.io/managed-by: milvus-pipes
    milvus-pipes/snapshot: \"$SNAPSHOT_STAMP\"
spec:
${SNAPSHOT_CLASS:+  volumeSnapshotClassName: $SNAPSHOT_CLASS
}  source:
    persistentVolumeClaimName: $pvc
"
done < <(ops_words "$SNAPSHOT_PVCS")

printf '%s' "$manifest"
if [[ $SNAPSHOT_DRY_RUN == 1 ]]; then
    ops_log "dry run: ${#names[@]} VolumeSnapshot(s) printed, none created"
    exit 0
fi
kubectl_args=()
[[ -z $SNAPSHOT_NAMESPACE ]] || kubectl_args+=(--namespace "$SNAPSHOT_NAMESPACE")
apply_args=(apply -f -)
[[ $SNAPSHOT_DRY_RUN != client ]] || apply_args+=(--dry-run=client)
# shellcheck disable=SC2086 # KUBECTL may be "kubectl --context prod"
printf '%s' "$manifest" | $KUBECTL "${kubectl_args[@]}" "${apply_args[@]}" >&2 ||
    ops_die 1 "kubectl apply failed"
if [[ $SNAPSHOT_DRY_RUN == client ]]; then
    ops_log "client dry run: ${#names[@]} VolumeSnapshot(s) validated by kubectl, none created"
    exit 0
fi
ops_log "created VolumeSnapshot(s): ${names[*]}"

if ((SNAPSHOT_WAIT_SECONDS > 0)); then
    for name in "${names[@]}"; do
        # shellcheck disable=SC2086
        $KUBECTL "${kubectl_args[@]}" wait "volumesnapshot/$name" \
            --for=jsonpath='{.status.readyToUse}'=true --timeout="${SNAPSHOT_WAIT_SECONDS}s" >&2 ||
            ops_die 1 "VolumeSnapshot $name not ready within ${SNAPSHOT_WAIT_SECONDS}s"
    done
    ops_log "all ${#names[@]} snapshot(s) ready to use"
fi
