#!/usr/bin/env bash
# PyPI benchmark (issue 6): arca against pypiserver, side by side on the
# same machine, with the same 2000 files (1000 versions of one project, each
# a wheel and an sdist), in the same run.
#
# What it does, all in one temporary directory that is removed on exit:
#   1. builds arca (./cmd/arca) and bench/pypibench (standard library only);
#   2. makes a Python virtualenv with pypiserver (its cached-dir backend,
#      which keeps file digests in memory, and the waitress server) and pip,
#      unless BENCH_VENV names one that has them;
#   3. writes the files (pypibench gen), uploads them to a public hosted
#      repository of a fresh arca (pypibench upload, the legacy upload API
#      as twine uses it) and serves the same directory with pypiserver, both
#      on free loopback ports, without authentication;
#   4. fetches the project's simple index page BENCH_REQUESTS times from
#      BENCH_CONCURRENCY clients (pypibench get; every response is checked
#      to list all 2000 files) from each server: arca's HTML and JSON forms,
#      pypiserver's HTML (it has no JSON form);
#   5. times `pip download --no-deps --only-binary :all:` of the project
#      (pip picks the newest wheel) from each server BENCH_PIP_RUNS times,
#      alternating the servers, with pip's cache off;
#      and, as the floor of pip's own work (start-up, parsing 2000 links,
#      choosing, writing), from the directory itself (--no-index
#      --find-links), so that what each server adds can be told apart;
#   6. prints the machine, the load average and a Markdown table with arca's
#      figure, the peer's and the ratio (medians for pip).
#
# Usage: bench/pypi.sh
# Environment:
#   BENCH_VERSIONS      versions of the project, two files each (1000)
#   BENCH_REQUESTS      page fetches per server and form (200)
#   BENCH_CONCURRENCY   concurrent page fetchers (4)
#   BENCH_PIP_RUNS      pip download runs per server (5)
#   BENCH_VENV          an existing virtualenv with pypiserver, waitress,
#                       watchdog and pip (default: made in the temporary
#                       directory, from PyPI)
#   BENCH_DIR           parent of the temporary directory ($TMPDIR or /tmp)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${BENCH_VERSIONS:-1000}"
REQUESTS="${BENCH_REQUESTS:-200}"
CONCURRENCY="${BENCH_CONCURRENCY:-4}"
PIP_RUNS="${BENCH_PIP_RUNS:-5}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
FILES=$((VERSIONS * 2))

die() { printf 'pypi.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }
for v in VERSIONS REQUESTS CONCURRENCY PIP_RUNS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer, not '${!v}'"
done
for tool in go python3 curl awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done

TMP="$(mktemp -d "$PARENT/arca-pypi-bench.XXXXXX")"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building arca and pypibench in $TMP"
(cd "$ROOT" && go build -o "$TMP/arca" ./cmd/arca && go build -o "$TMP/pypibench" ./bench/pypibench)

VENV="${BENCH_VENV:-}"
if [[ -z "$VENV" ]]; then
    VENV="$TMP/venv"
    log "installing pypiserver into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'pypiserver[cache]' waitress </dev/null
fi
[[ -x "$VENV/bin/pypi-server" && -x "$VENV/bin/pip" ]] || die "$VENV lacks pypi-server or pip"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() {
    local url="$1" i
    for i in $(seq 1 200); do
        curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$url did not answer"
}

log "writing $FILES files"
"$TMP/pypibench" gen -dir "$TMP/files" -project benchpkg -versions "$VERSIONS"

# arca: fresh data directory, a public hosted repository.
ARCA_PORT="$(free_port)"
ARCA="http://127.0.0.1:$ARCA_PORT"
PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
ARCA_ADDR="127.0.0.1:$ARCA_PORT" ARCA_S3_ADDR="127.0.0.1:0" ARCA_DATA_DIR="$TMP/arca-data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    ARCA_LOG_LEVEL=warn "$TMP/arca" serve >"$TMP/arca.log" 2>&1 &
PIDS+=($!)
wait_http "$ARCA/readyz"
curl -fsS -u "admin:$PASSWORD" -X POST "$ARCA/api/v1/repositories" \
    -d '{"name":"bench","format":"pypi","kind":"hosted","visibility":"public"}' >/dev/null
log "uploading $FILES files to arca"
start=$(date +%s.%N)
"$TMP/pypibench" upload -url "$ARCA/pypi/bench/" -user admin -password "$PASSWORD" -dir "$TMP/files" -c 4
upload_s=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# pypiserver: the same files, no authentication, cached digests.
PEER_PORT="$(free_port)"
PEER="http://127.0.0.1:$PEER_PORT"
"$VENV/bin/pypi-server" run -i 127.0.0.1 -p "$PEER_PORT" -a . -P . --backend cached-dir --server auto \
    --disable-fallback --log-stream none "$TMP/files" >"$TMP/pypiserver.log" 2>&1 &
PIDS+=($!)
wait_http "$PEER/simple/"
PEER_VERSION="$("$VENV/bin/pypi-server" --version)"

page() { "$TMP/pypibench" get -url "$1" -n "$REQUESTS" -c "$CONCURRENCY" -expect "$FILES" -accept "$2" "${@:3}"; }
log "fetching the simple page ($REQUESTS requests, $CONCURRENCY clients)"
read -r arca_html_rps arca_html_p50 arca_html_p99 arca_html_bytes < <(page "$ARCA/pypi/bench/simple/benchpkg/" "text/html")
read -r arca_json_rps arca_json_p50 arca_json_p99 arca_json_bytes < <(page "$ARCA/pypi/bench/simple/benchpkg/" "application/vnd.pypi.simple.v1+json")
read -r arca_gz_rps arca_gz_p50 arca_gz_p99 _ < <(page "$ARCA/pypi/bench/simple/benchpkg/" "text/html" -gzip)
read -r peer_rps peer_p50 peer_p99 peer_bytes < <(page "$PEER/simple/benchpkg/" "text/html")
read -r peer_gz_rps peer_gz_p50 peer_gz_p99 _ < <(page "$PEER/simple/benchpkg/" "text/html" -gzip)

# The same page right after a change (a yank and an un-yank), which arca
# must read from the database and render again.
log "fetching arca's page after changes (20 times)"
miss=()
for i in $(seq 1 20); do
    curl -fsS -o /dev/null -u "admin:$PASSWORD" -X POST "$ARCA/api/v1/pypi/bench/benchpkg/1.0.$((i % VERSIONS))/yank"
    curl -fsS -o /dev/null -u "admin:$PASSWORD" -X DELETE "$ARCA/api/v1/pypi/bench/benchpkg/1.0.$((i % VERSIONS))/yank"
    miss+=("$(curl -fsS -o /dev/null -H 'Accept: text/html' -w '%{time_total}' "$ARCA/pypi/bench/simple/benchpkg/" | awk '{ printf "%.2f", $1 * 1000 }')")
done

log "timing pip download ($PIP_RUNS runs per server)"
pip_download() {
    local index="$1" dest source
    dest="$(mktemp -d "$TMP/dl.XXXXXX")"
    source=(--index-url "$index")
    [[ "$index" == local ]] && source=(--no-index --find-links "$TMP/files")
    local t0 t1
    t0=$(date +%s.%N)
    PIP_CONFIG_FILE=/dev/null "$VENV/bin/pip" download --disable-pip-version-check --no-input --no-cache-dir --no-deps \
        --only-binary :all: --dest "$dest" "${source[@]}" benchpkg >"$TMP/pip.log" 2>&1 ||
        { cat "$TMP/pip.log" >&2; die "pip download from $index failed"; }
    t1=$(date +%s.%N)
    [[ -f "$dest/benchpkg-1.0.$((VERSIONS - 1))-py3-none-any.whl" ]] || die "pip download from $index saved the wrong file"
    rm -rf -- "$dest"
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", b - a }'
}
arca_pip=()
peer_pip=()
local_pip=()
for i in $(seq 1 "$PIP_RUNS"); do
    if ((i % 2)); then
        arca_pip+=("$(pip_download "$ARCA/pypi/bench/simple/")")
        peer_pip+=("$(pip_download "$PEER/simple/")")
    else
        peer_pip+=("$(pip_download "$PEER/simple/")")
        arca_pip+=("$(pip_download "$ARCA/pypi/bench/simple/")")
    fi
    local_pip+=("$(pip_download local)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
arca_pip_med="$(median "${arca_pip[@]}")"
peer_pip_med="$(median "${peer_pip[@]}")"
local_pip_med="$(median "${local_pip[@]}")"
# What the server adds to pip's own work (floored at 1 ms).
server_share() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0.001) d = 0.001; printf "%.3f", d }'; }
arca_share="$(server_share "$arca_pip_med" "$local_pip_med")"
peer_share="$(server_share "$peer_pip_med" "$local_pip_med")"
# A share under 50 ms is within the noise of pip's own run time.
share_ratio() { awk -v p="$1" -v a="$2" 'BEGIN { if (a < 0.05) print "arca within noise of pip alone"; else printf "%.1fx faster\n", p / a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }

cat <<EOF
## PyPI: simple index of a project with $FILES files, and pip download

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) CPUs ($(awk -F: '/model name/ { gsub(/^ +/, "", $2); print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr)
- software: $(go version | awk '{ print $3 }'), $("$VENV/bin/python" --version), pip $("$VENV/bin/pip" --version | awk '{ print $2 }'), pypiserver $PEER_VERSION (cached-dir backend, waitress through --server auto)
- load average: $(cut -d' ' -f1-3 /proc/loadavg) at the end
- arca: SQLite and filesystem blobs, public hosted repository; upload of the $FILES files with 4 concurrent legacy-API uploads took ${upload_s}s
- page: $REQUESTS GETs from $CONCURRENCY concurrent clients over keep-alive connections, each response checked to list $FILES files; uncompressed (Accept-Encoding: identity) unless the row says gzip, where the client (Go's, in the same 2 CPUs) also decompresses; pypiserver does not compress
- pip download: median of $PIP_RUNS runs of \`pip download --no-deps --only-binary :all: --no-cache-dir benchpkg\`, servers alternating

| measurement | arca | pypiserver | arca / pypiserver |
|---|---:|---:|---:|
| simple page, HTML: requests/s | $arca_html_rps | $peer_rps | $(ratio "$arca_html_rps" "$peer_rps") |
| simple page, HTML: median latency (ms) | $arca_html_p50 | $peer_p50 | $(ratio "$peer_p50" "$arca_html_p50") faster |
| simple page, HTML: p99 latency (ms) | $arca_html_p99 | $peer_p99 | $(ratio "$peer_p99" "$arca_html_p99") faster |
| simple page, HTML: bytes | $arca_html_bytes | $peer_bytes | |
| simple page, HTML, client accepts gzip (as pip does): requests/s | $arca_gz_rps | $peer_gz_rps | $(ratio "$arca_gz_rps" "$peer_gz_rps") |
| simple page, HTML, gzip: median latency (ms) | $arca_gz_p50 | $peer_gz_p50 | $(ratio "$peer_gz_p50" "$arca_gz_p50") faster |
| simple page, HTML, first GET after a change (ms, median of 20; arca reads and renders anew) | $(median "${miss[@]}") | $peer_p50 (every GET) | $(ratio "$peer_p50" "$(median "${miss[@]}")") faster |
| simple page, JSON (PEP 691): requests/s | $arca_json_rps | (no JSON form) | $(ratio "$arca_json_rps" "$peer_rps") vs its HTML |
| simple page, JSON: median latency (ms) | $arca_json_p50 | | |
| pip download, seconds (median) | $arca_pip_med | $peer_pip_med | $(ratio "$peer_pip_med" "$arca_pip_med") faster |
| pip download, the server's share: median minus pip alone ($local_pip_med s, \`--no-index --find-links\` on the same files) | $arca_share | $peer_share | $(share_ratio "$peer_share" "$arca_share") |

pip download runs (s): arca ${arca_pip[*]}; pypiserver ${peer_pip[*]}; pip alone ${local_pip[*]}
EOF
