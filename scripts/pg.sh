#!/usr/bin/env bash
# Throwaway PostgreSQL server for arca's tests.
#
#   scripts/pg.sh start    initdb a fresh cluster, start it on 127.0.0.1, create
#                          the database "arca_test"; prints the connection URL
#                          (only that) on stdout, progress on stderr:
#                            export ARCA_TEST_POSTGRES_URL="$(scripts/pg.sh start)"
#   scripts/pg.sh stop     stop the cluster started by "start" and delete it
#   scripts/pg.sh stop --keep-log DIR
#                          the same, but first copy the server's log to
#                          DIR/postgres.log (scripts/test.sh does, into
#                          results/, when tests failed)
#   scripts/pg.sh url      print the URL of the running cluster
#   scripts/pg.sh status   say whether it runs
#
# The cluster lives in .cache/pg under the repository (wiped on every start),
# or, when the postgres user cannot reach that directory, in a mktemp dir
# under /tmp. Its location, port and binaries are recorded in .cache/pg.state
# so that "stop" (and the next "start", for a stale cluster left behind by a
# killed run) find it.
#
# Environment knobs (all optional):
#   ARCA_PG_PORT   preferred port (default 55432; a random free port if busy)
#   ARCA_PG_BIN    directory holding initdb/pg_ctl/postgres/psql
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache"
STATE="$CACHE/pg.state"
DB_NAME="arca_test"
PREFERRED_PORT="${ARCA_PG_PORT:-55432}"

log() { printf 'pg.sh: %s\n' "$*" >&2; }
die() { printf 'pg.sh: error: %s\n' "$*" >&2; exit 1; }

# --- helpers ---------------------------------------------------------------

find_bindir() {
    if [[ -n "${ARCA_PG_BIN:-}" ]]; then
        [[ -x "$ARCA_PG_BIN/pg_ctl" ]] || die "ARCA_PG_BIN=$ARCA_PG_BIN has no pg_ctl"
        printf '%s\n' "$ARCA_PG_BIN"
        return
    fi
    local d best="" bestv=-1 v
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]] || continue
        v="$(basename "$(dirname "$d")")"
        v="${v%%.*}"
        [[ "$v" =~ ^[0-9]+$ ]] || continue
        if (( v > bestv )); then best="$d"; bestv="$v"; fi
    done
    [[ -n "$best" ]] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
    printf '%s\n' "$best"
}

# Run a command as the user that owns the cluster: "postgres" when we are
# root (PostgreSQL refuses to run as root), ourselves otherwise.
as_pg() {
    # cd / first: the caller's cwd may not be readable by postgres.
    if [[ $EUID -eq 0 ]]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

pg_user_can_use() { # dir: can the cluster owner create files in dir?
    as_pg test -d "$1" -a -w "$1" -a -x "$1" 2>/dev/null
}

port_in_use() {
    # Something accepts connections on 127.0.0.1:$1?
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() { # [avoid]
    local p
    if [[ "$PREFERRED_PORT" != "${1:-}" ]] && ! port_in_use "$PREFERRED_PORT"; then
        printf '%s\n' "$PREFERRED_PORT"; return
    fi
    for _ in $(seq 1 50); do
        p=$(( 20000 + RANDOM % 40000 ))
        if [[ "$p" != "${1:-}" ]] && ! port_in_use "$p"; then printf '%s\n' "$p"; return; fi
    done
    die "could not find a free TCP port"
}

read_state() {
    # Sets PG_BASE PG_PORT PG_BINDIR from the state file, if present.
    PG_BASE="" PG_PORT="" PG_BINDIR=""
    [[ -f "$STATE" ]] || return 1
    local k v
    while IFS='=' read -r k v; do
        case "$k" in
            base) PG_BASE="$v" ;;
            port) PG_PORT="$v" ;;
            bindir) PG_BINDIR="$v" ;;
        esac
    done <"$STATE"
    [[ -n "$PG_BASE" ]]
}

url_for() { printf 'postgres://postgres@127.0.0.1:%s/%s?sslmode=disable\n' "$1" "$DB_NAME"; }

alive() { # pid: running and not a zombie (an unreaped postmaster still answers kill -0)
    local st
    [[ -r "/proc/$1/stat" ]] || return 1
    st="$(sed -E 's/^.*\) ([A-Za-z]).*$/\1/' "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n "$st" && "$st" != Z && "$st" != X ]]
}

# Stop a cluster whose base dir is $1 (data in $1/data), using bindir $2.
stop_cluster() {
    local base="$1" bindir="$2" data="$1/data" pid=""
    [[ -d "$data" ]] || return 0
    if [[ -f "$data/postmaster.pid" ]]; then
        pid="$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)"
    fi
    if [[ -n "$pid" && "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
        log "stopping PostgreSQL (pid $pid, $data)"
        if [[ -x "$bindir/pg_ctl" ]]; then
            as_pg "$bindir/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
                as_pg "$bindir/pg_ctl" -D "$data" -m immediate -w -t 15 stop >/dev/null 2>&1 || true
        fi
        if alive "$pid"; then
            log "postmaster $pid still alive; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
        fi
    fi
}

remove_base() { # base
    local base="$1"
    [[ -n "$base" && "$base" != "/" ]] || return 0
    if [[ -d "$base" ]]; then
        rm -rf -- "$base"
    fi
}

# --- commands --------------------------------------------------------------

# Copy base's postgres.log to $KEEP_LOG_DIR, if that is set.
keep_log() { # base
    [[ -n "${KEEP_LOG_DIR:-}" && -f "$1/postgres.log" ]] || return 0
    mkdir -p "$KEEP_LOG_DIR" && cp -- "$1/postgres.log" "$KEEP_LOG_DIR/postgres.log" &&
        log "kept the server log as $KEEP_LOG_DIR/postgres.log"
}

cmd_stop() {
    if read_state; then
        stop_cluster "$PG_BASE" "${PG_BINDIR:-$(find_bindir 2>/dev/null || true)}"
        keep_log "$PG_BASE"
        remove_base "$PG_BASE"
        rm -f -- "$STATE"
        log "stopped"
    else
        # No state file: still clean up a cluster in the default place.
        if [[ -d "$CACHE/pg/data" ]]; then
            stop_cluster "$CACHE/pg" "$(find_bindir 2>/dev/null || true)"
            keep_log "$CACHE/pg"
            remove_base "$CACHE/pg"
            log "stopped"
        else
            log "not running"
        fi
    fi
}

cmd_start() {
    local bindir base data sock port attempt
    bindir="$(find_bindir)"
    if [[ $EUID -eq 0 ]]; then
        id -u postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user (install the postgresql package)"
    fi

    # Stale cluster from an earlier run (killed before "stop")?
    if [[ -f "$STATE" || -d "$CACHE/pg/data" ]]; then
        log "cleaning up the cluster of a previous run"
        cmd_stop || true
    fi

    mkdir -p "$CACHE"
    base="$CACHE/pg"
    rm -rf -- "$base"
    mkdir -p "$base"
    [[ $EUID -eq 0 ]] && chown postgres: "$base"
    # The socket path must fit in sun_path (107 bytes): ".s.PGSQL.NNNNN" is 14.
    if ! pg_user_can_use "$base" || (( ${#base} + 20 > 100 )); then
        rm -rf -- "$base"
        base="$(mktemp -d /tmp/arca-pg.XXXXXX)"
        [[ $EUID -eq 0 ]] && chown postgres: "$base"
        chmod 700 "$base"
        pg_user_can_use "$base" || die "the postgres user cannot write to $base"
        log "repository dir not usable by the postgres user; cluster in $base"
    fi
    data="$base/data"
    sock="$base"

    # Record it before anything can fail, so "stop" always finds it.
    {
        echo "base=$base"
        echo "bindir=$bindir"
    } >"$STATE"

    log "initdb ($bindir) -> $data"
    if ! as_pg "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --locale=C \
            --no-sync >"$base/initdb.log" 2>&1; then
        cat "$base/initdb.log" >&2
        die "initdb failed"
    fi

    cat >>"$data/postgresql.conf" <<EOF

# --- arca test settings (scripts/pg.sh) ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$sock'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOF

    port=""
    for attempt in 1 2 3 4 5; do
        port="$(pick_port "$port")"
        log "starting PostgreSQL on 127.0.0.1:$port"
        if as_pg "$bindir/pg_ctl" -D "$data" -l "$base/postgres.log" -o "-p $port" \
                -w -t 60 start >/dev/null 2>&1; then
            break
        fi
        if grep -q -E 'could not bind|Address already in use|could not create any TCP/IP sockets|lock file .* already exists' \
                "$base/postgres.log" 2>/dev/null && (( attempt < 5 )); then
            log "port $port busy; trying another"
            : >"$base/postgres.log" || true
            continue
        fi
        tail -n 50 "$base/postgres.log" >&2 || true
        die "PostgreSQL failed to start (log: $base/postgres.log)"
    done
    echo "port=$port" >>"$STATE"

    if ! "$bindir/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d postgres \
            -c "CREATE DATABASE $DB_NAME" >&2; then
        die "could not create database $DB_NAME"
    fi
    log "ready: $(url_for "$port")"
    url_for "$port"
}

cmd_url() {
    if ! read_state || [[ -z "$PG_PORT" ]]; then
        die "not running (no $STATE)"
    fi
    url_for "$PG_PORT"
}

cmd_status() {
    if read_state && [[ -n "$PG_PORT" ]] && as_pg "$PG_BINDIR/pg_ctl" -D "$PG_BASE/data" status >/dev/null 2>&1; then
        echo "running: $(url_for "$PG_PORT") (data: $PG_BASE/data)"
    else
        echo "not running"
        return 3
    fi
}

KEEP_LOG_DIR=""
if [[ "${1:-}" == stop && "${2:-}" == --keep-log ]]; then
    [[ -n "${3:-}" ]] || die "--keep-log needs a directory"
    KEEP_LOG_DIR="$3"
fi

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    url) cmd_url ;;
    status) cmd_status ;;
    *) echo "usage: $0 start|stop [--keep-log DIR]|url|status" >&2; exit 2 ;;
esac
