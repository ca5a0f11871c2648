#!/usr/bin/env bash
# Runs arca's whole test suite, setting up everything it needs first:
#
#   1. Debian packages (PostgreSQL server, git, curl, python3 venv, Maven,
#      Gradle and a JDK, rpm) - only the missing ones, with apt-get (needs
#      root);
#   1b. crane and oras (go install) into .cache/bin, exported as
#      ARCA_TOOLS_BIN, and skopeo (apt-get), for the registry's e2e tests;
#      verdaccio (npm, pinned) into .cache/verdaccio, exported as
#      ARCA_TEST_VERDACCIO, for the e2e test of arca import npm;
#      chromium (apt-get) for the web UI's; slapd and ldap-utils (apt-get)
#      and test/oidcop (go install) for the SSO tests;
#      jaeger, promtool and actionlint (scripts/install-ops-tools.sh) for
#      the tracing e2e test, deploy/prometheus and docs/ci;
#      chromium (apt-get) for the web UI's;
#   2. a Python virtualenv in .cache/venv with the clients the end-to-end
#      tests drive (dvc), exported as ARCA_TEST_VENV; one with mlflow and
#      scikit-learn (scripts/install-mlflow-clients.sh), ARCA_TEST_MLFLOW_VENV;
#   3. a throwaway PostgreSQL (scripts/pg.sh), exported as
#      ARCA_TEST_POSTGRES_URL and stopped again on exit;
#   4. go vet, then go test -count=1 -timeout 30m, through gotestsum
#      (go install into .cache/bin) when it installs: the output of go test
#      (its ok/FAIL lines), then a summary naming every skipped test; the
#      events go to results/go-test.json. When tests fail, PostgreSQL's log
#      is kept as results/postgres.log.
#
# Usage: scripts/test.sh [go test flags] [packages]
#   scripts/test.sh                          # everything (./...)
#   scripts/test.sh -run Foo ./internal/...  # forwarded to go test
# Without a package argument the packages are ./... .
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Python clients for the end-to-end tests. Pinned for reproducible runs;
# the venv is rebuilt when this line changes.
PY_REQUIREMENTS=("dvc==3.67.1" "dvc-s3==3.3.0" "twine==7.0.0" "build==1.6.1" "wheel==0.48.0" "uv==0.13.9" "setuptools==65.5.0")
VENV="$ROOT/.cache/venv"
# The newest boto3 cannot share a venv with dvc-s3 (aiobotocore pins an older
# botocore), so the S3 clients get their own. [crt] brings CRC32C/CRC64NVME.
PY_S3_REQUIREMENTS=("boto3[crt]==1.44.8" "awscli==1.46.3")
VENV_S3="$ROOT/.cache/venv-s3"
# pypiserver serves the package directory that arca import pypi reads in
# the import test (its own venv: it pins its own dependencies).
PYPISERVER_REQUIREMENT="pypiserver==2.4.2"
VENV_PYPISERVER="$ROOT/.cache/venv-pypiserver"
GO_TEST_TIMEOUT="${ARCA_GO_TEST_TIMEOUT:-30m}"
GOTESTSUM_VERSION="v1.13.0"
RESULTS="${ARCA_TEST_RESULTS:-$ROOT/results}"

START=$SECONDS
section() { printf '\n==== %s ==== (+%ds)\n' "$*" $((SECONDS - START)); }
die() { printf '\ntest.sh: error: %s\n' "$*" >&2; exit 1; }

# One run per checkout at a time: a second run would wipe the first one's
# PostgreSQL cluster (scripts/pg.sh start cleans up what it finds).
mkdir -p "$ROOT/.cache"
exec 9>"$ROOT/.cache/test.lock"
if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
    echo "another scripts/test.sh is running in $ROOT; waiting for it..."
    flock 9
fi

# ---------------------------------------------------------------------------
section "System packages"

have_pg_server() {
    local d
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" && -x "$d/psql" ]] && return 0
    done
    return 1
}

missing=()
have_pg_server || missing+=(postgresql postgresql-client)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v s3cmd >/dev/null 2>&1 || missing+=(s3cmd)
command -v rclone >/dev/null 2>&1 || missing+=(rclone)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
command -v javac >/dev/null 2>&1 || missing+=(default-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
# Debian's gradle 4.4.1 (test/e2e/gradle_test.go works around its packaging
# of maven-publish with an init script; docs/maven.md explains).
command -v gradle >/dev/null 2>&1 || missing+=(gradle)
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry) # distribution 2.8: the foreign OCI target of replication tests
command -v runuser >/dev/null 2>&1 || missing+=(util-linux)
command -v rpmbuild >/dev/null 2>&1 || missing+=(rpm) # rpmbuild and rpm write the RPM databases internal/scan reads
# OpenLDAP for the SSO tests (internal/sso/ldaptest starts its own slapd).
[[ -x /usr/sbin/slapd ]] || missing+=(slapd)
command -v ldapadd >/dev/null 2>&1 || missing+=(ldap-utils)
[[ -r /etc/ssl/certs/ca-certificates.crt ]] || missing+=(ca-certificates)
if ! command -v python3 >/dev/null 2>&1; then
    missing+=(python3 python3-venv)
elif ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # Debian's python3 ships venv without ensurepip; python3-venv adds it.
    missing+=(python3-venv)
fi

if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    SUDO=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "missing packages (${missing[*]}) and not root; install them or run as root"
        SUDO=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -q </dev/null
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    have_pg_server || die "PostgreSQL server binaries still missing after apt-get install"
else
    echo "all present (postgresql, curl, git, s3cmd, rclone, npm, maven, gradle, JDK, python3 venv)"
fi

# ---------------------------------------------------------------------------
section "Go toolchain"

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 ||
    die "'go' not found in PATH or /usr/local/go/bin; install Go (see go.mod for the version) first"
go version

# ---------------------------------------------------------------------------
section "OCI and Helm clients (crane, oras, skopeo, helm)"

export ARCA_TOOLS_BIN="${ARCA_TOOLS_BIN:-$ROOT/.cache/bin}"
"$ROOT/scripts/install-oci-clients.sh" || die "could not install the OCI clients (crane, oras, skopeo)"
echo "ARCA_TOOLS_BIN=$ARCA_TOOLS_BIN"

# ---------------------------------------------------------------------------
section "Verdaccio (the npm registry arca import npm reads)"
# Pinned; npm installs it into .cache/verdaccio (6.8.0 is the newest that
# runs on Debian's Node 20). The e2e tests start it themselves.
VERDACCIO_VERSION="6.8.0"
VERDACCIO_DIR="$ROOT/.cache/verdaccio"
export ARCA_TEST_VERDACCIO="$VERDACCIO_DIR/node_modules/.bin/verdaccio"
if [[ -x "$ARCA_TEST_VERDACCIO" && "$(cat "$VERDACCIO_DIR/.arca-version" 2>/dev/null)" == "$VERDACCIO_VERSION" ]]; then
    echo "verdaccio $VERDACCIO_VERSION: up to date"
else
    mkdir -p "$VERDACCIO_DIR"
    [[ -f "$VERDACCIO_DIR/package.json" ]] || echo '{"private":true}' >"$VERDACCIO_DIR/package.json"
    (cd "$VERDACCIO_DIR" && npm install --no-audit --no-fund --loglevel=error "verdaccio@$VERDACCIO_VERSION" </dev/null) ||
        die "could not install verdaccio $VERDACCIO_VERSION"
    echo "$VERDACCIO_VERSION" >"$VERDACCIO_DIR/.arca-version"
fi
echo "ARCA_TEST_VERDACCIO=$ARCA_TEST_VERDACCIO"

# ---------------------------------------------------------------------------
section "Test OpenID provider (test/oidcop)"
# The example provider of github.com/zitadel/oidc with a groups claim, for
# the SSO e2e tests; pinned by test/oidcop/go.mod and go.sum.
(cd "$ROOT/test/oidcop" && GOBIN="$ARCA_TOOLS_BIN" GOFLAGS=-mod=readonly go install .) </dev/null ||
    die "could not build test/oidcop"
echo "oidcop: $ARCA_TOOLS_BIN/oidcop"
section "Operations tools (jaeger, promtool, actionlint)"
"$ROOT/scripts/install-ops-tools.sh" || die "could not install jaeger, promtool and actionlint"

# ---------------------------------------------------------------------------
section "Browser for the web UI tests (chromium)"
"$ROOT/scripts/install-ui-clients.sh" || die "could not install chromium"

# ---------------------------------------------------------------------------
section "Python virtualenv ($VENV)"

# No telemetry or update checks from dvc (there is no network but the package
# registries); inherited by the dvc processes the e2e tests start.
export DVC_NO_ANALYTICS=1 ITERATIVE_DO_NOT_TRACK=1

stamp="$VENV/.arca-requirements"
want="$(printf '%s\n' "${PY_REQUIREMENTS[@]}")"
venv_ok() {
    [[ -x "$VENV/bin/python" && -x "$VENV/bin/dvc" ]] || return 1
    [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || return 1
    "$VENV/bin/python" -c 'import dvc, dvc_http, dvc_s3, twine, build, wheel, setuptools' >/dev/null 2>&1
}

if venv_ok; then
    echo "up to date: ${PY_REQUIREMENTS[*]}"
else
    if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
        echo "existing venv is broken; recreating"
        rm -rf -- "$VENV"
    fi
    if [[ ! -x "$VENV/bin/python" ]]; then
        mkdir -p "$(dirname "$VENV")"
        python3 -m venv "$VENV"
    fi
    rm -f -- "$stamp"
    "$VENV/bin/python" -m pip install --progress-bar off "${PY_REQUIREMENTS[@]}" </dev/null

    # Smoke check: dvc works and knows the HTTP remote.
    scratch="$(mktemp -d)"
    if ! (
        cd "$scratch" &&
            git init -q . &&
            "$VENV/bin/dvc" init -q &&
            "$VENV/bin/dvc" remote add -d arca http://127.0.0.1:1/dvc >/dev/null &&
            "$VENV/bin/python" -c 'import dvc_http'
    ); then
        rm -rf -- "$scratch"
        die "dvc in $VENV does not work (see above)"
    fi
    rm -rf -- "$scratch"
    printf '%s\n' "$want" >"$stamp"
fi
echo "dvc $("$VENV/bin/dvc" --version)"
export ARCA_TEST_VENV="$VENV"
echo "ARCA_TEST_VENV=$ARCA_TEST_VENV"

section "Python virtualenv for S3 clients ($VENV_S3)"
stamp_s3="$VENV_S3/.arca-requirements"
want_s3="$(printf '%s\n' "${PY_S3_REQUIREMENTS[@]}")"
if [[ -x "$VENV_S3/bin/aws" && -f "$stamp_s3" && "$(cat "$stamp_s3")" == "$want_s3" ]] &&
    "$VENV_S3/bin/python" -c 'import boto3, awscrt' >/dev/null 2>&1; then
    echo "up to date: ${PY_S3_REQUIREMENTS[*]}"
else
    rm -rf -- "$VENV_S3"
    python3 -m venv "$VENV_S3"
    "$VENV_S3/bin/python" -m pip install --progress-bar off "${PY_S3_REQUIREMENTS[@]}" </dev/null
    "$VENV_S3/bin/python" -c 'import boto3, awscrt' || die "boto3 in $VENV_S3 does not work"
    printf '%s\n' "$want_s3" >"$stamp_s3"
fi
export ARCA_TEST_S3_VENV="$VENV_S3"
echo "ARCA_TEST_S3_VENV=$ARCA_TEST_S3_VENV"

section "pypiserver, the source of the PyPI import test ($VENV_PYPISERVER)"
stamp_ps="$VENV_PYPISERVER/.arca-requirements"
if [[ -x "$VENV_PYPISERVER/bin/pypi-server" && -f "$stamp_ps" && "$(cat "$stamp_ps")" == "$PYPISERVER_REQUIREMENT" ]]; then
    echo "up to date: $PYPISERVER_REQUIREMENT"
else
    rm -rf -- "$VENV_PYPISERVER"
    python3 -m venv "$VENV_PYPISERVER"
    "$VENV_PYPISERVER/bin/python" -m pip install --progress-bar off "$PYPISERVER_REQUIREMENT" </dev/null
    "$VENV_PYPISERVER/bin/pypi-server" --version >/dev/null || die "pypiserver in $VENV_PYPISERVER does not work"
    printf '%s\n' "$PYPISERVER_REQUIREMENT" >"$stamp_ps"
fi
export ARCA_TEST_PYPISERVER_VENV="$VENV_PYPISERVER"
echo "ARCA_TEST_PYPISERVER_VENV=$ARCA_TEST_PYPISERVER_VENV"

section "MLflow client and server"
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true
export ARCA_TEST_MLFLOW_VENV="${ARCA_TEST_MLFLOW_VENV:-$ROOT/.cache/venv-mlflow}"
"$ROOT/scripts/install-mlflow-clients.sh" || die "could not install the MLflow venv"
echo "ARCA_TEST_MLFLOW_VENV=$ARCA_TEST_MLFLOW_VENV"

# ---------------------------------------------------------------------------
section "PostgreSQL"

cleanup() {
    local rc=$?
    trap - EXIT
    if [[ -n "${PG_STARTED:-}" ]]; then
        printf '\n==== Stopping PostgreSQL ====\n'
        if ((rc != 0)); then
            "$ROOT/scripts/pg.sh" stop --keep-log "$RESULTS" 9>&- || true
        else
            "$ROOT/scripts/pg.sh" stop 9>&- || true
        fi
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

PG_STARTED=1
ARCA_TEST_POSTGRES_URL="$("$ROOT/scripts/pg.sh" start 9>&-)" || die "could not start PostgreSQL"
export ARCA_TEST_POSTGRES_URL
echo "ARCA_TEST_POSTGRES_URL=$ARCA_TEST_POSTGRES_URL"

# ---------------------------------------------------------------------------
# Split the arguments into package patterns and go test flags.
pkgs=()
for a in "$@"; do
    case "$a" in
        ./* | ../* | . | .. | */... | ... | github.com/*) pkgs+=("$a") ;;
    esac
done
args=("$@")
if ((${#pkgs[@]} == 0)); then
    pkgs=(./...)
    args+=(./...)
fi

section "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"

# gotestsum runs go test -json, prints what go test prints (standard-quiet),
# then a summary with the skipped tests; its status is go test's.
gotestsum="$ARCA_TOOLS_BIN/gotestsum"
if [[ ! -x "$gotestsum" || "$("$gotestsum" --version 2>/dev/null)" != *"${GOTESTSUM_VERSION#v}"* ]]; then
    GOBIN="$ARCA_TOOLS_BIN" go install "gotest.tools/gotestsum@$GOTESTSUM_VERSION" </dev/null ||
        echo "test.sh: could not install gotestsum; running go test without the summary of skipped tests" >&2
fi
mkdir -p "$RESULTS"

section "go test -count=1 -timeout $GO_TEST_TIMEOUT ${args[*]}"
if [[ -x "$gotestsum" ]]; then
    "$gotestsum" --format standard-quiet --jsonfile "$RESULTS/go-test.json" -- \
        -count=1 -timeout "$GO_TEST_TIMEOUT" "${args[@]}"
else
    go test -count=1 -timeout "$GO_TEST_TIMEOUT" "${args[@]}"
fi

section "All tests passed"
