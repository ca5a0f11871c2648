#!/usr/bin/env bash
# OCI registry benchmark (issue 3): arca against the reference distribution
# registry (Debian's docker-registry package, distribution 2.8), side by side
# on the same machine and the same filesystem, in the same run.
#
# What it does, all in one temporary directory that is removed on exit:
#   1. builds arca (./cmd/arca) and bench/ocibench (standard library only);
#   2. starts arca (fresh data directory, random admin password) and
#      docker-registry (filesystem storage, delete enabled, no auth, the
#      package's in-memory blob descriptor cache) on free loopback ports;
#      both run for the whole benchmark;
#   3. measures the machine's reference speeds: Go crypto/sha256 in memory and
#      over a page-cached file, reading a page-cached file (Go, and dd);
#   4. runs `ocibench run` against each registry, BENCH_ROUNDS times, in ABBA
#      order (arca first in odd rounds, the peer first in even rounds) so that
#      neither always runs on a warmer or a busier machine; each run uses a
#      fresh image name (library/bench-rN) and fresh random content;
#   5. measures the reference speeds again, and prints the machine, the load
#      average, and a Markdown table with arca's figure, the peer's, and the
#      ratio arca/peer (medians over the rounds).
#
# ocibench pushes the way docker does (HEAD, POST, one PATCH streaming the
# whole blob with chunked encoding, PUT ?digest=), pulls with GET, and checks
# status codes, Docker-Content-Digest headers and every byte it gets back.
# arca is sent HTTP Basic credentials on every request (arca accepts Basic on
# /v2/ directly, so no token round trip); the reference registry runs without
# authentication. See bench/README.md.
#
# Usage: bench/oci.sh
# Environment (defaults match issue 3):
#   BENCH_LARGE_MB          size of each large blob in MiB (256)
#   BENCH_LARGE_COUNT       large blobs pushed and pulled per run (3)
#   BENCH_MONOLITHIC        1 to also push the large blobs monolithically
#                           (POST, then PUT with the body) (0)
#   BENCH_SMALL_KB          size of each small blob in KiB (1024)
#   BENCH_SMALL_COUNT       small blobs pushed and pulled per run (256)
#   BENCH_CONCURRENCY       concurrency of the small-blob phases (8)
#   BENCH_MANIFESTS         distinct manifests put then got by tag (1000)
#   BENCH_MANIFEST_CONCURRENCY  comma-separated concurrencies for the
#                           manifest phase ("1,8")
#   BENCH_ROUNDS            runs against each registry (2)
#   BENCH_REF_RUNS          repetitions of each reference measurement (3)
#   BENCH_DIR               parent of the temporary directory ($TMPDIR or
#                           /tmp); both registries' storage lives there
#   BENCH_REGISTRY          the reference registry binary (docker-registry)
#   BENCH_ARCA_REV          build arca from this git revision (e.g. HEAD)
#                           instead of the working tree, which may hold
#                           unfinished changes
#   BENCH_V3                1 to also run distribution v3 as a second peer,
#                           installed once with `go install` into
#                           .cache/bench/bin of the checkout (1)
#   BENCH_V3_VERSION        its version (v3.1.2)
# Throughputs are in MB/s (10^6 bytes per second).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LARGE_MB="${BENCH_LARGE_MB:-256}"
LARGE_COUNT="${BENCH_LARGE_COUNT:-3}"
MONOLITHIC="${BENCH_MONOLITHIC:-0}"
SMALL_KB="${BENCH_SMALL_KB:-1024}"
SMALL_COUNT="${BENCH_SMALL_COUNT:-256}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
MANIFESTS="${BENCH_MANIFESTS:-1000}"
MANIFEST_CONCURRENCY="${BENCH_MANIFEST_CONCURRENCY:-1,8}"
ROUNDS="${BENCH_ROUNDS:-2}"
REF_RUNS="${BENCH_REF_RUNS:-3}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
REGISTRY="${BENCH_REGISTRY:-docker-registry}"
ARCA_REV="${BENCH_ARCA_REV:-}"
V3="${BENCH_V3:-1}"
V3_VERSION="${BENCH_V3_VERSION:-v3.1.2}"
BENCH_BIN="$ROOT/.cache/bench/bin"

die() { printf 'oci.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

for v in LARGE_MB LARGE_COUNT SMALL_KB SMALL_COUNT CONCURRENCY ROUNDS REF_RUNS; do
    [[ "${!v}" =~ ^[0-9]+$ ]] || die "BENCH_$v must be a non-negative integer, not '${!v}'"
done
[[ "$MANIFESTS" =~ ^[0-9]+$ ]] || die "BENCH_MANIFESTS must be a non-negative integer"
[[ "$MANIFEST_CONCURRENCY" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "BENCH_MANIFEST_CONCURRENCY must look like 1,8"
((LARGE_MB > 0 && SMALL_KB > 0 && CONCURRENCY > 0 && ROUNDS > 0 && REF_RUNS > 0)) || die "sizes, BENCH_CONCURRENCY, BENCH_ROUNDS and BENCH_REF_RUNS must be positive"
for tool in go curl awk dd df; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
command -v "$REGISTRY" >/dev/null 2>&1 ||
    die "$REGISTRY not found: install the reference registry with 'apt-get install -y docker-registry' (or set BENCH_REGISTRY)"
mkdir -p "$PARENT"
if [[ "$V3" == 1 && ! -x "$BENCH_BIN/registry" ]]; then
    log "installing distribution $V3_VERSION into $BENCH_BIN with go install (once) ..."
    mkdir -p "$BENCH_BIN"
    GOBIN="$BENCH_BIN" go install "github.com/distribution/distribution/v3/cmd/registry@$V3_VERSION" ||
        die "distribution $V3_VERSION did not install (BENCH_V3=0 leaves it out)"
fi

WORK="$(mktemp -d "$PARENT/arca-ocibench.XXXXXX")"
ARCA_PID=""
REG_PID=""
V3_PID=""
stop() { # stop PID: ends a process this script started and waits for it
    [[ -n "$1" ]] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop "$ARCA_PID"
    stop "$REG_PID"
    stop "$V3_PID"
    if [[ $rc -ne 0 ]]; then
        for f in arca.log registry.log registry-v3.log; do
            if [[ -s "$WORK/$f" ]]; then
                log "--- last lines of $f ---"
                tail -n 15 "$WORK/$f" >&2 || true
            fi
        done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building arca and ocibench in $WORK ..."
if [[ -n "$ARCA_REV" ]]; then
    ARCA_DESC="$(git -C "$ROOT" rev-parse --short "$ARCA_REV^{commit}")" || die "BENCH_ARCA_REV '$ARCA_REV' is not a revision"
    mkdir -p "$WORK/src"
    git -C "$ROOT" archive "$ARCA_REV" | tar -x -C "$WORK/src"
    (cd "$WORK/src" && go build -o "$WORK/arca" ./cmd/arca)
    rm -rf "$WORK/src"
else
    ARCA_DESC="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) (working tree)"
    (cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca)
fi
(cd "$ROOT" && go build -o "$WORK/ocibench" ./bench/ocibench)
OB="$WORK/ocibench"
GO_VERSION="$(cd "$ROOT" && go version)"

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
LOAD_START="$(loadavg)"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"

wait_ready() { # wait_ready URL PID NAME
    local deadline=$((SECONDS + 60))
    until curl -sf -o /dev/null "$1"; do
        kill -0 "$2" 2>/dev/null || die "$3 exited before it became ready"
        ((SECONDS < deadline)) || die "$3 did not become ready within 60s"
        sleep 0.1
    done
}

# --- arca -------------------------------------------------------------------
ARCA_PORT=$("$OB" port)
PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
ARCA_URL="http://127.0.0.1:$ARCA_PORT"
log "starting arca on $ARCA_URL ..."
env -u ARCA_CONFIG -u ARCA_DATABASE_URL -u ARCA_BLOB_DIR -u ARCA_MAX_UPLOAD_BYTES -u ARCA_PUBLIC_URL \
    ARCA_ADDR="127.0.0.1:$ARCA_PORT" ARCA_S3_ADDR="127.0.0.1:$("$OB" port)" \
    ARCA_DATA_DIR="$WORK/arca-data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
wait_ready "$ARCA_URL/readyz" "$ARCA_PID" arca

# --- the reference registry -------------------------------------------------
REG_PORT=$("$OB" port)
REG_URL="http://127.0.0.1:$REG_PORT"
mkdir -p "$WORK/registry-data"
cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: $WORK/registry-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$REG_PORT
  secret: bench-$RANDOM$RANDOM$RANDOM
EOF
log "starting $REGISTRY on $REG_URL ..."
env -u REGISTRY_HTTP_ADDR -u REGISTRY_STORAGE -u REGISTRY_AUTH "$REGISTRY" serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
wait_ready "$REG_URL/v2/" "$REG_PID" "$REGISTRY"
REG_VERSION="$("$REGISTRY" --version 2>/dev/null | head -n 1 || true)"
if command -v dpkg-query >/dev/null 2>&1; then
    PKG="$(dpkg-query -W -f '${Package} ${Version}' docker-registry 2>/dev/null || true)"
    [[ -n "$PKG" ]] && REG_VERSION="$REG_VERSION (Debian package $PKG)"
fi

# --- distribution v3 ----------------------------------------------------------
if [[ "$V3" == 1 ]]; then
    V3_PORT=$("$OB" port)
    V3_URL="http://127.0.0.1:$V3_PORT"
    mkdir -p "$WORK/registry-v3-data"
    sed -e "s#$WORK/registry-data#$WORK/registry-v3-data#" -e "s#127.0.0.1:$REG_PORT#127.0.0.1:$V3_PORT#" \
        "$WORK/registry.yml" >"$WORK/registry-v3.yml"
    log "starting distribution $V3_VERSION on $V3_URL ..."
    env -u REGISTRY_HTTP_ADDR -u REGISTRY_STORAGE -u REGISTRY_AUTH OTEL_TRACES_EXPORTER=none \
        "$BENCH_BIN/registry" serve "$WORK/registry-v3.yml" >"$WORK/registry-v3.log" 2>&1 &
    V3_PID=$!
    wait_ready "$V3_URL/v2/" "$V3_PID" "distribution v3"
fi

# --- reference speeds -------------------------------------------------------
REF_FILE="$WORK/reference.bin"
head -c $((LARGE_MB * 1024 * 1024)) /dev/urandom >"$REF_FILE"
cat "$REF_FILE" >/dev/null # into the page cache
DD=()
reference() { # reference N: Go hashing and reading, and dd reads of the file
    log "measuring reference speeds ($REF_RUNS runs) ..."
    "$OB" ref -file "$REF_FILE" -mib "$LARGE_MB" -runs "$REF_RUNS" -out "$WORK/ref-$1.json"
    local i t0 t1
    for ((i = 0; i < REF_RUNS; i++)); do
        t0=$(date +%s.%N)
        dd if="$REF_FILE" of=/dev/null bs=1M status=none
        t1=$(date +%s.%N)
        DD+=("$(awk -v b=$((LARGE_MB * 1024 * 1024)) -v a="$t0" -v z="$t1" 'BEGIN { printf "%.0f", b / (z - a) / 1e6 }')")
    done
}
reference 1

# --- the rounds -------------------------------------------------------------
RUN_ARGS=(-large-mib "$LARGE_MB" -large-count "$LARGE_COUNT" -small-kib "$SMALL_KB" -small-count "$SMALL_COUNT"
    -concurrency "$CONCURRENCY" -manifests "$MANIFESTS" -manifest-concurrency "$MANIFEST_CONCURRENCY")
[[ "$MONOLITHIC" == 1 ]] && RUN_ARGS+=(-monolithic)
A_FILES=() B_FILES=()
bench_arca() {
    log "round $1: arca ..."
    OCIBENCH_PASSWORD="$PASSWORD" "$OB" run -url "$ARCA_URL" -user admin -repo "library/bench-r$1" -target arca \
        "${RUN_ARGS[@]}" -out "$WORK/arca-$1.json" >&2
    A_FILES+=("$WORK/arca-$1.json")
}
bench_peer() {
    log "round $1: distribution ..."
    "$OB" run -url "$REG_URL" -repo "library/bench-r$1" -target distribution \
        "${RUN_ARGS[@]}" -out "$WORK/peer-$1.json" >&2
    B_FILES+=("$WORK/peer-$1.json")
}
C_FILES=()
bench_v3() {
    log "round $1: distribution v3 ..."
    "$OB" run -url "$V3_URL" -repo "library/bench-r$1" -target distribution-v3 \
        "${RUN_ARGS[@]}" -out "$WORK/v3-$1.json" >&2
    C_FILES+=("$WORK/v3-$1.json")
}
ORDER=(bench_arca bench_peer)
[[ "$V3" == 1 ]] && ORDER+=(bench_v3)
for ((r = 1; r <= ROUNDS; r++)); do
    # The order rotates every round, so that no registry always runs first
    # (on a cooler machine) or last.
    n=${#ORDER[@]}
    for ((i = 0; i < n; i++)); do
        sync
        log "load average $(cut -d' ' -f1-3 /proc/loadavg)"
        "${ORDER[$(((i + r - 1) % n))]}" "$r"
    done
done
reference 2
LOAD_END="$(loadavg)"

# --- report -----------------------------------------------------------------
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
SHA_NI="no"
grep -qw sha_ni /proc/cpuinfo 2>/dev/null && SHA_NI="yes"
VIRT="bare metal or unknown"
grep -qw hypervisor /proc/cpuinfo 2>/dev/null && VIRT="virtual machine"
MEM="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
FS="$(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"
comma() { local IFS=,; echo "$*"; }

cat <<EOF

## OCI registry vs distribution

- date:       $STARTED
- machine:    $(nproc) CPUs ($VIRT), ${CPU_MODEL:-unknown CPU} (SHA extensions: $SHA_NI), ${MEM:-? GiB} RAM, $(uname -sr)
- filesystem: $FS (both registries' storage and the reference file)
- load avg:   $LOAD_START at start, $LOAD_END at end (other work on the machine skews every figure)
- arca:       $ARCA_DESC, $GO_VERSION; SQLite + filesystem blob store (defaults); HTTP Basic auth on every request
- peer:       ${REG_VERSION:-$REGISTRY}; filesystem storage, delete enabled, in-memory blob descriptor cache, no auth
- peer 2:     $([[ "$V3" == 1 ]] && echo "distribution $V3_VERSION (go install), the same configuration" || echo "none (BENCH_V3=0)")
- runs:       $ROUNDS per registry, the order rotated every round; large blobs ${LARGE_COUNT} x ${LARGE_MB} MiB; small blobs ${SMALL_COUNT} x ${SMALL_KB} KiB at concurrency $CONCURRENCY; $MANIFESTS manifests at concurrency $MANIFEST_CONCURRENCY
- figures:    median over the runs; MB/s = 10^6 bytes/s; a sync(2) precedes every phase

EOF
"$OB" report -a "$(comma "${A_FILES[@]}")" -b "$(comma "${B_FILES[@]}")" -a-name arca -b-name distribution \
    -ref "$WORK/ref-1.json,$WORK/ref-2.json" -extra "read of a page-cached file, dd bs=1M=${DD[*]}"
if [[ "$V3" == 1 ]]; then
    echo
    echo "### arca vs distribution $V3_VERSION (go install), same rounds"
    echo
    "$OB" report -a "$(comma "${A_FILES[@]}")" -b "$(comma "${C_FILES[@]}")" -a-name arca -b-name "distribution $V3_VERSION" \
        -ref "$WORK/ref-1.json,$WORK/ref-2.json" -extra "read of a page-cached file, dd bs=1M=${DD[*]}"
fi
