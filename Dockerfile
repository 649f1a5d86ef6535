# syntax=docker/dockerfile:1
# The milvus-pipes image the k8s/ CronJobs run: the seven tools in
# /usr/local/bin, this repository's scripts/ in /opt/milvus-pipes/scripts,
# bash, coreutils, curl, zstd and CA certificates on Debian 12, running as
# uid 65532.
#
#   docker build -t registry.example.com/milvus-pipes:0.1.0 .
#   docker build --build-arg KUBECTL_VERSION=v1.30.4 -t ... .   # with kubectl, for snapshot.sh
#
# Without access to a registry (no base image to pull), scripts/build-image.sh
# builds the same layout from Debian packages alone.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
# Builders that write OCI-format images (podman/buildah build) ignore SHELL:
# the RUN steps also say `set -eu` themselves.
SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]
WORKDIR /src
COPY . .
# The release profile keeps line tables for profiling; in the image they
# would make each tool ~200 MB instead of ~30 (symbols stay: backtraces
# still name functions).
ENV CARGO_PROFILE_RELEASE_DEBUG=false
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    set -eu; \
    cargo build --release --locked --bin milvus-dump --bin milvus-load --bin backup-verify \
        --bin s3-put --bin s3-get --bin s3-ls --bin s3-rm; \
    mkdir /out; \
    for bin in milvus-dump milvus-load backup-verify s3-put s3-get s3-ls s3-rm; do \
        cp "target/release/$bin" /out/; \
    done

FROM docker.io/library/debian:bookworm-slim
SHELL ["/bin/bash", "-eu", "-o", "pipefail", "-c"]
COPY scripts/lib/image-rootfs.sh /tmp/image-rootfs.sh
RUN bash /tmp/image-rootfs.sh && rm /tmp/image-rootfs.sh

# kubectl, for snapshot.sh only: not installed unless asked for
# (--build-arg KUBECTL_VERSION=v1.30.4, within one minor version of the cluster).
ARG KUBECTL_VERSION=
RUN set -eu; \
    if [ -n "$KUBECTL_VERSION" ]; then \
        url="https://dl.k8s.io/release/$KUBECTL_VERSION/bin/linux/$(dpkg --print-architecture)/kubectl"; \
        curl -fsSL -o /usr/local/bin/kubectl "$url"; \
        sum=$(curl -fsSL "$url.sha256"); \
        echo "$sum  /usr/local/bin/kubectl" | sha256sum -c -; \
        chmod 0755 /usr/local/bin/kubectl; \
    fi

COPY --from=build /out/ /usr/local/bin/
COPY scripts/ /opt/milvus-pipes/scripts/

USER 65532:65532
WORKDIR /home/milvus-pipes
LABEL org.opencontainers.image.title="milvus-pipes" \
      org.opencontainers.image.description="Backup and restore tools for Milvus: milvus-dump, milvus-load, backup-verify, s3-put/-get/-ls/-rm and the scripts/ the CronJobs run" \
      org.opencontainers.image.licenses="Apache-2.0"
CMD ["bash"]
