#!/usr/bin/env bash
# End-to-end test of the container image: builds it with
# scripts/build-image.sh from the suite's own (debug) build, checks its layout (user 65532, the seven tools,
# bash/curl/zstd, every script the k8s/ CronJobs run at the path they run it),
# then runs backup.sh and restore.sh INSIDE the image, as the CronJobs call
# them, against the suite's Milvus Lite 3 and S3 server: exit codes, the set's
# URL, every restored row compared with the backup, the row count from an
# independent client, a refused restore's exit code through the runtime, and
# a dump | zstd | s3-put pipeline read back with s3-get | milvus-load.
#
# How it runs the image (MP_IMAGE_RUNNER=auto, podman or chroot):
# - podman, first choice: `podman run --network host` (the test servers are
#   on loopback), trying the default runtime, then runc with explicit
#   --ulimit values. On the VM this was written and timed on (Debian 12, the
#   kind CI runs on: cgroup v1 with a v2 "hybrid" mount, root without
#   CAP_SYS_RESOURCE) the default fails twice over: podman asks for rlimits
#   above the hard limits its runtime inherits (which only CAP_SYS_RESOURCE
#   could raise), and crun refuses hybrid cgroups. `--runtime runc --ulimit
#   nofile=4096:4096 --ulimit nproc=4096:4096` runs: podman is what runs there.
# - chroot, the fallback where no container can run (e.g. an unprivileged
#   container): the image's own root filesystem (buildah mount of the built
#   image, nothing of the host's binaries), /proc and /dev mounted, run as
#   uid 65532 with a clean environment.
# The test says which one ran, and why, on stderr.
#
# Run by scripts/test.sh after scripted-week.sh, with the servers it started:
#   MP_TEST_LITE3_URI, MP_TEST_S3_ENDPOINT, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_REGION,
#   MP_TEST_PYTHON (default .venv/main/bin/python). Needs root (image build,
#   podman, chroot); installs podman and runc with apt-get when missing.
# Prints each check; exits non-zero at the first failure, with the step's log.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
: "${MP_TEST_LITE3_URI:?set MP_TEST_LITE3_URI (scripts/test.sh starts the servers)}"
: "${MP_TEST_S3_ENDPOINT:?set MP_TEST_S3_ENDPOINT (scripts/test.sh starts the servers)}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID (scripts/test.sh sets the S3 credentials)}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
export AWS_REGION=${AWS_REGION:-us-east-1}
py=${MP_TEST_PYTHON:-$root/.venv/main/bin/python}
runner=${MP_IMAGE_RUNNER:-auto}
[[ $runner == auto || $runner == podman || $runner == chroot ]] ||
    { echo "image: MP_IMAGE_RUNNER must be auto, podman or chroot, not '$runner'" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "image: run as root (the image build and the container runtime need it)" >&2; exit 2; }

run_id="$(date +%s)$$"
# The image is built under a name of this run's and removed afterwards (the
# cached Debian base stays): runs neither collide nor pile images up.
name=localhost/milvus-pipes-e2e-$run_id
coll="img_$run_id"
bucket="mp-img-$run_id"
url="s3://$bucket/milvus"
set_name=2026-11-24T021500Z
rows=500
work=$(mktemp -d "${TMPDIR:-/tmp}/image-e2e.XXXXXX")
image=
ctr=
mnt=

E2E_NAME=image
# shellcheck source=SCRIPTDIR/lib.sh
source "$root/tests/e2e/lib.sh"

# What the container gets: the settings a CronJob's ConfigMap and Secret give.
export MILVUS_URI=$MP_TEST_LITE3_URI AWS_ENDPOINT_URL=$MP_TEST_S3_ENDPOINT BACKUP_URL=$url
image_env=(MILVUS_URI AWS_ENDPOINT_URL AWS_REGION AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY BACKUP_URL)
podman_opts=()

# in_image [NAME=VALUE...] CMD...: CMD inside the image as its user (65532),
# in its working directory, with image_env and the NAME=VALUE settings.
in_image() {
    local extra=() var
    while [[ $# -gt 0 && $1 == [A-Z_]*=* ]]; do
        extra+=("$1")
        shift
    done
    if [[ $runner == podman ]]; then
        local env_args=()
        for var in "${image_env[@]}"; do env_args+=(--env "$var"); done
        for var in "${extra[@]}"; do env_args+=(--env "$var"); done
        podman run --rm "${podman_opts[@]}" "${env_args[@]}" "$image" "$@"
    else
        local env_vals=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/home/milvus-pipes LANG=C.UTF-8)
        for var in "${image_env[@]}"; do env_vals+=("$var=${!var}"); done
        chroot --userspec=65532:65532 "$mnt" /usr/bin/env -i "${env_vals[@]}" "${extra[@]}" \
            /bin/bash -c 'cd /home/milvus-pipes && exec "$@"' bash "$@"
    fi
}

cleanup() {
    local status=$?
    set +e
    if [[ -n $mnt ]]; then
        umount "$mnt/dev" "$mnt/proc" 2>/dev/null
        buildah umount "$ctr" >/dev/null 2>&1
    fi
    [[ -z $ctr ]] || buildah rm "$ctr" >/dev/null 2>&1
    "$py" - "$MP_TEST_LITE3_URI" "$coll" <<'PY' >/dev/null 2>&1
import sys
from pymilvus import MilvusClient
client = MilvusClient(uri=sys.argv[1])
for name in client.list_collections():
    if name.startswith(sys.argv[2]):
        client.drop_collection(name)
PY
    "$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY' >/dev/null 2>&1
import sys, boto3
bucket = boto3.resource("s3", endpoint_url=sys.argv[1]).Bucket(sys.argv[2])
bucket.objects.all().delete()
bucket.delete()
PY
    local ref
    for ref in $(buildah images --format '{{.Name}}:{{.Tag}}' --filter reference="$name" 2>/dev/null); do
        buildah rmi "$ref" >/dev/null 2>&1
    done
    if [[ $status -eq 0 ]]; then
        rm -rf "$work"
        say "passed: $checks checks ($runner) in $SECONDS s"
    else
        say "failed (exit $status); files kept in $work"
    fi
}
trap cleanup EXIT

# --- The image, as an operator builds it.
started=$SECONDS
# The tools as the suite built them (one build for the whole suite: a
# release build here would double CI's compile time); the release build
# itself is plain cargo.
(cd "$root" && cargo build --locked --bins -q)
step build bash "$root/scripts/build-image.sh" --name "$name" --tools-from "${CARGO_TARGET_DIR:-$root/target}/debug"
expect_rc 0
image=$(head -n1 "$work/build.out")
[[ $image == "$name:"* ]] || fail "build-image.sh printed '$image', not an image of $name"
grep '^build-image:' "$work/build.err" >&2
ok "scripts/build-image.sh built $image in $((SECONDS - started)) s"

# --- Which runner: podman if any of its configurations runs the image.
probe_log=$work/podman-probe.log
if [[ $runner != chroot ]]; then
    if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
        say "installing podman and runc (apt-get)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc >/dev/null; }; then
            say "could not install podman and runc"
        fi
    fi
    limits=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
    candidates=(
        "default runtime|"
        "runc, explicit ulimits|--runtime runc ${limits[*]}"
        "cgroups disabled, explicit ulimits|--cgroups=disabled ${limits[*]}"
    )
    chosen=
    if command -v podman >/dev/null; then
        for candidate in "${candidates[@]}"; do
            label=${candidate%%|*}
            read -r -a opts <<<"${candidate#*|}"
            if podman run --rm --network host "${opts[@]}" "$image" true >>"$probe_log" 2>&1; then
                chosen=$label
                podman_opts=(--network host "${opts[@]}")
                break
            fi
            echo "podman ($label) failed: $(tail -n1 "$probe_log")" >>"$probe_log.why"
        done
    else
        echo "podman is not installed and could not be" >>"$probe_log.why"
    fi
    if [[ -n $chosen ]]; then
        runner=podman
        say "runner: podman run ${podman_opts[*]}"
        [[ ! -s $probe_log.why ]] || sed 's/^/image:   (before that: /; s/$/)/' "$probe_log.why" >&2
    elif [[ $runner == podman ]]; then
        cat "$probe_log.why" >&2
        fail "MP_IMAGE_RUNNER=podman, but podman cannot run a container here"
    else
        runner=chroot
        say "runner: chroot into the image's root filesystem, because no podman configuration runs a container here:"
        sed 's/^/image:   /' "$probe_log.why" >&2
    fi
else
    say "runner: chroot (MP_IMAGE_RUNNER=chroot)"
fi
if [[ $runner == chroot ]]; then
    ctr=$(buildah from --quiet --pull=never "$image")
    mnt=$(buildah mount "$ctr")
    mount -t proc proc "$mnt/proc"
    mount --bind /dev "$mnt/dev"
fi

# --- The layout the CronJobs rely on.
commands=$(sed -n 's/.*command: *\["\([^"]*\)".*/\1/p' "$root"/k8s/*.yaml | sort -u)
[[ -n $commands ]] || fail "no command: [...] found in k8s/*.yaml"
# shellcheck disable=SC2016 # expanded inside the image
layout_check='
    set -e
    echo "uid $(id -u) gid $(id -g) home $HOME pwd $PWD"
    for tool in milvus-dump milvus-load backup-verify s3-put s3-get s3-ls s3-rm; do
        echo "$tool $(command -v "$tool") $("$tool" --version | head -n1)"
    done
    bash --version | head -n1
    curl --version | head -n1
    zstd --version
    date -u -d 2026-11-24T02:15:00Z +%s
    for script in "$@"; do test -x "$script" && echo "script $script"; done
    if command -v kubectl; then echo "kubectl present"; else echo "kubectl absent"; fi
    touch probe && rm probe && echo "home writable"
'
# shellcheck disable=SC2086 # one path per word
step layout in_image bash -c "$layout_check" bash $commands
expect_rc 0
out=$work/layout.out
grep -q '^uid 65532 gid 65532 home /home/milvus-pipes pwd /home/milvus-pipes$' "$out" ||
    fail "the image does not run as 65532:65532 in /home/milvus-pipes: $(head -n1 "$out")"
for tool in milvus-dump milvus-load backup-verify s3-put s3-get s3-ls s3-rm; do
    grep -q "^$tool /usr/local/bin/$tool $tool 0" "$out" || fail "$tool is not /usr/local/bin/$tool answering --version"
done
for script in $commands; do
    grep -qx "script $script" "$out" || fail "the CronJobs run $script, which is not executable in the image"
done
grep -q '^1795486500$' "$out" || fail "date -d (GNU coreutils) does not work in the image"
grep -qx 'kubectl absent' "$out" || fail "kubectl is in the image by default"
grep -qx 'home writable' "$out" || fail "the home directory is not writable by 65532"
ok "layout: uid 65532 in /home/milvus-pipes; 7 tools on PATH ($(grep '^milvus-dump ' "$out" | cut -d' ' -f3-)); bash, curl, zstd, GNU date; $(wc -w <<<"$commands") CronJob scripts at their paths; no kubectl"

# --- A collection to back up, and a bucket.
"$py" "$root/test-harness/py/seed.py" bench --uri "$MP_TEST_LITE3_URI" --name "$coll" --rows "$rows" --dim 8 >/dev/null
"$py" - "$MP_TEST_S3_ENDPOINT" "$bucket" <<'PY'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket=sys.argv[2])
PY

# --- backup.sh, then restore.sh, inside the image, as the CronJobs run them.
step backup in_image COLLECTIONS="$coll" BACKUP_SET_NAME="$set_name" PART_ROWS=200 /opt/milvus-pipes/scripts/backup.sh
expect_rc 0
[[ $(cat "$work/backup.out") == "$url/$set_name/" ]] || fail "backup.sh printed '$(cat "$work/backup.out")', not the set's URL"
ok "backup.sh in the image: $rows rows of $coll into $url/$set_name/, verified (exit 0)"

step restore in_image COLLECTION="$coll" TARGET_COLLECTION="${coll}_restored" VERIFY_SAMPLE="$rows" \
    /opt/milvus-pipes/scripts/restore.sh
expect_rc 0
[[ $(cat "$work/restore.out") == "${coll}_restored" ]] || fail "restore.sh printed '$(cat "$work/restore.out")'"
grep -q "$rows live rows (backup $rows)" "$work/restore.err" || fail "restore.sh did not compare $rows live rows"
count=$("$py" "$root/test-harness/py/seed.py" count --uri "$MP_TEST_LITE3_URI" --name "${coll}_restored")
[[ $count == "$rows" ]] || fail "${coll}_restored holds $count rows (pymilvus count(*)), expected $rows"
ok "restore.sh in the image: ${coll}_restored holds $rows rows (pymilvus count(*)), all $rows compared field by field with the backup (exit 0)"

step restore-again in_image COLLECTION="$coll" TARGET_COLLECTION="${coll}_restored" /opt/milvus-pipes/scripts/restore.sh
expect_rc 4
ok "restore.sh into the existing collection: exit 4 (refused) through the runtime"

# --- The pipeline of the README's first lines, zstd included.
# shellcheck disable=SC2016 # expanded inside the image
step pipeline in_image bash -o pipefail -c \
    'milvus-dump -q -c "$0" | zstd -q -T0 | s3-put -q --no-sidecar "$1" && s3-get -q "$1" | milvus-load -q -c "${0}_piped"' \
    "$coll" "$url/$coll.jsonl.zst"
expect_rc 0
count=$("$py" "$root/test-harness/py/seed.py" count --uri "$MP_TEST_LITE3_URI" --name "${coll}_piped")
[[ $count == "$rows" ]] || fail "${coll}_piped holds $count rows, expected $rows"
ok "milvus-dump | zstd | s3-put, then s3-get | milvus-load, in the image: $rows rows"
