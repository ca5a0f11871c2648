#!/usr/bin/env bash
# Search at scale (issue 17): index BENCH_ITEMS items (default 1,000,000)
# on SQLite and on PostgreSQL with arca's own indexer, then print p50/p99
# latency of name and digest queries (bench/searchbench). Not part of CI.
#
#   bench/search.sh                      SQLite, and PostgreSQL when
#                                        ARCA_BENCH_POSTGRES_URL is set or
#                                        scripts/pg.sh runs a cluster
#   BENCH_ITEMS=10000 bench/search.sh    a quick run
#
# The PostgreSQL URL names a server arca may create a database on; the
# benchmark creates a fresh one and drops it at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ITEMS="${BENCH_ITEMS:-1000000}"
QUERIES="${BENCH_QUERIES:-200}"
PG="${ARCA_BENCH_POSTGRES_URL:-}"
if [[ -z "$PG" ]] && "$ROOT/scripts/pg.sh" status >/dev/null 2>&1; then
    PG="$("$ROOT/scripts/pg.sh" url)"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$ROOT" && go build -o "$WORK/searchbench" ./bench/searchbench)
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
echo "load at start: $(uptime | sed 's/.*load average: //')"
[[ -n "$PG" ]] || echo "PostgreSQL: none (set ARCA_BENCH_POSTGRES_URL or run scripts/pg.sh start)"
TMPDIR="${BENCH_DIR:-${TMPDIR:-/tmp}}" "$WORK/searchbench" -n "$ITEMS" -queries "$QUERIES" ${PG:+-postgres "$PG"}
echo "load at end: $(uptime | sed 's/.*load average: //')"
