#!/usr/bin/env bash
# Go module proxy benchmark (issue 15): the time of `go mod download` of
# arca's own module graph (its go.mod and go.sum: about 130 modules)
# through an arca proxy that already caches them ("warm") against the
# same command with the upstream GOPROXY directly, in the same run.
#
# The upstream is the first HTTP(S) proxy of this machine's `go env GOPROXY`.
# The proxy repository is public, so the go command reaches it over plain
# HTTP without credentials (it sends credentials over HTTPS only).
# Athens, the peer the issue names, is not served by the module proxy
# this machine reaches, so it is not measured.
#
# What it does, in one temporary directory removed on exit:
#   1. builds arca and starts it (SQLite, filesystem blobs) on a free
#      loopback port, and creates a public proxy repository of the upstream;
#   2. downloads the module graph once through arca to fill its cache;
#   3. BENCH_ROUNDS times (ABBA order), downloads it with an empty module
#      cache through arca and directly;
#   4. prints the machine, the module count and a Markdown table of
#      medians with the ratio.
#
# Usage: bench/go.sh          Environment: BENCH_ROUNDS (3), BENCH_DIR
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${BENCH_ROUNDS:-3}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
die() { printf 'go.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
for tool in go curl python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

UPSTREAM=""
IFS=',|' read -ra proxies <<<"$(go env GOPROXY)"
for p in "${proxies[@]}"; do
    case "$p" in http://* | https://*) UPSTREAM="$p"; break ;; esac
done
[[ -n "$UPSTREAM" ]] || die "go env GOPROXY names no HTTP proxy"

mkdir -p "$PARENT"
WORK="$(mktemp -d "$PARENT/arca-gobench.XXXXXX")"
ARCA_PID=""
cleanup() {
    [[ -n "$ARCA_PID" ]] && { kill "$ARCA_PID" 2>/dev/null || true; wait "$ARCA_PID" 2>/dev/null || true; }
    chmod -R u+w "$WORK" 2>/dev/null || true # the module cache is read-only
    rm -rf "$WORK"
}
trap cleanup EXIT

log "building arca"
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca)
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
S3PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PW="bench-admin-password-1"
ARCA_DATA_DIR="$WORK/data" ARCA_ADDR="127.0.0.1:$PORT" ARCA_S3_ADDR="127.0.0.1:$S3PORT" ARCA_ADMIN_PASSWORD="$PW" \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
URL="http://127.0.0.1:$PORT"
for _ in $(seq 100); do curl -fs "$URL/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs "$URL/readyz" >/dev/null || die "arca did not start: $(tail -5 "$WORK/arca.log")"
curl -fsS -u "admin:$PW" -X POST "$URL/api/v1/repositories" -o /dev/null \
    -d "{\"name\":\"go-up\",\"format\":\"go\",\"kind\":\"proxy\",\"visibility\":\"public\",\"settings\":{\"upstream\":{\"url\":\"$UPSTREAM\"}}}"

mkdir -p "$WORK/project"
cp "$ROOT/go.mod" "$ROOT/go.sum" "$WORK/project/"
download() { # download GOPROXY: seconds of one go mod download with an empty module cache
    chmod -R u+w "$WORK/modcache" 2>/dev/null || true
    rm -rf "$WORK/modcache"
    local t0 t1
    t0="$(date +%s.%N)"
    (cd "$WORK/project" && env GOPROXY="$1" GOMODCACHE="$WORK/modcache" GOFLAGS=-mod=mod GONOSUMDB= GOPRIVATE= \
        GONOPROXY= GOENV=off GOTOOLCHAIN=local go mod download >"$WORK/go.log" 2>&1) ||
        die "go mod download failed through $1: $(tail -20 "$WORK/go.log")"
    t1="$(date +%s.%N)"
    python3 -c "print(f'{$t1 - $t0:.1f}')"
}

log "warming arca's cache"
download "$URL/go/go-up" >/dev/null
COUNT="$(find "$WORK/modcache/cache/download" -name '*.zip' | wc -l)"
BYTES="$(find "$WORK/modcache/cache/download" -name '*.zip' -printf '%s\n' | awk '{s+=$1} END {printf "%.0f MiB", s/1048576}')"
arca=() direct=()
for r in $(seq "$ROUNDS"); do
    if ((r % 2)); then
        arca+=("$(download "$URL/go/go-up")"); direct+=("$(download "$UPSTREAM")")
    else
        direct+=("$(download "$UPSTREAM")"); arca+=("$(download "$URL/go/go-up")")
    fi
    log "round $r: arca ${arca[-1]} s, direct ${direct[-1]} s"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
A="$(median "${arca[@]}")"; D="$(median "${direct[@]}")"
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo) RAM; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- software: $(go version | cut -d' ' -f3); arca with SQLite metadata and the filesystem blob driver"
echo "- project: arca's go.mod: $COUNT module zips ($BYTES) downloaded"
echo
echo "| go mod download, empty module cache | arca proxy (warm) | upstream directly | arca / upstream |"
echo "|---|---:|---:|---:|"
printf '| median of %d, seconds (runs: arca %s; upstream %s) | %.2f | %.2f | %.2f |\n' "$ROUNDS" "${arca[*]}" "${direct[*]}" "$A" "$D" "$(python3 -c "print($A/$D)")"
