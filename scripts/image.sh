#!/usr/bin/env bash
# Builds arca's container image without a Docker daemon and pushes it:
# a multi-architecture OCI index (linux/amd64 and linux/arm64 by default)
# whose images are one layer each — the static binary, CA certificates
# from this machine's ca-certificates package, /data and /tmp — on an
# empty base, run as user 65532. The same image the Dockerfile describes.
#
# Usage: scripts/image.sh REF
#   REF         where to push, e.g. registry.example.com/team/arca:1.0.0
# Environment:
#   PLATFORMS   space-separated GOARCH values (default "amd64 arm64")
#   CRANE       the crane binary (default: $ARCA_TOOLS_BIN/crane, then PATH)
#   CRANE_FLAGS extra crane flags, e.g. --insecure for a plain-HTTP registry
#
# crane reads credentials from the Docker config (crane auth login HOST).
# scripts/install-oci-clients.sh installs crane.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REF="${1:?usage: scripts/image.sh REF}"
PLATFORMS="${PLATFORMS:-amd64 arm64}"
CA="/etc/ssl/certs/ca-certificates.crt"
CRANE="${CRANE:-}"
if [[ -z "$CRANE" ]]; then
    if [[ -n "${ARCA_TOOLS_BIN:-}" && -x "$ARCA_TOOLS_BIN/crane" ]]; then
        CRANE="$ARCA_TOOLS_BIN/crane"
    else
        CRANE="$(command -v crane || true)"
    fi
fi
[[ -x "$CRANE" ]] || { echo "image.sh: crane not found (scripts/install-oci-clients.sh installs it)" >&2; exit 1; }
[[ -r "$CA" ]] || { echo "image.sh: $CA missing (apt-get install ca-certificates)" >&2; exit 1; }
read -r -a FLAGS <<< "${CRANE_FLAGS:-}"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
# Every file in the layer has a fixed time, so a rebuild of the same
# source makes the same layer.
EPOCH=0

manifests=()
for arch in $PLATFORMS; do
    rootfs="$WORK/$arch/rootfs"
    mkdir -p "$rootfs/usr/local/bin" "$rootfs/etc/ssl/certs" "$rootfs/data" "$rootfs/tmp"
    (cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" go build -trimpath -ldflags="-s -w" \
        -o "$rootfs/usr/local/bin/arca" ./cmd/arca)
    cp "$CA" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    printf 'arca:x:65532:65532:arca:/data:/sbin/nologin\n' > "$rootfs/etc/passwd"
    printf 'arca:x:65532:\n' > "$rootfs/etc/group"
    chmod 0755 "$rootfs/usr/local/bin/arca"
    chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    chmod 0750 "$rootfs/data"
    chmod 1777 "$rootfs/tmp"
    layer="$WORK/$arch/layer.tar"
    tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner -C "$rootfs" \
        -cf "$layer" ./etc ./tmp ./usr
    tar --sort=name --mtime="@$EPOCH" --owner=65532 --group=65532 --numeric-owner -C "$rootfs" \
        -rf "$layer" ./data
    tag="$REF-$arch"
    "$CRANE" append "${FLAGS[@]}" --oci-empty-base -f "$layer" -t "$tag" >/dev/null
    digest="$("$CRANE" mutate "${FLAGS[@]}" "$tag" --set-platform "linux/$arch" \
        --entrypoint /usr/local/bin/arca --cmd serve --user 65532:65532 \
        -e ARCA_DATA_DIR=/data -e ARCA_ADDR=:8080 -e ARCA_S3_ADDR=:9000 -e ARCA_LOG_FORMAT=json \
        --exposed-ports 8080/tcp,9000/tcp -t "$tag")"
    echo "image.sh: linux/$arch: $digest ($(stat -c %s "$rootfs/usr/local/bin/arca") bytes of binary)" >&2
    manifests+=(-m "$digest")
done
"$CRANE" index append "${FLAGS[@]}" "${manifests[@]}" -t "$REF" >/dev/null
"$CRANE" digest "${FLAGS[@]}" "$REF"
