#!/usr/bin/env bash
# MLflow benchmark (issue 5): arca's MLflow surface against the real
# `mlflow server` (SQLite backend, --serve-artifacts), on the same machine,
# in the same run, with the same client workload.
#
# What it does, all in one temporary directory that is removed on exit:
#   1. builds arca (./cmd/arca);
#   2. finds the mlflow venv (BENCH_VENV, else scripts/install-mlflow-clients.sh
#      builds or reuses .cache/venv-mlflow with the pinned mlflow);
#   3. starts arca (SQLite and filesystem blobs in a fresh data directory,
#      random admin password) and `mlflow server` (SQLite file, artifacts
#      proxied into a local directory, its default 4 workers, no
#      authentication) on free loopback ports;
#   4. runs bench/mlflowbench against both, which measures, each server in
#      turn (alternating which goes first):
#        - log-batch throughput: BENCH_LOG_BATCHES batches of 1000 metrics
#          (10 keys x 100 steps) from BENCH_CONCURRENCY processes;
#        - run creation: BENCH_CREATE_RUNS runs/create from BENCH_CONCURRENCY
#          processes;
#        - search_runs p50 latency (filter metrics.score > 0.5, order_by
#          metrics.score DESC, max_results 100) over experiments of each size
#          in BENCH_SEARCH_RUNS; the runs are created through the API (create
#          + log-batch), except MLflow's populations above
#          BENCH_MLFLOW_API_FILL_MAX runs, which are written straight into its
#          SQLite file (the table says so);
#        - get_metric_history p50 latency of one metric of
#          BENCH_HISTORY_POINTS points;
#        - upload (PUT) and download (GET) of a BENCH_ARTIFACT_MB MiB artifact
#          through the artifact proxy, in MB/s;
#      and checks every answer (counts, scores in order, points, sha256);
#   5. prints the machine, the load average and a Markdown table with arca's
#      figure, MLflow's and how many times faster arca is.
#
# The driver sends the requests the mlflow client sends, through Python's
# http.client with bodies prepared before the timed part (see
# bench/mlflowbench/workload.py), so the client's own work weighs little;
# client and servers still share the machine's CPUs. arca gets HTTP Basic
# credentials on every request.
#
# Usage: bench/mlflow.sh
# Environment (defaults match issue 5; scale down on a small or busy machine):
#   BENCH_CONCURRENCY          client processes for the throughputs (4)
#   BENCH_LOG_BATCHES          batches of 1000 metrics (200)
#   BENCH_CREATE_RUNS          runs created (2000)
#   BENCH_SEARCH_RUNS          experiment sizes for search, comma-separated
#                              ("10000,100000")
#   BENCH_SEARCHES             timed searches per size (20)
#   BENCH_MLFLOW_API_FILL_MAX  largest MLflow population filled through its
#                              API (10000)
#   BENCH_HISTORY_POINTS       points of the metric history (100000)
#   BENCH_HISTORY_GETS         timed history reads (5)
#   BENCH_ARTIFACT_MB          artifact size in MiB (100)
#   BENCH_ARTIFACT_RUNS        uploads and downloads (3)
#   BENCH_MLFLOW_WORKERS       mlflow server --workers (4, its default)
#   BENCH_TIMEOUT              seconds to wait for one answer (600); a search
#                              or history read that takes longer is reported
#                              as timed out
#   BENCH_PHASES               which measurements to take, comma-separated
#                              ("log-batch,create,history,artifacts,search");
#                              the searches run last
#   BENCH_VENV                 a venv with mlflow (default: the pinned one)
#   BENCH_DIR                  parent of the temporary directory ($TMPDIR or /tmp)
#   BENCH_ARCA_REV             build arca from this git revision instead of
#                              the working tree
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
MLFLOW_WORKERS="${BENCH_MLFLOW_WORKERS:-4}"
ARCA_REV="${BENCH_ARCA_REV:-}"

die() { printf 'mlflow.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

for v in BENCH_CONCURRENCY BENCH_LOG_BATCHES BENCH_CREATE_RUNS BENCH_SEARCHES BENCH_MLFLOW_API_FILL_MAX \
    BENCH_HISTORY_POINTS BENCH_HISTORY_GETS BENCH_ARTIFACT_MB BENCH_ARTIFACT_RUNS BENCH_MLFLOW_WORKERS BENCH_TIMEOUT; do
    [[ -z "${!v:-}" || "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[[ -z "${BENCH_SEARCH_RUNS:-}" || "$BENCH_SEARCH_RUNS" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
    die "BENCH_SEARCH_RUNS must look like 10000,100000"
for tool in go curl python3 awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
VENV="${BENCH_VENV:-}"
if [[ -z "$VENV" ]]; then
    VENV="$("$ROOT/scripts/install-mlflow-clients.sh" | tail -n 1)" || die "could not set up the mlflow venv"
fi
[[ -x "$VENV/bin/mlflow" && -x "$VENV/bin/python" ]] || die "$VENV has no mlflow"

mkdir -p "$PARENT"
TMP="$(mktemp -d "$PARENT/arca-mlflow-bench.XXXXXX")"
PIDS=()
cleanup() {
    local pid i
    for pid in "${PIDS[@]}"; do
        # mlflow server runs its workers as children: stop them by parent id.
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill "$pid" 2>/dev/null || true
    done
    # A server still busy with a long request (a search that timed out)
    # would delay a graceful stop indefinitely: 10 seconds, then SIGKILL.
    for i in $(seq 1 50); do
        kill -0 "${PIDS[@]}" 2>/dev/null || break
        sleep 0.2
    done
    for pid in "${PIDS[@]}"; do
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building arca in $TMP"
if [[ -n "$ARCA_REV" ]]; then
    git -C "$ROOT" archive --format=tar "$ARCA_REV" | (mkdir -p "$TMP/src" && tar -x -C "$TMP/src")
    (cd "$TMP/src" && go build -o "$TMP/arca" ./cmd/arca)
    ARCA_DESC="$(git -C "$ROOT" rev-parse --short "$ARCA_REV")"
else
    (cd "$ROOT" && go build -o "$TMP/arca" ./cmd/arca)
    ARCA_DESC="working tree at $(git -C "$ROOT" rev-parse --short HEAD)"
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
    local url="$1" i
    for i in $(seq 1 600); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.2
    done
    die "$url did not answer within 2 minutes"
}

ARCA_PORT="$(free_port)"
ARCA="http://127.0.0.1:$ARCA_PORT"
PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
ARCA_ADDR="127.0.0.1:$ARCA_PORT" ARCA_S3_ADDR="127.0.0.1:0" ARCA_DATA_DIR="$TMP/arca-data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    ARCA_LOG_LEVEL=warn "$TMP/arca" serve >"$TMP/arca.log" 2>&1 &
PIDS+=($!)
wait_http "$ARCA/readyz"

ML_PORT="$(free_port)"
ML="http://127.0.0.1:$ML_PORT"
mkdir -p "$TMP/mlflow"
# Its job runner (huey consumers for MLflow's asynchronous jobs, which the
# workload never uses) is off: starting it cost ~1.5 CPUs for 10-20 s,
# measured against whichever server ran then.
(cd "$TMP/mlflow" && MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false exec "$VENV/bin/mlflow" server --backend-store-uri "sqlite:///$TMP/mlflow/mlflow.db" \
    --serve-artifacts --artifacts-destination "$TMP/mlflow/artifacts" \
    --host 127.0.0.1 --port "$ML_PORT" --workers "$MLFLOW_WORKERS") >"$TMP/mlflow.log" 2>&1 &
PIDS+=($!)
log "waiting for mlflow server"
wait_http "$ML/health"
# /health answers as soon as one worker is up; wait for all of them.
for i in $(seq 1 600); do
    (($(grep -c 'Application startup complete' "$TMP/mlflow.log" || true) >= MLFLOW_WORKERS)) && break
    sleep 0.2
done

# Wait until the servers' process trees are quiet (under 0.1 CPU for 2 s in
# a row, at most 3 minutes): work a server does after it first answers
# (mlflow server's job runner, when on, imported mlflow in seven processes
# for 10-20 s) would be measured against whichever server ran then.
tree_ticks() {
    python3 - "$@" <<'PY'
import os, sys
roots = {int(p) for p in sys.argv[1:]}
procs = {}
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
            procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
        except OSError:
            pass
def inside(p):
    while p > 1:
        if p in roots:
            return True
        p = procs.get(p, (0, 0))[0]
    return False
print(sum(t for p, (_, t) in procs.items() if inside(p)))
PY
}
quiet=0
for i in $(seq 1 180); do
    a="$(tree_ticks "${PIDS[@]}")"; sleep 1; b="$(tree_ticks "${PIDS[@]}")"
    if ((b - a < 10)); then quiet=$((quiet + 1)); else quiet=0; fi
    ((quiet >= 2)) && break
done
log "servers quiet after ${i}s"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"
log "running the workload"
out="$TMP/table.md"
(cd "$ROOT/bench" && "$VENV/bin/python" -m mlflowbench --arca "$ARCA/mlflow" --arca-user admin --arca-password "$PASSWORD" \
    --mlflow "$ML" --mlflow-db "$TMP/mlflow/mlflow.db" --dir "$TMP") >"$out" ||
    {
        printf '\n--- arca log (end) ---\n' >&2
        tail -n 20 "$TMP/arca.log" >&2
        printf '\n--- mlflow server log (end) ---\n' >&2
        tail -n 40 "$TMP/mlflow.log" >&2
        die "the workload failed (the servers' logs end above)"
    }

cat <<EOF

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) CPUs ($(awk -F: '/model name/ { gsub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)
- software: arca ($ARCA_DESC, $(go version | awk '{ print $3 }')), MLflow $("$VENV/bin/python" -c 'import mlflow; print(mlflow.__version__)') (\`mlflow server\`, SQLite, --serve-artifacts, $MLFLOW_WORKERS workers), $("$VENV/bin/python" --version)
- arca: SQLite and filesystem blobs, defaults, Basic authentication; MLflow: no authentication
- load average: $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end
- settings: phases ${BENCH_PHASES:-all}, concurrency ${BENCH_CONCURRENCY:-4}, ${BENCH_LOG_BATCHES:-200} batches, ${BENCH_CREATE_RUNS:-2000} runs created, search over ${BENCH_SEARCH_RUNS:-10000,100000} runs (${BENCH_SEARCHES:-20} searches each), history of ${BENCH_HISTORY_POINTS:-100000} points, ${BENCH_ARTIFACT_MB:-100} MiB artifact x ${BENCH_ARTIFACT_RUNS:-3}

EOF
cat "$out"
