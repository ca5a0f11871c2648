#!/usr/bin/env bash
# S3 API benchmark (issue 4): PUT and GET of 4 KiB and 64 MiB objects at
# concurrency 1 and 16, and ListObjectsV2 pages over a bucket of 100,000
# keys, printed beside the machine's MD5 and SHA-256 throughput measured in
# the same run (a PUT computes both: MD5 for the ETag, SHA-256 to name the
# blob, so their combined speed bounds a large PUT).
#
# What it does, in one temporary directory removed on exit:
#   1. builds arca and bench/s3bench (AWS SDK for Go v2 client);
#   2. starts arca on free loopback ports with a fresh data directory
#      (SQLite and the filesystem blob driver, the defaults) and a key pair;
#   3. runs s3bench: hash throughput; 4 KiB PUT/GET for BENCH_SMALL_SECONDS
#      each; BENCH_BIG_COUNT 64 MiB PUTs and GETs at each concurrency; fills
#      a bucket with BENCH_LIST_KEYS keys (CopyObject: rows, no new bytes)
#      and times ListObjectsV2 pages.
# The client signs with UNSIGNED-PAYLOAD and sends no checksums, so the
# figures are the server's; client and server share the machine's cores.
# No other S3 server is packaged for this machine (MinIO is not in Debian),
# so no ratio to one is printed; set BENCH_OTHER_ENDPOINT (with
# BENCH_OTHER_KEY, BENCH_OTHER_SECRET) to measure another server the same way.
#
# Usage: bench/s3.sh
# Environment: BENCH_SMALL_SECONDS (default 5), BENCH_BIG_COUNT (default 16),
#   BENCH_LIST_KEYS (default 100000), BENCH_DIR (parent of the temporary
#   directory; default $TMPDIR or /tmp).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
SMALL="${BENCH_SMALL_SECONDS:-5}"
BIG="${BENCH_BIG_COUNT:-16}"
KEYS="${BENCH_LIST_KEYS:-100000}"

die() { printf 's3.sh: error: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null 2>&1 || die "go is required"
mkdir -p "$PARENT"
WORK="$(mktemp -d "$PARENT/arca-s3bench.XXXXXX")"
ARCA_PID=""
cleanup() {
    if [[ -n "$ARCA_PID" ]]; then
        kill "$ARCA_PID" 2>/dev/null || true
        wait "$ARCA_PID" 2>/dev/null || true
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca && go build -o "$WORK/s3bench" ./bench/s3bench) || die "build failed"

KEY=benchkey SECRET="bench-secret-$RANDOM$RANDOM"
HTTP_PORT=$("$WORK/s3bench" -free-port) S3_PORT=$("$WORK/s3bench" -free-port)
ARCA_ADDR="127.0.0.1:$HTTP_PORT" ARCA_S3_ADDR="127.0.0.1:$S3_PORT" ARCA_DATA_DIR="$WORK/data" ARCA_ADMIN_PASSWORD=bench-admin-pw \
    ARCA_S3_ACCESS_KEY="$KEY" ARCA_S3_SECRET_KEY="$SECRET" ARCA_LOG_LEVEL=warn ARCA_LOG_FORMAT=text \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
URL="http://127.0.0.1:$S3_PORT"
for _ in $(seq 100); do
    kill -0 "$ARCA_PID" 2>/dev/null || { cat "$WORK/arca.log" >&2; die "arca exited"; }
    curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/readyz" && curl -s -o /dev/null "$URL/" && break
    sleep 0.1
done

echo "## S3 benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "- $(go version | cut -d' ' -f3-); arca $("$WORK/arca" version 2>/dev/null | cut -d' ' -f2); SQLite + filesystem blobs under $PARENT ($(df -T "$PARENT" | awk 'NR==2 {print $2}'))"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
"$WORK/s3bench" -endpoint "$URL" -key "$KEY" -secret "$SECRET" -small-duration "${SMALL}s" -big-count "$BIG" -list-keys "$KEYS"
if [[ -n "${BENCH_OTHER_ENDPOINT:-}" ]]; then
    echo
    "$WORK/s3bench" -label other -endpoint "$BENCH_OTHER_ENDPOINT" -key "$BENCH_OTHER_KEY" -secret "$BENCH_OTHER_SECRET" \
        -small-duration "${SMALL}s" -big-count "$BIG" -list-keys "$KEYS"
fi
echo
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
