#!/usr/bin/env bash
# image-rootfs.sh — the runtime part of the milvus-pipes image, run as root
# INSIDE a Debian 12 (bookworm) root filesystem: by the Dockerfile on
# debian:bookworm-slim, and by scripts/build-image.sh in a chroot of a
# debootstrapped one. One script, so both images hold the same packages, the
# same user and the same slimming.
#
# What the scripts need at run time: bash and GNU coreutils (date -d), awk,
# sed, grep (already in any Debian base), curl (Pushgateway), zstd (pipelines
# an operator types into a pod), ca-certificates (https to S3 and Milvus).
# kubectl, for snapshot.sh only, is not installed here (see the Dockerfile).
set -euo pipefail

packages=(bash coreutils curl zstd ca-certificates)
uid=65532 # the CronJobs' runAsUser (k8s/*.yaml): distroless's "nonroot"

[[ $(id -u) -eq 0 ]] || {
    echo "image-rootfs.sh: run as root inside the image's root filesystem" >&2
    exit 1
}
[[ -r /etc/debian_version && $(cut -d. -f1 /etc/debian_version) == 12 ]] || {
    echo "image-rootfs.sh: expects Debian 12 (bookworm), found $(cat /etc/debian_version 2>/dev/null || echo 'no /etc/debian_version')" >&2
    exit 1
}

# As debian:bookworm-slim does: packages installed now or later (FROM this
# image) bring no docs, man pages or translations; copyright files stay.
cat >/etc/dpkg/dpkg.cfg.d/01-milvus-pipes-slim <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Security fixes the base (a slim image's last rebuild, or debootstrap, which
# reads the release suite only) does not have yet.
apt-get upgrade -y -qq --no-install-recommends
apt-get install -y -qq --no-install-recommends "${packages[@]}"
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/apt/* /var/log/dpkg.log /var/log/alternatives.log

# What the base held before the exclusions above applied (debootstrap).
find /usr/share/doc -mindepth 1 -not -type d -not -name copyright -delete
find /usr/share/doc -mindepth 1 -type d -empty -delete
rm -rf /usr/share/man/* /usr/share/groff/* /usr/share/info/* /usr/share/locale/* /usr/share/lintian/* /usr/share/linda/*

# The user the image runs as. A home it can write: backup.sh's default
# BACKUP_URL is ./backups.
if ! getent passwd "$uid" >/dev/null; then
    groupadd --gid "$uid" milvus-pipes
    useradd --uid "$uid" --gid "$uid" --no-log-init --create-home --home-dir /home/milvus-pipes \
        --shell /bin/bash milvus-pipes
fi
