#!/usr/bin/env bash
# npm registry benchmark (issue 6): arca against Verdaccio, side by side on
# the same machine and the same filesystem, in the same run.
#
# What it does, all in one temporary directory that is removed on exit:
#   1. builds arca (./cmd/arca) and bench/npmbench (standard library only);
#   2. installs Verdaccio with npm into the temporary directory
#      (BENCH_VERDACCIO, default verdaccio@6.8, the newest release that
#      supports this machine's Node 20; verdaccio@6 on Node 22 or later);
#   3. starts arca (fresh data directory, SQLite and filesystem blobs, the
#      defaults) and Verdaccio (fresh storage, htpasswd auth, no uplinks, web
#      UI off, JWT API tokens) on free loopback ports; both require
#      authentication to read, as arca's npm-hosted repository does, and get
#      a bearer token;
#   4. publishes to each, the way npm publish does (PUT of the document with
#      the base64 tarball): a package with BENCH_VERSIONS versions (1000),
#      one version at a time, and BENCH_DEPS small packages (50);
#   5. fetches the big package's packument BENCH_REQUESTS times (or for at
#      most BENCH_MAX_TIME), full
#      (npm view) and abbreviated (npm install's Accept header), from one
#      client and from BENCH_CONCURRENCY clients, sending npm's
#      Accept-Encoding: gzip, checking every 50th answer's version count;
#   6. times `npm install` of a project that depends on the BENCH_DEPS small
#      packages: with an empty npm cache and no lockfile ("cold"), then again
#      without node_modules and lockfile but with the cache ("warm": npm
#      revalidates the packuments it has);
#   7. runs steps 5 and 6 BENCH_ROUNDS times in ABBA order (arca first in odd
#      rounds), and prints the machine, the load average and a Markdown table
#      of medians with arca's figure, Verdaccio's and the ratio.
#
# Usage: bench/npm.sh
# Environment:
#   BENCH_VERSIONS      versions of the big package (1000)
#   BENCH_DEPS          dependencies of the install project (50)
#   BENCH_REQUESTS      packument requests per measurement (300), or as
#                       many as BENCH_MAX_TIME allows (30s; at least 10)
#   BENCH_CONCURRENCY   clients of the concurrent packument measurement (8)
#   BENCH_ROUNDS        rounds of steps 5 and 6 (3)
#   BENCH_VERDACCIO     the npm package spec of Verdaccio to install
#   BENCH_DIR           parent of the temporary directory ($TMPDIR or /tmp)
#   BENCH_ARCA_REV      build arca from this git revision instead of the
#                       working tree
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSIONS="${BENCH_VERSIONS:-1000}"
DEPS="${BENCH_DEPS:-50}"
REQUESTS="${BENCH_REQUESTS:-300}"
MAX_TIME="${BENCH_MAX_TIME:-30s}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
ROUNDS="${BENCH_ROUNDS:-3}"
PARENT="${BENCH_DIR:-${TMPDIR:-/tmp}}"
ARCA_REV="${BENCH_ARCA_REV:-}"

die() { printf 'npm.sh: error: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

for v in VERSIONS DEPS REQUESTS CONCURRENCY ROUNDS; do
    [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer, not '${!v}'"
done
((DEPS <= 99)) || die "BENCH_DEPS must be at most 99"
for tool in go curl npm node awk; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
NODE_MAJOR="$(node -p 'process.versions.node.split(".")[0]')"
if [[ -n "${BENCH_VERDACCIO:-}" ]]; then
    VERDACCIO="$BENCH_VERDACCIO"
elif ((NODE_MAJOR >= 22)); then
    VERDACCIO="verdaccio@6"
else
    VERDACCIO="verdaccio@6.8"
fi
mkdir -p "$PARENT"

WORK="$(mktemp -d "$PARENT/arca-npmbench.XXXXXX")"
ARCA_PID=""
VERD_PID=""
stop() { # stop PID: ends a process this script started and waits for it
    [[ -n "$1" ]] || return 0
    kill "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
cleanup() {
    local rc=$?
    stop "$ARCA_PID"
    stop "$VERD_PID"
    if [[ $rc -ne 0 ]]; then
        for f in arca.log verdaccio.log; do
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

log "building arca and npmbench in $WORK ..."
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
(cd "$ROOT" && go build -o "$WORK/npmbench" ./bench/npmbench)
NB="$WORK/npmbench"
GO_VERSION="$(cd "$ROOT" && go version)"

# npm runs with a home, user config and cache of its own.
mkdir -p "$WORK/home"
export HOME="$WORK/home"
unset "${!npm_config_@}" "${!NPM_CONFIG_@}" 2>/dev/null || true
export npm_config_update_notifier=false npm_config_audit=false npm_config_fund=false

log "installing $VERDACCIO with npm ..."
mkdir -p "$WORK/verdaccio"
# Some registry mirrors lack the "cjs" dist-tag of node-fetch that a
# Verdaccio plugin asks for; pin it to the same major version.
printf '{"private":true,"overrides":{"node-fetch":"^2.7.0"}}\n' >"$WORK/verdaccio/package.json"
(cd "$WORK/verdaccio" && npm install --no-audit --no-fund --loglevel=error --cache "$WORK/npm-cache-tools" "$VERDACCIO" >&2)
VERD_BIN="$WORK/verdaccio/node_modules/.bin/verdaccio"
[[ -x "$VERD_BIN" ]] || die "Verdaccio did not install"
VERD_VERSION="$("$VERD_BIN" --version)"

loadavg() { cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown; }
LOAD_START="$(loadavg)"
STARTED="$(date -u '+%Y-%m-%d %H:%M UTC')"

wait_ready() { # wait_ready URL PID NAME
    local deadline=$((SECONDS + 60))
    until curl -s -o /dev/null "$1"; do
        kill -0 "$2" 2>/dev/null || die "$3 exited before it became ready"
        ((SECONDS < deadline)) || die "$3 did not become ready within 60s"
        sleep 0.1
    done
}

# --- arca -------------------------------------------------------------------
ARCA_PORT=$("$NB" port)
PASSWORD="bench-$RANDOM-$RANDOM-$RANDOM"
ARCA_URL="http://127.0.0.1:$ARCA_PORT"
log "starting arca on $ARCA_URL ..."
env -u ARCA_CONFIG -u ARCA_DATABASE_URL -u ARCA_BLOB_DIR -u ARCA_MAX_UPLOAD_BYTES -u ARCA_PUBLIC_URL \
    ARCA_ADDR="127.0.0.1:$ARCA_PORT" ARCA_S3_ADDR="127.0.0.1:$("$NB" port)" ARCA_LOG_LEVEL=warn \
    ARCA_DATA_DIR="$WORK/arca-data" ARCA_ADMIN_PASSWORD="$PASSWORD" \
    "$WORK/arca" serve >"$WORK/arca.log" 2>&1 &
ARCA_PID=$!
wait_ready "$ARCA_URL/readyz" "$ARCA_PID" arca
ARCA_REG="$ARCA_URL/npm/npm-hosted/"
ARCA_TOKEN="$(curl -sf -u "admin:$PASSWORD" -X POST -d '{"name":"npm-bench"}' "$ARCA_URL/api/v1/users/admin/tokens" |
    sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')"
[[ -n "$ARCA_TOKEN" ]] || die "could not create an arca token"

# --- Verdaccio ----------------------------------------------------------------
VERD_PORT=$("$NB" port)
VERD_REG="http://127.0.0.1:$VERD_PORT/"
mkdir -p "$WORK/verdaccio-storage"
cat >"$WORK/verdaccio.yaml" <<EOF
storage: $WORK/verdaccio-storage
auth:
  htpasswd:
    file: $WORK/verdaccio-htpasswd
    max_users: 1000
uplinks: {}
packages:
  '@*/*':
    access: \$authenticated
    publish: \$authenticated
  '**':
    access: \$authenticated
    publish: \$authenticated
max_body_size: 200mb
# JWT tokens, so that a request's token is checked with an HMAC; Verdaccio's
# default ("legacy") tokens carry the password and cost a bcrypt per request.
security:
  api:
    jwt:
      sign:
        expiresIn: 30d
web:
  enable: false
log: { type: stdout, format: pretty, level: warn }
EOF
log "starting Verdaccio $VERD_VERSION on $VERD_REG ..."
"$VERD_BIN" --config "$WORK/verdaccio.yaml" --listen "127.0.0.1:$VERD_PORT" >"$WORK/verdaccio.log" 2>&1 &
VERD_PID=$!
wait_ready "$VERD_REG-/ping" "$VERD_PID" Verdaccio
VERD_TOKEN="$(curl -sf -X PUT -H 'Content-Type: application/json' \
    -d "{\"name\":\"bench\",\"password\":\"$PASSWORD\",\"email\":\"bench@example.com\"}" \
    "${VERD_REG}-/user/org.couchdb.user:bench" | sed -n 's/.*"token": *"\([^"]*\)".*/\1/p')"
[[ -n "$VERD_TOKEN" ]] || die "could not create a Verdaccio user"

# --- seed ---------------------------------------------------------------------
log "publishing $VERSIONS versions and $DEPS packages to arca ..."
NPMBENCH_TOKEN="$ARCA_TOKEN" "$NB" seed -registry "$ARCA_REG" -versions "$VERSIONS" -deps "$DEPS" -out "$WORK/arca-seed.jsonl"
log "publishing $VERSIONS versions and $DEPS packages to Verdaccio ..."
NPMBENCH_TOKEN="$VERD_TOKEN" "$NB" seed -registry "$VERD_REG" -versions "$VERSIONS" -deps "$DEPS" -out "$WORK/verdaccio-seed.jsonl"

# --- the rounds ---------------------------------------------------------------
PROJECT="$WORK/project-template"
mkdir -p "$PROJECT"
"$NB" project -dir "$PROJECT" -deps "$DEPS"

install_round() { # install_round TARGET REGISTRY TOKEN OUT
    local target=$1 reg=$2 token=$3 out=$4 dir="$WORK/install-$1" t0 t1 n
    rm -rf "$dir" "$WORK/npm-cache-$target"
    mkdir -p "$dir"
    cp "$PROJECT/package.json" "$dir/"
    printf 'registry=%s\n%s:_authToken=%s\n' "$reg" "${reg#http:}" "$token" >"$dir/.npmrc"
    for phase in cold warm; do
        rm -rf "$dir/node_modules" "$dir/package-lock.json"
        sync
        t0=$(date +%s.%N)
        (cd "$dir" && npm install --cache "$WORK/npm-cache-$target" --ignore-scripts --loglevel=error >/dev/null) ||
            die "npm install from $target failed"
        t1=$(date +%s.%N)
        n=$(find "$dir/node_modules" -mindepth 1 -maxdepth 1 -name 'bench-dep-*' | wc -l)
        ((n == DEPS)) || die "npm install from $target installed $n of $DEPS packages"
        "$NB" record -out "$out" -metric "npm install of $DEPS dependencies, $phase npm cache, no lockfile" \
            -unit s -better lower -value "$(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.3f", z - a }')"
    done
}

bench() { # bench TARGET REGISTRY TOKEN ROUND
    local target=$1 reg=$2 token=$3 out="$WORK/$1-$4.jsonl" form
    log "round $4: $target ..."
    for form in full abbreviated; do
        NPMBENCH_TOKEN="$token" "$NB" get -registry "$reg" -form "$form" -versions "$VERSIONS" -n "$REQUESTS" -max-time "$MAX_TIME" -c 1 -out "$out"
        NPMBENCH_TOKEN="$token" "$NB" get -registry "$reg" -form "$form" -versions "$VERSIONS" -n $((REQUESTS * 2)) -max-time "$MAX_TIME" -c "$CONCURRENCY" -out "$out"
    done
    install_round "$target" "$reg" "$token" "$out"
}

A_FILES=("$WORK/arca-seed.jsonl") B_FILES=("$WORK/verdaccio-seed.jsonl")
for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then
        bench arca "$ARCA_REG" "$ARCA_TOKEN" "$r"
        bench verdaccio "$VERD_REG" "$VERD_TOKEN" "$r"
    else
        bench verdaccio "$VERD_REG" "$VERD_TOKEN" "$r"
        bench arca "$ARCA_REG" "$ARCA_TOKEN" "$r"
    fi
    A_FILES+=("$WORK/arca-$r.jsonl")
    B_FILES+=("$WORK/verdaccio-$r.jsonl")
done
LOAD_END="$(loadavg)"

# --- report -------------------------------------------------------------------
CPU_MODEL="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || true)"
VIRT="bare metal or unknown"
grep -qw hypervisor /proc/cpuinfo 2>/dev/null && VIRT="virtual machine"
MEM="$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null || true)"
FS="$(df -PT "$WORK" | awk 'NR == 2 { print $2 " on " $1 }')"
comma() { local IFS=,; echo "$*"; }

cat <<EOF

## npm registry vs Verdaccio

- date:       $STARTED
- machine:    $(nproc) CPUs ($VIRT), ${CPU_MODEL:-unknown CPU}, ${MEM:-? GiB} RAM, $(uname -sr)
- filesystem: $FS (both registries' storage)
- load avg:   $LOAD_START at start, $LOAD_END at end (other work on the machine skews every figure)
- arca:       $ARCA_DESC, $GO_VERSION; SQLite + filesystem blob store (defaults); bearer token
- peer:       Verdaccio $VERD_VERSION on Node $(node --version); filesystem storage, htpasswd auth, no uplinks; bearer token (JWT)
- npm:        $(npm --version), fresh cache per target and round, --ignore-scripts
- runs:       $ROUNDS rounds, ABBA order; packument: $REQUESTS requests from 1 client, $((REQUESTS * 2)) from $CONCURRENCY, each for at most $MAX_TIME; publishing once
- figures:    median over the rounds; the clients send npm's Accept-Encoding: gzip, deflate

EOF
"$NB" report -a "$(comma "${A_FILES[@]}")" -b "$(comma "${B_FILES[@]}")" -b-name Verdaccio
