#!/usr/bin/env bash
# Cold start (issue 25): time from exec to the first answer of GET /v2/ on
# an existing data directory, arca beside distribution v3 (and Debian's
# docker-registry 2.8 when installed), in interleaved runs on the same
# machine. The first answer is any HTTP status: arca answers 401 to a
# request without credentials, the registries (run without auth, with the
# configuration bench/oci.sh gives them) 200. A second arca line waits for
# the first 200 to the admin's Basic credentials, which includes verifying
# the argon2id password hash. arca's data directory is made by a first
# start (migrations, the admin, the default repositories, the KEK); the
# clock runs on the later starts, as at a restart.
#
# Usage: bench/coldstart.sh
# Environment: BENCH_RUNS (20: starts of each server), BENCH_DIR (parent of
#   the temporary directory), BENCH_V3_VERSION (v3.1.2; installed once
#   with go install into .cache/bench/bin, as bench/oci.sh does).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS="${BENCH_RUNS:-20}"
V3_VERSION="${BENCH_V3_VERSION:-v3.1.2}"
BIN="$ROOT/.cache/bench/bin"
die() { printf 'coldstart.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
WORK="$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/arca-coldstart.XXXXXX")"
trap 'rm -rf -- "$WORK"' EXIT
log "building arca, coldstart and ocibench in $WORK ..."
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca && go build -o "$WORK/coldstart" ./bench/coldstart &&
    go build -o "$WORK/ocibench" ./bench/ocibench) || die "build failed"
if [[ ! -x "$BIN/registry" ]]; then
    log "installing distribution $V3_VERSION into $BIN with go install (once) ..."
    mkdir -p "$BIN"
    GOBIN="$BIN" go install "github.com/distribution/distribution/v3/cmd/registry@$V3_VERSION" || die "distribution did not install"
fi
port() { "$WORK/ocibench" port; }
PASSWORD="bench-$RANDOM-$RANDOM"

# arca: a first start makes the data directory.
A_PORT=$(port)
export ARCA_ADDR="127.0.0.1:$A_PORT" ARCA_S3_ADDR="127.0.0.1:$(port)" ARCA_DATA_DIR="$WORK/arca-data" \
    ARCA_ADMIN_PASSWORD="$PASSWORD" ARCA_LOG_LEVEL=warn
unset ARCA_CONFIG ARCA_DATABASE_URL ARCA_BLOB_DIR
"$WORK/coldstart" -url "http://127.0.0.1:$A_PORT/v2/" -user admin -password "$PASSWORD" -runs 1 -- "$WORK/arca" serve >/dev/null

# registry configuration: filesystem storage, in-memory descriptor cache.
regconf() { # regconf NAME PORT
    mkdir -p "$WORK/$1-data"
    cat >"$WORK/$1.yml" <<EOF
version: 0.1
log:
  level: error
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $WORK/$1-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$2
  secret: bench-$RANDOM$RANDOM
EOF
}
NAMES=(arca "arca, first authenticated 200") CMDS=("$WORK/coldstart -url http://127.0.0.1:$A_PORT/v2/ -status 0 -runs 1 -- $WORK/arca serve" "$WORK/coldstart -url http://127.0.0.1:$A_PORT/v2/ -user admin -password $PASSWORD -runs 1 -- $WORK/arca serve")
V3_PORT=$(port)
regconf v3 "$V3_PORT"
NAMES+=("distribution $V3_VERSION") CMDS+=("env OTEL_TRACES_EXPORTER=none $WORK/coldstart -url http://127.0.0.1:$V3_PORT/v2/ -status 0 -runs 1 -- $BIN/registry serve $WORK/v3.yml")
if command -v docker-registry >/dev/null 2>&1; then
    R_PORT=$(port)
    regconf r2 "$R_PORT"
    NAMES+=("docker-registry (Debian, 2.8)") CMDS+=("$WORK/coldstart -url http://127.0.0.1:$R_PORT/v2/ -status 0 -runs 1 -- docker-registry serve $WORK/r2.yml")
fi

LOAD0="$(cut -d' ' -f1-3 /proc/loadavg)"
log "measuring $RUNS starts of each, interleaved ..."
for ((r = 0; r < RUNS; r++)); do
    for i in "${!NAMES[@]}"; do
        ms=$(env -u REGISTRY_HTTP_ADDR -u REGISTRY_STORAGE ${CMDS[$i]} | sed -n 's/^run 1: \([0-9.]*\) ms$/\1/p')
        [[ -n "$ms" ]] || die "${NAMES[$i]} did not start"
        echo "$ms" >>"$WORK/times-$i"
    done
done
LOAD1="$(cut -d' ' -f1-3 /proc/loadavg)"

stat() { sort -n "$1" | awk '{a[NR]=$1} END {printf "%.1f ms | %.1f ms | %.1f ms", a[int((NR+1)/2)], a[1], a[NR]}'; }
median() { sort -n "$1" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) CPUs; load average $LOAD0 at the start, $LOAD1 at the end"
echo "- $RUNS starts of each server, interleaved; arca on an existing data directory (SQLite, filesystem blobs)"
echo
echo "| server | median | fastest | slowest | arca faster by |"
echo "|---|---:|---:|---:|---:|"
A=$(median "$WORK/times-0")
for i in "${!NAMES[@]}"; do
    ratio=$(awk -v a="$A" -v p="$(median "$WORK/times-$i")" 'BEGIN {printf "%.2f", p / a}')
    echo "| ${NAMES[$i]} | $(stat "$WORK/times-$i") | $ratio |"
done
