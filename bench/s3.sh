#!/usr/bin/env bash
# S3 API benchmark (issues 4, 20 and 25): PUT and GET of 4 KiB and 64 MiB
# objects at concurrency 1 and 16, and ListObjectsV2 pages over a bucket of
# 100,000 keys, on arca and, side by side on the same machine, disk, client,
# sizes and concurrency, on MinIO and SeaweedFS's S3 gateway, in
# interleaved rounds; printed beside the machine's MD5 and SHA-256
# throughput measured in the same run (a PUT computes both: MD5 for the
# ETag, SHA-256 to name the blob, so their speed bounds a large PUT).
#
# What it does, in one temporary directory removed on exit:
#   1. builds arca and bench/s3bench (AWS SDK for Go v2 client); installs
#      the peers with `go install` into .cache/bench/bin of the checkout
#      (once; MinIO at BENCH_MINIO_VERSION, SeaweedFS at
#      BENCH_SEAWEEDFS_VERSION), a peer that does not install is left out;
#   2. starts arca on free loopback ports with a fresh data directory
#      (SQLite and the filesystem blob driver, the defaults) and a key pair,
#      MinIO (`minio server`, one drive) and SeaweedFS (`weed server -s3`,
#      master, volume and filer in one process) with fresh directories on
#      the same filesystem and the same key pair;
#   3. runs s3bench against each server, BENCH_ROUNDS times, rotating the
#      order every round so that no server always runs first or last: 4 KiB
#      PUT/GET for BENCH_SMALL_SECONDS each; BENCH_BIG_COUNT 64 MiB PUTs and
#      GETs at each concurrency; in the first round also a bucket of
#      BENCH_LIST_KEYS keys (CopyObject: rows, no new bytes) and
#      ListObjectsV2 pages;
#   4. prints a table of medians with arca's figure, each peer's and the
#      ratio (above 1: arca is better), and the load average at the start
#      and the end.
# The client signs with UNSIGNED-PAYLOAD and sends no checksums, so the
# figures are the servers'; client and servers share the machine's cores.
#
# Usage: bench/s3.sh
# Environment: BENCH_SMALL_SECONDS (5), BENCH_BIG_COUNT (16),
#   BENCH_LIST_KEYS (100000), BENCH_ROUNDS (3), BENCH_PEERS ("minio
#   seaweedfs"; "" for arca alone), BENCH_MINIO_VERSION (latest),
#   BENCH_SEAWEEDFS_VERSION (latest), BENCH_DIR (parent of the temporary
#   directory; default $TMPDIR or /tmp), BENCH_OTHER_ENDPOINT (with
#   BENCH_OTHER_KEY, BENCH_OTHER_SECRET: one more S3 server, already running).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
SMALL="${BENCH_SMALL_SECONDS:-5}"
BIG="${BENCH_BIG_COUNT:-16}"
KEYS="${BENCH_LIST_KEYS:-100000}"
ROUNDS="${BENCH_ROUNDS:-3}"
PEERS="${BENCH_PEERS-minio seaweedfs}"
BIN="$ROOT/.cache/bench/bin"

die() { printf 's3.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
command -v go >/dev/null 2>&1 || die "go is required"
command -v curl >/dev/null 2>&1 || die "curl is required"
mkdir -p "$PARENT" "$BIN"
WORK="$(mktemp -d "$PARENT/arca-s3bench.XXXXXX")"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
    rm -rf -- "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building arca and s3bench in $WORK ..."
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca && go build -o "$WORK/s3bench" ./bench/s3bench) || die "build failed"
SB="$WORK/s3bench"

# install NAME BINARY PACKAGE@VERSION: go install into $BIN once.
install() {
    [[ -x "$BIN/$2" ]] && return 0
    log "installing $1 ($3) into $BIN with go install (once) ..."
    GOBIN="$BIN" go install "$3" >"$WORK/install-$1.log" 2>&1 || {
        log "$1 did not install (see below); it is left out"
        tail -n 5 "$WORK/install-$1.log" >&2
        return 1
    }
}

# install_weed VERSION: SeaweedFS's go.mod has replace directives, which
# go install refuses; then the module is fetched with go mod download and
# built inside it (where they apply), once.
install_weed() {
    [[ -x "$BIN/weed" ]] && return 0
    install seaweedfs weed "github.com/seaweedfs/seaweedfs/weed@$1" 2>/dev/null && return 0
    log "building SeaweedFS ($1) from its module into $BIN (once; go install refuses its replace directives) ..."
    local dir
    dir="$(go mod download -json "github.com/seaweedfs/seaweedfs@$1" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')"
    [[ -n "$dir" ]] && (cd "$dir" && go build -o "$BIN/weed" ./weed) >>"$WORK/install-seaweedfs.log" 2>&1 || {
        log "SeaweedFS did not build; it is left out"
        tail -n 5 "$WORK/install-seaweedfs.log" >&2
        return 1
    }
}

KEY=benchkey SECRET="bench-secret-$RANDOM$RANDOM"
wait_up() { # wait_up URL PID NAME
    local deadline=$((SECONDS + 120))
    until curl -s -o /dev/null "$1"; do
        kill -0 "$2" 2>/dev/null || die "$3 exited before it became ready (log: $WORK/$3.log)"
        ((SECONDS < deadline)) || die "$3 did not become ready within 120s"
        sleep 0.1
    done
}

SERVERS=() URLS=()
HTTP_PORT=$("$SB" -free-port) S3_PORT=$("$SB" -free-port)
ARCA_ADDR="127.0.0.1:$HTTP_PORT" ARCA_S3_ADDR="127.0.0.1:$S3_PORT" ARCA_DATA_DIR="$WORK/arca-data" ARCA_ADMIN_PASSWORD=bench-admin-pw \
    ARCA_S3_ACCESS_KEY="$KEY" ARCA_S3_SECRET_KEY="$SECRET" ARCA_LOG_LEVEL=warn ARCA_LOG_FORMAT=text \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
PIDS+=($!)
wait_up "http://127.0.0.1:$HTTP_PORT/readyz" "$!" arca
SERVERS+=(arca) URLS+=("http://127.0.0.1:$S3_PORT")
VERSIONS="arca $("$WORK/arca" version 2>/dev/null | cut -d' ' -f2)"

for peer in $PEERS; do
    case "$peer" in
    minio)
        install minio minio "github.com/minio/minio@${BENCH_MINIO_VERSION:-latest}" || continue
        port=$("$SB" -free-port) console=$("$SB" -free-port)
        mkdir -p "$WORK/minio-data"
        MINIO_ROOT_USER="$KEY" MINIO_ROOT_PASSWORD="$SECRET" MINIO_BROWSER=off MINIO_UPDATE=off \
            "$BIN/minio" server "$WORK/minio-data" --address "127.0.0.1:$port" --console-address "127.0.0.1:$console" --quiet \
            >"$WORK/minio.log" 2>&1 &
        PIDS+=($!)
        wait_up "http://127.0.0.1:$port/minio/health/live" "$!" minio
        SERVERS+=(minio) URLS+=("http://127.0.0.1:$port")
        VERSIONS+=", minio $("$BIN/minio" --version 2>/dev/null | head -n1 | awk '{print $3}')"
        ;;
    seaweedfs)
        install_weed "${BENCH_SEAWEEDFS_VERSION:-latest}" || continue
        s3=$("$SB" -free-port) master=$("$SB" -free-port) volume=$("$SB" -free-port) filer=$("$SB" -free-port)
        mkdir -p "$WORK/weed-data"
        cat >"$WORK/weed-s3.json" <<EOF
{"identities": [{"name": "bench", "credentials": [{"accessKey": "$KEY", "secretKey": "$SECRET"}], "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}
EOF
        "$BIN/weed" server -ip=127.0.0.1 -ip.bind=127.0.0.1 -dir="$WORK/weed-data" \
            -master.port="$master" -master.port.grpc=$((master + 10000)) \
            -volume.port="$volume" -volume.port.grpc=$((volume + 10000)) \
            -filer -filer.port="$filer" -filer.port.grpc=$((filer + 10000)) \
            -volume.max=64 -master.volumeSizeLimitMB=1024 -s3 -s3.port="$s3" -s3.config="$WORK/weed-s3.json" >"$WORK/seaweedfs.log" 2>&1 &
        PIDS+=($!)
        wait_up "http://127.0.0.1:$s3/" "$!" seaweedfs
        SERVERS+=(seaweedfs) URLS+=("http://127.0.0.1:$s3")
        VERSIONS+=", seaweedfs $("$BIN/weed" version 2>/dev/null | head -n1 | awk '{print $3}')"
        ;;
    *) die "unknown peer '$peer' (want minio, seaweedfs)" ;;
    esac
done
if [[ -n "${BENCH_OTHER_ENDPOINT:-}" ]]; then
    SERVERS+=(other) URLS+=("$BENCH_OTHER_ENDPOINT")
fi

echo "## S3 benchmark: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/ {print $2}') GiB RAM, $(uname -sr)"
echo "- $(go version | cut -d' ' -f3-); $VERSIONS; data directories under $PARENT ($(df -T "$PARENT" | awk 'NR==2 {print $2}'))"
echo "- rounds: $ROUNDS, the order of the servers rotated each round; 4 KiB for ${SMALL}s per measurement, $BIG x 64 MiB; listing over $KEYS keys (first round)"
echo "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
REPORT=()
declare -A FAILED=() # a peer whose run failed is left out of the later rounds
n=${#SERVERS[@]}
for ((r = 0; r < ROUNDS; r++)); do
    for ((i = 0; i < n; i++)); do
        j=$(((i + r) % n))
        name=${SERVERS[$j]} url=${URLS[$j]} key=$KEY secret=$SECRET
        [[ -z "${FAILED[$name]:-}" ]] || continue
        if [[ "$name" == other ]]; then key=$BENCH_OTHER_KEY secret=$BENCH_OTHER_SECRET; fi
        args=(-label "$name" -endpoint "$url" -key "$key" -secret "$secret" -bucket "bench-r$r"
            -small-duration "${SMALL}s" -big-count "$BIG" -list-keys "$KEYS" -json "$WORK/$name-$r.json")
        ((r == 0)) || args+=(-no-listing)
        log "round $((r + 1)): $name (load $(cut -d' ' -f1 /proc/loadavg)) ..."
        sync
        if ! "$SB" "${args[@]}" >"$WORK/$name-$r.md"; then
            [[ "$name" != arca ]] || die "s3bench failed against arca (log: $WORK/arca.log)"
            FAILED[$name]=1
            log "s3bench failed against $name; it is left out from here on (its log's end:)"
            tail -n 5 "$WORK/$name.log" >&2 || true
            continue
        fi
        REPORT+=("$name:$WORK/$name-$r.json")
    done
done
# arca first in the report, then the peers in the order they started.
ORDERED=()
for name in "${SERVERS[@]}"; do
    for item in "${REPORT[@]}"; do
        [[ "${item%%:*}" == "$name" ]] && ORDERED+=("$item")
    done
done
sed -n '1,5p' "$WORK/arca-0.md" # the hash rates of this machine
echo
(IFS=,; "$SB" -report "${ORDERED[*]}")
echo
for name in "${!FAILED[@]}"; do echo "- $name failed a run (an error the client could not retry past) and was left out of the later rounds"; done
echo "- load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
