#!/usr/bin/env bash
# build-image.sh — the milvus-pipes container image without pulling a base
# image: the same layout as the Dockerfile (the seven tools in /usr/local/bin,
# scripts/ in /opt/milvus-pipes/scripts, bash, coreutils, curl, zstd and CA
# certificates on Debian 12, uid 65532), for machines that reach a Debian
# mirror but no container registry.
#
#   scripts/build-image.sh                      # localhost/milvus-pipes:{0.1.0,<git describe>,latest}
#   scripts/build-image.sh --name registry.example.com/milvus-pipes
#   buildah push registry.example.com/milvus-pipes:0.1.0    # (or podman push)
#   scripts/build-image.sh --output out/        # also out/rootfs/ and out/milvus-pipes-<version>.oci.tar
#
# Steps: `cargo build --release --locked` of the seven tools on this host
# (they link its glibc: the host must be Debian 12 or older); a Debian 12
# root filesystem from `debootstrap --variant=minbase`, set up in a chroot by
# scripts/lib/image-rootfs.sh (the script the Dockerfile runs) and cached;
# then buildah: that rootfs as a base image (one layer, cached too), the
# tools and scripts/ in a second layer, committed as an OCI image.
#
# Options:
#   --name NAME      the image's name (default: milvus-pipes, i.e. localhost/milvus-pipes)
#   --output DIR     also write the image's root filesystem to DIR/rootfs and
#                    an OCI archive to DIR/milvus-pipes-<version>.oci.tar
#   --kubectl FILE   put this kubectl binary in /usr/local/bin (for snapshot.sh;
#                    not installed otherwise)
#   --refresh        rebuild the cached Debian base now (it is rebuilt anyway
#                    once 7 days old, for security updates)
#   --tools-from DIR take the seven tools already built in DIR (for example
#                    target/debug, as the test suite does) instead of a
#                    release build; they are copied without debug info
#
# Environment:
#   DEBIAN_MIRROR           the Debian mirror (default: this host's apt
#                           sources' mirror for bookworm, read at run time)
#   DEBIAN_SECURITY_MIRROR  the same for bookworm-security (default: the
#                           host's, or none)
#   MP_IMAGE_CACHE          where the base rootfs is cached
#                           (default: cargo's target directory/image-cache)
#
# Needs root (debootstrap, chroot, buildah's storage); installs debootstrap
# and buildah with apt-get when they are missing. Prints the image's
# references on stdout (the <version> one first), its size on stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

tools=(milvus-dump milvus-load backup-verify s3-put s3-get s3-ls s3-rm)
suite=bookworm
name=milvus-pipes
output=
kubectl=
tools_from=
refresh=0
max_base_age_days=7

say() { echo "build-image: $*" >&2; }
die() {
    say "error: $*"
    exit 1
}
usage() { sed -n '2,/^set -euo pipefail/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
    case $1 in
    --name) name=${2:?--name needs a value}; shift 2 ;;
    --output) output=${2:?--output needs a directory}; shift 2 ;;
    --kubectl) kubectl=${2:?--kubectl needs a file}; shift 2 ;;
    --refresh) refresh=1; shift ;;
    --tools-from) tools_from=${2:?--tools-from needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument '$1' (--help lists them)" ;;
    esac
done
[[ -z $kubectl || -x $kubectl ]] || die "--kubectl $kubectl: not an executable file"
[[ $(id -u) -eq 0 ]] || die "run as root: debootstrap, chroot and buildah's image store need it"

# The tools are built here and run on the image's glibc (bookworm: 2.36);
# a newer host glibc would give binaries the image cannot load.
host_glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
if [[ $(printf '%s\n' "$host_glibc" 2.36 | sort -V | tail -n1) != 2.36 ]]; then
    die "this host has glibc $host_glibc, newer than Debian 12's 2.36: build on Debian 12 or with the Dockerfile"
fi

step_started=0
step() {
    step_started=$SECONDS
    say "$*"
}
step_done() { say "  done in $((SECONDS - step_started)) s"; }

# --- Tools this script drives.
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v buildah >/dev/null || missing+=(buildah)
if [[ ${#missing[@]} -gt 0 ]]; then
    step "installing ${missing[*]} (apt-get)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    step_done
fi

# --- The mirror: read from this host's apt sources at run time, never kept
# in the repository. deb822 (.sources) and one-line (.list) formats.
# host_mirror SUITE: the first enabled `deb` URI serving SUITE. (No `| head`
# here: under pipefail, a writer cut off by it fails the script.)
host_mirror() {
    local want=$1 file found
    for file in /etc/apt/sources.list.d/*.sources; do
        [[ -r $file ]] || continue
        found=$(awk -v want="$want" '
            function flush() {
                if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " want " ") && uris != "") {
                    split(uris, u, " "); print u[1]; done = 1; exit
                }
                types = ""; suites = ""; uris = ""; enabled = ""
            }
            /^[ \t]*$/ { flush(); next }
            /^#/ || /^[ \t]/ { next }
            {
                key = tolower($1); sub(/:$/, "", key)
                value = $0; sub(/^[^:]*:[ \t]*/, "", value)
                if (key == "types") types = value
                else if (key == "suites") suites = value
                else if (key == "uris") uris = value
                else if (key == "enabled") enabled = tolower(value)
            }
            END { if (!done) flush() }' "$file")
        [[ -z $found ]] || { printf '%s\n' "$found"; return; }
    done
    for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
        [[ -r $file ]] || continue
        found=$(awk -v want="$want" '{
                line = $0; gsub(/\[[^\]]*\]/, "", line); split(line, f, " ")
                if (f[1] == "deb" && f[3] == want) { print f[2]; exit }
            }' "$file")
        [[ -z $found ]] || { printf '%s\n' "$found"; return; }
    done
}
mirror=${DEBIAN_MIRROR:-$(host_mirror "$suite")}
security_mirror=${DEBIAN_SECURITY_MIRROR:-$(host_mirror "$suite-security")}
[[ -n $mirror ]] ||
    die "no Debian mirror for $suite in /etc/apt/sources.list or /etc/apt/sources.list.d/: set DEBIAN_MIRROR"

# --- 1. The tools, in release.
target_dir=$(cargo metadata --format-version 1 --no-deps --offline 2>/dev/null |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
[[ -n $target_dir ]] || target_dir=${CARGO_TARGET_DIR:-$root/target}
if [[ -n $tools_from ]]; then
    # Built already (the test suite's build): copied without their debug
    # info, which would make each tool hundreds of MB.
    step "the tools from $tools_from, without debug info"
    tools_dir=$target_dir/image-tools
    mkdir -p "$tools_dir"
    for tool in "${tools[@]}"; do
        [[ -x $tools_from/$tool ]] || die "--tools-from $tools_from: no $tool there (cargo build --bins first)"
        objcopy --strip-debug "$tools_from/$tool" "$tools_dir/$tool"
    done
else
    # The release profile keeps line tables for profiling; in the image they
    # would make each tool ~200 MB instead of ~30 (symbols stay: backtraces
    # still name functions). As in the Dockerfile.
    export CARGO_PROFILE_RELEASE_DEBUG=${CARGO_PROFILE_RELEASE_DEBUG:-false}
    step "cargo build --release --locked (${tools[*]}) into $target_dir/release"
    bin_args=()
    for tool in "${tools[@]}"; do bin_args+=(--bin "$tool"); done
    cargo build --release --locked "${bin_args[@]}"
    tools_dir=$target_dir/release
fi
step_done

version=$(git -C "$root" describe --tags --always --dirty 2>/dev/null || true)
revision=$(git -C "$root" rev-parse HEAD 2>/dev/null || true)
release=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version *= *"\(.*\)"/\1/p' Cargo.toml)
version=${version:-$release}

# --- 2. The Debian base, cached: rebuilt when its inputs change (mirror,
# image-rootfs.sh) or it is a week old.
cache=${MP_IMAGE_CACHE:-$target_dir/image-cache}
key=$(printf '%s\n' "$suite" "$mirror" "$security_mirror" "$(sha256sum scripts/lib/image-rootfs.sh)" |
    sha256sum | cut -c1-12)
rootfs=$cache/rootfs-$suite-$key
mkdir -p "$cache"

# unmount_under DIR: every mount below DIR, deepest first (a chroot left
# mounted by an interrupted run must never be removed with its mounts).
unmount_under() {
    local dir mnt
    dir=$(realpath -m "$1")
    while read -r mnt; do
        umount "$mnt" 2>/dev/null || umount -l "$mnt"
    done < <(awk '{print $2}' /proc/mounts | grep -E "^$dir(/|$)" | sort -r)
}
remove_tree() {
    [[ -e $1 ]] || return 0
    unmount_under "$1"
    rm -rf --one-file-system "$1"
}

if [[ -f $rootfs.done && $refresh -eq 0 && -z $(find "$rootfs.done" -mtime +"$max_base_age_days") ]]; then
    say "Debian base: cached $rootfs ($(date -u -r "$rootfs.done" +%Y-%m-%dT%H:%MZ))"
else
    step "Debian base: debootstrap --variant=minbase $suite into $rootfs"
    for old in "$cache"/rootfs-*; do remove_tree "$old"; done
    work=$rootfs.tmp
    cleanup_chroot() { unmount_under "$work"; }
    trap cleanup_chroot EXIT
    debootstrap --variant=minbase --components=main "$suite" "$work" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
        die "debootstrap failed: see $cache/debootstrap.log"
    # The image's apt sources: the same mirrors (what a FROM milvus-pipes
    # build on this network reaches), with updates and security fixes.
    rm -f "$work/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" "$suite" "$suite"
        if [[ -n $security_mirror ]]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$security_mirror" "$suite"
        fi
    } >"$work/etc/apt/sources.list.d/debian.sources"
    cp /etc/resolv.conf "$work/etc/resolv.conf"
    # No service starts from a package's postinst inside the chroot.
    printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
    chmod 0755 "$work/usr/sbin/policy-rc.d"
    cp scripts/lib/image-rootfs.sh "$work/tmp/image-rootfs.sh"
    mount -t proc proc "$work/proc"
    [[ -c $work/dev/null ]] || mount --bind /dev "$work/dev"
    proxy_env=()
    for var in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
        [[ -z ${!var:-} ]] || proxy_env+=("$var=${!var}")
    done
    chroot "$work" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "${proxy_env[@]}" \
        bash /tmp/image-rootfs.sh >"$cache/image-rootfs.log" 2>&1 ||
        die "image-rootfs.sh failed in the chroot: see $cache/image-rootfs.log"
    unmount_under "$work"
    trap - EXIT
    # What the chroot borrowed from this host, and what no image should hold.
    rm -f "$work/usr/sbin/policy-rc.d" "$work/tmp/image-rootfs.sh" "$work/etc/hostname"
    : >"$work/etc/resolv.conf"
    chmod 0644 "$work/etc/resolv.conf"
    printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$work/etc/hosts"
    find "$work/dev" "$work/proc" "$work/sys" "$work/run" "$work/tmp" "$work/var/tmp" -mindepth 1 -delete 2>/dev/null || true
    find "$work/var/log" -type f -delete
    rm -f "$work/var/cache/ldconfig/aux-cache" "$work/var/lib/dpkg/"*-old
    mv "$work" "$rootfs"
    touch "$rootfs.done"
    step_done
fi

# The base as an image (one layer) in buildah's store, once per rootfs built;
# older bases go (the images built on them keep their layers).
base_image=localhost/milvus-pipes-base:$suite-$key-$(date -u -r "$rootfs.done" +%Y%m%d%H%M%S)
if [[ -n $(buildah images --quiet "$base_image" 2>/dev/null) ]]; then
    say "base image: $base_image (cached)"
else
    step "base image: $base_image from $rootfs"
    ctr=$(buildah from --quiet scratch)
    mnt=$(buildah mount "$ctr")
    cp -a "$rootfs/." "$mnt/"
    buildah umount "$ctr" >/dev/null
    buildah commit --quiet --rm "$ctr" "$base_image" >/dev/null
    while read -r old; do
        [[ $old == "$base_image" ]] || buildah rmi "$old" >/dev/null 2>&1 || true
    done < <(buildah images --format '{{.Name}}:{{.Tag}}' --filter reference=localhost/milvus-pipes-base 2>/dev/null)
    step_done
fi

# --- 3. The image: the tools and scripts/ on the base, as the Dockerfile does.
step "image: $name:$version"
ctr=$(buildah from --quiet --pull=never "$base_image")
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
bins=()
for tool in "${tools[@]}"; do bins+=("$tools_dir/$tool"); done
buildah copy --quiet --chown 0:0 "$ctr" "${bins[@]}" /usr/local/bin/ >/dev/null
[[ -z $kubectl ]] || buildah copy --quiet --chown 0:0 --chmod 0755 "$ctr" "$kubectl" /usr/local/bin/kubectl >/dev/null
buildah copy --quiet --chown 0:0 "$ctr" scripts /opt/milvus-pipes/scripts >/dev/null
buildah config \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --user 65532:65532 --workingdir /home/milvus-pipes --cmd '["bash"]' \
    --label org.opencontainers.image.title=milvus-pipes \
    --label "org.opencontainers.image.description=Backup and restore tools for Milvus: milvus-dump, milvus-load, backup-verify, s3-put/-get/-ls/-rm and the scripts/ the CronJobs run" \
    --label org.opencontainers.image.licenses=Apache-2.0 \
    --label "org.opencontainers.image.version=$version" \
    --label "org.opencontainers.image.revision=$revision" \
    "$ctr"
previous=$(buildah images --quiet --no-trunc --filter reference="$name:latest" 2>/dev/null | awk 'NR == 1')
buildah commit --quiet --rm "$ctr" "$name:$version" >/dev/null
trap - EXIT
refs=("$name:$version")
for tag in "$release" latest; do
    [[ $tag == "$version" ]] && continue
    buildah tag "$name:$version" "$name:$tag"
    refs+=("$name:$tag")
done
# The image these tags named before, once no tag names it (a rebuild of
# the same revision), goes: rebuilds do not pile up untagged images.
if [[ -n $previous ]] && buildah images --quiet --no-trunc --filter dangling=true | grep -qx "$previous"; then
    buildah rmi "$previous" >/dev/null 2>&1 || true
fi
step_done

if [[ -n $output ]]; then
    step "output: $output/rootfs and $output/milvus-pipes-$version.oci.tar"
    mkdir -p "$output"
    remove_tree "$output/rootfs"
    ctr=$(buildah from --quiet --pull=never "$name:$version")
    mnt=$(buildah mount "$ctr")
    mkdir "$output/rootfs"
    cp -a "$mnt/." "$output/rootfs/"
    buildah umount "$ctr" >/dev/null
    buildah rm "$ctr" >/dev/null
    rm -f "$output/milvus-pipes-$version.oci.tar"
    buildah push --quiet "$name:$version" "oci-archive:$output/milvus-pipes-$version.oci.tar:$name:$version"
    say "  OCI archive (compressed layers): $(du -h "$output/milvus-pipes-$version.oci.tar" | cut -f1)"
    step_done
fi

size=$(buildah images --format '{{.Size}}' "$name:$version" | awk 'NR == 1')
say "built ${refs[*]}: $size uncompressed (tools $(du -ch "${bins[@]}" | tail -n1 | cut -f1), in $SECONDS s)"
printf '%s\n' "${refs[@]}"
