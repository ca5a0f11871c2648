#!/usr/bin/env bash
# System calls per small write (issue 25): counts, with strace, the fsync,
# fdatasync, write and other calls an arca binary makes for N S3 PUTs of
# 4 KiB objects and for N OCI manifest PUTs, then divides by N. The counts
# do not depend on the machine's load, unlike timings, so they compare
# builds on a busy machine. The Go runtime's own calls (nanosleep from
# sysmon, futex, epoll) are left out: they follow the load, not the work.
#
# Usage: bench/syscalls.sh [ARCA_BINARY]   (default: builds the working tree)
# Environment: BENCH_N (200), BENCH_CONCURRENCY (16), BENCH_DIR (parent of
#   the temporary directory; default $TMPDIR or /tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N="${BENCH_N:-200}"
C="${BENCH_CONCURRENCY:-16}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
die() { printf 'syscalls.sh: error: %s\n' "$*" >&2; exit 1; }
for tool in go curl strace; do command -v "$tool" >/dev/null 2>&1 || die "$tool is required"; done
mkdir -p "$PARENT"
WORK="$(mktemp -d "$PARENT/arca-syscalls.XXXXXX")"
ARCA_PID="" STRACE_PID=""
cleanup() {
    [[ -n "$STRACE_PID" ]] && kill -INT "$STRACE_PID" 2>/dev/null || true
    [[ -n "$ARCA_PID" ]] && { kill "$ARCA_PID" 2>/dev/null || true; wait "$ARCA_PID" 2>/dev/null || true; }
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ARCA="${1:-}"
if [[ -z "$ARCA" ]]; then
    (cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca) || die "build failed"
    ARCA="$WORK/arca"
fi
(cd "$ROOT" && go build -o "$WORK/s3bench" ./bench/s3bench && go build -o "$WORK/ocibench" ./bench/ocibench) || die "build failed"

KEY=benchkey SECRET="bench-secret-$RANDOM$RANDOM" PASSWORD="bench-$RANDOM-$RANDOM"
HTTP_PORT=$("$WORK/s3bench" -free-port) S3_PORT=$("$WORK/s3bench" -free-port)
ARCA_ADDR="127.0.0.1:$HTTP_PORT" ARCA_S3_ADDR="127.0.0.1:$S3_PORT" ARCA_DATA_DIR="$WORK/data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    ARCA_S3_ACCESS_KEY="$KEY" ARCA_S3_SECRET_KEY="$SECRET" ARCA_LOG_LEVEL=warn ARCA_LOG_FORMAT=text \
    "$ARCA" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
for _ in $(seq 200); do
    kill -0 "$ARCA_PID" 2>/dev/null || { cat "$WORK/arca.log" >&2; die "arca exited"; }
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" && curl -s -o /dev/null "http://127.0.0.1:$S3_PORT/" && break
    sleep 0.1
done
# One warm-up round of each, so that first-use work (bucket, repository,
# shard directories, prepared statements) is not counted.
"$WORK/s3bench" -endpoint "http://127.0.0.1:$S3_PORT" -key "$KEY" -secret "$SECRET" -only-small 20 -only-small-get=false -concurrency "$C" >/dev/null
OCIBENCH_PASSWORD="$PASSWORD" "$WORK/ocibench" run -url "http://127.0.0.1:$HTTP_PORT" -user admin -repo library/warm \
    -large-count 0 -small-count 0 -manifests 20 -manifest-concurrency "$C" -sync=false >/dev/null

count() { # count NAME COMMAND...: strace the server while COMMAND runs
    local name=$1; shift
    strace -f -c -U name,calls -o "$WORK/$name.strace" -p "$ARCA_PID" 2>/dev/null &
    STRACE_PID=$!
    sleep 1
    "$@" >"$WORK/$name.out"
    sleep 0.5
    kill -INT "$STRACE_PID"; wait "$STRACE_PID" 2>/dev/null || true; STRACE_PID=""
    printf '\n%s: %d requests at concurrency %d\n\n| system call | calls | per request |\n|---|---:|---:|\n' "$name" "$N" "$C"
    awk -v n="$N" '$1 ~ /^(fsync|fdatasync|sync_file_range|write|pwrite64|read|pread64|openat|renameat|rename|unlinkat|flock|fstat|newfstatat|mkdirat|sendfile)$/ { printf "| %s | %d | %.2f |\n", $1, $2, $2 / n }' "$WORK/$name.strace"
}
echo "## System calls per small write: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- arca: $("$ARCA" version 2>/dev/null | head -n1); data directory on $(df -PT "$WORK" | awk 'NR==2 {print $2}'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
count "S3 PUT 4 KiB" "$WORK/s3bench" -endpoint "http://127.0.0.1:$S3_PORT" -key "$KEY" -secret "$SECRET" -only-small "$N" -only-small-get=false -concurrency "$C"
count "OCI manifest PUT then GET (one of each per request)" env OCIBENCH_PASSWORD="$PASSWORD" "$WORK/ocibench" run -url "http://127.0.0.1:$HTTP_PORT" -user admin -repo library/count \
    -large-count 0 -small-count 0 -manifests "$N" -manifest-concurrency "$C" -sync=false
