#!/usr/bin/env bash
# Scale-out benchmark (issue 12): three arca processes behind a round-robin
# load balancer against one arca process behind the same balancer, both on
# PostgreSQL (one server, a database each) and a filesystem blob store
# shared by the replicas, in the same run. The OCI benchmark (bench/ocibench:
# 1 MiB blobs pushed and pulled at concurrency 8, manifests put and got at
# concurrency 8) and the S3 benchmark (bench/s3bench: 4 KiB and 64 MiB PUT
# and GET, listings) run against each shape, alternating which goes first.
#
# What it does, in one temporary directory removed on exit:
#   1. builds arca, ocibench, s3bench and rrproxy (the balancer: each
#      request to the next backend, Host kept, bodies streamed);
#   2. starts a throwaway PostgreSQL (initdb from Debian's postgresql
#      package) with databases "one" and "three";
#   3. starts one arca on "one" and three on "three" (one shared blob
#      directory, one KEK), and a balancer in front of each shape for the
#      HTTP listener and one for the S3 listener;
#   4. runs BENCH_ROUNDS rounds, ABBA order, and prints the OCI table with
#      the ratio three/one, then the two S3 tables joined with the ratio.
# The balancer's cost is in both shapes, so the ratio is the replicas'
# effect alone. On a machine with few cores three replicas cannot add CPU;
# the figures show what spreading costs (database round trips that a
# process's caches no longer save, connection pools) rather than scaling.
#
# Usage: bench/scaleout.sh
# Environment: BENCH_ROUNDS (2), BENCH_SMALL_COUNT (128), BENCH_MANIFESTS
# (500), BENCH_S3_SECONDS (5), BENCH_S3_BIG (4), BENCH_S3_KEYS (10000),
# BENCH_DIR (parent of the temporary directory), BENCH_PG_BIN (directory of
# initdb/pg_ctl; default the newest /usr/lib/postgresql/*/bin).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
ROUNDS="${BENCH_ROUNDS:-2}"
SMALL_COUNT="${BENCH_SMALL_COUNT:-128}"
MANIFESTS="${BENCH_MANIFESTS:-500}"
S3_SECONDS="${BENCH_S3_SECONDS:-5}"
S3_BIG="${BENCH_S3_BIG:-4}"
S3_KEYS="${BENCH_S3_KEYS:-10000}"

log() { printf '%s\n' "$*" >&2; }
die() { printf 'scaleout.sh: error: %s\n' "$*" >&2; exit 1; }
command -v go >/dev/null || die "go is required"
command -v curl >/dev/null || die "curl is required"
PG_BIN="${BENCH_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}"
[[ -x "$PG_BIN/initdb" ]] || die "PostgreSQL server binaries not found (apt-get install -y postgresql, or set BENCH_PG_BIN)"

mkdir -p "$PARENT"
WORK="$(mktemp -d "$PARENT/arca-scaleout.XXXXXX")"
PIDS=()
cleanup() {
    local rc=$?
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    [[ -d "$WORK/pg" ]] && "$PG_BIN/pg_ctl" -D "$WORK/pg" -m immediate stop >/dev/null 2>&1 || true
    if [[ $rc -ne 0 ]]; then
        for f in "$WORK"/*.log; do [[ -s "$f" ]] && { log "--- $f ---"; tail -n 10 "$f" >&2; }; done
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building in $WORK ..."
(cd "$ROOT" && go build -o "$WORK/arca" ./cmd/arca && go build -o "$WORK/ocibench" ./bench/ocibench &&
    go build -o "$WORK/s3bench" ./bench/s3bench && go build -o "$WORK/rrproxy" ./bench/rrproxy) || die "build failed"
OB="$WORK/ocibench"
port() { "$OB" port; }

# PostgreSQL runs as a non-root user when this script runs as root.
RUNAS=()
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (the postgresql package creates it)"
    RUNAS=(runuser -u postgres --)
    chown postgres "$WORK"
fi
PG_PORT=$(port)
"${RUNAS[@]}" "$PG_BIN/initdb" -D "$WORK/pg" -U postgres -A trust >"$WORK/initdb.log" 2>&1 || die "initdb failed"
"${RUNAS[@]}" "$PG_BIN/pg_ctl" -D "$WORK/pg" -l "$WORK/postgres.log" -w \
    -o "-p $PG_PORT -k $WORK -c listen_addresses=127.0.0.1 -c fsync=on -c max_connections=300" start >/dev/null || die "PostgreSQL did not start"
for db in one three; do
    "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U postgres -qc "CREATE DATABASE $db" || die "createdb $db"
done

KEK="$(head -c 32 /dev/urandom | base64)"
PASSWORD="bench-$RANDOM-$RANDOM"
KEY=benchkey SECRET="bench-secret-$RANDOM$RANDOM"
start_arca() { # start_arca NAME DATABASE BLOBDIR -> sets HTTP_URL S3_URL
    local name=$1 http s3
    http=$(port) s3=$(port)
    mkdir -p "$WORK/$name"
    ARCA_ADDR="127.0.0.1:$http" ARCA_S3_ADDR="127.0.0.1:$s3" ARCA_DATA_DIR="$WORK/$name" ARCA_BLOB_DIR="$3" \
        ARCA_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/$2?sslmode=disable" ARCA_KEK="$KEK" \
        ARCA_ADMIN_PASSWORD="$PASSWORD" ARCA_S3_ACCESS_KEY="$KEY" ARCA_S3_SECRET_KEY="$SECRET" \
        ARCA_LOG_LEVEL=warn ARCA_LOG_FORMAT=text "$WORK/arca" serve >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    local pid=$! deadline=$((SECONDS + 120))
    until curl -sf -o /dev/null "http://127.0.0.1:$http/readyz"; do
        kill -0 "$pid" 2>/dev/null || die "$name exited"
        ((SECONDS < deadline)) || die "$name not ready in 120s"
        sleep 0.1
    done
    HTTP_URL="http://127.0.0.1:$http" S3_URL="http://127.0.0.1:$s3"
}
balancer() { # balancer BACKENDS -> sets LB_URL
    local p
    p=$(port)
    "$WORK/rrproxy" -listen "127.0.0.1:$p" -backends "$1" >"$WORK/rrproxy-$p.log" 2>&1 &
    PIDS+=($!)
    until curl -s -o /dev/null "http://127.0.0.1:$p/"; do sleep 0.05; done
    LB_URL="http://127.0.0.1:$p"
}

log "starting one arca and three replicas on PostgreSQL $PG_PORT ..."
start_arca one one "$WORK/blobs-one"
balancer "$HTTP_URL"; ONE_HTTP=$LB_URL
balancer "$S3_URL"; ONE_S3=$LB_URL
H=() S=()
for i in 1 2 3; do
    start_arca "rep$i" three "$WORK/blobs-three"
    H+=("$HTTP_URL") S+=("$S3_URL")
done
comma() { local IFS=,; echo "$*"; }
balancer "$(comma "${H[@]}")"; THREE_HTTP=$LB_URL
balancer "$(comma "${S[@]}")"; THREE_S3=$LB_URL

LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
A_FILES=() B_FILES=()
oci() { # oci SHAPE URL ROUND
    log "round $3: OCI against $1 ..."
    OCIBENCH_PASSWORD="$PASSWORD" "$OB" run -url "$2" -user admin -repo "library/bench-r$3" -target "$1" \
        -large-count 1 -large-mib 64 -small-count "$SMALL_COUNT" -manifests "$MANIFESTS" -manifest-concurrency 8 \
        -out "$WORK/oci-$1-$3.json" >&2
}
s3() { # s3 SHAPE URL ROUND
    log "round $3: S3 against $1 ..."
    "$WORK/s3bench" -label "$1" -endpoint "$2" -key "$KEY" -secret "$SECRET" -bucket "bench-r$3" \
        -small-duration "${S3_SECONDS}s" -big-count "$S3_BIG" -list-keys "$S3_KEYS" >"$WORK/s3-$1-$3.md"
}
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(three one); else order=(one three); fi
    for shape in "${order[@]}"; do
        if [[ $shape == one ]]; then oci one "$ONE_HTTP" "$r"; else oci three "$THREE_HTTP" "$r"; fi
    done
    for shape in "${order[@]}"; do
        if [[ $shape == one ]]; then s3 one "$ONE_S3" "$r"; else s3 three "$THREE_S3" "$r"; fi
    done
    A_FILES+=("$WORK/oci-three-$r.json") B_FILES+=("$WORK/oci-one-$r.json")
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

cat <<EOF

## Scale-out: three replicas vs one process, both behind the same round-robin balancer

- date:     $(date -u '+%Y-%m-%d %H:%M UTC')
- machine:  $(nproc) CPUs, $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)
- arca:     $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown); PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') (fsync on), filesystem blobs under $PARENT
- load avg: $LOAD_START at start, $LOAD_END at end
- rounds:   $ROUNDS, alternating which shape goes first; medians (OCI) and per-round rows (S3)

### OCI (ratio = three replicas / one process)

EOF
"$OB" report -a "$(comma "${A_FILES[@]}")" -b "$(comma "${B_FILES[@]}")" -a-name "three replicas" -b-name "one process"
echo
echo "### S3 (requests/s for 4 KiB, MB/s for 64 MiB; ratio = three / one)"
echo
echo "| round | operation | one process | three replicas | ratio |"
echo "|---|---|---:|---:|---:|"
for ((r = 1; r <= ROUNDS; r++)); do
    awk -F'|' -v r="$r" '
        FNR == 1 { file++ }
        /^\| (PUT|GET) / {
            op = $2; gsub(/^ +| +$/, "", op)
            v = (op ~ /MiB/) ? $5 : $4; gsub(/ /, "", v)          # MB/s for large objects, requests/s for small
            if (file == 1) one[op] = v; else { three[op] = v; ops[++n] = op }
        }
        END { for (i = 1; i <= n; i++) { op = ops[i]; printf "| %d | %s | %s | %s | %.2f |\n", r, op, one[op], three[op], (one[op] > 0 ? three[op] / one[op] : 0) } }
    ' "$WORK/s3-one-$r.md" "$WORK/s3-three-$r.md"
done
echo
echo "Listings (round 1):"
echo
grep -i -A6 "list" "$WORK/s3-one-1.md" | sed 's/^/    one:   /'
grep -i -A6 "list" "$WORK/s3-three-1.md" | sed 's/^/    three: /'
