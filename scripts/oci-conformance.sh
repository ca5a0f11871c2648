#!/usr/bin/env bash
# Runs the OCI distribution-spec conformance suite
# (github.com/opencontainers/distribution-spec/conformance) against arca, or
# against any registry that is already running.
#
#   1. builds the suite once per version into .cache/oci-conformance/<version>/
#      (go install through the module proxy; the repository's go.mod is not
#      touched);
#   2. builds arca (go build ./cmd/arca) and starts `arca serve` on a free
#      loopback port with a fresh data directory and a random admin password;
#   3. runs the suite with authentication (admin + that password) and every
#      optional API and data set switched on, repositories
#      library/conformance-one and library/conformance-two;
#   4. prints the counts from junit.xml and exits non-zero when a test failed
#      or errored (or the suite produced no junit.xml).
#
# arca is always stopped on exit, and its data directory removed.
#
# Usage:
#   scripts/oci-conformance.sh                 # against a freshly built arca
#   scripts/oci-conformance.sh --target URL    # against a running registry,
#                                              # e.g. http://127.0.0.1:5000
# Options:
#   --target URL     registry base URL (http:// or https://); no arca is built
#                    or started. Credentials come from OCI_USERNAME and
#                    OCI_PASSWORD if set, otherwise the suite runs anonymously.
#   --results DIR    where the results go (default: $OCI_CONFORMANCE_RESULTS
#                    or results/oci-conformance)
#   --keep           keep arca's data directory (its path is printed)
#   -v, --verbose    stream the suite's whole report, not only the summary
#
# Environment:
#   OCI_CONFORMANCE_RESULTS       results directory (default results/oci-conformance)
#   OCI_CONFORMANCE_VERSION       suite version (default pinned below; "latest"
#                                 asks the module proxy)
#   OCI_CONFORMANCE_FAIL_ON_SKIP  1 = also fail when a test was skipped (with
#                                 everything enabled, a skip means the
#                                 registry answered "unsupported")
#   OCI_FILTER_TEST, OCI_LOG      passed through to the suite
#
# Results: junit.xml, report.html, results.yaml (the suite's), conformance.log
# (its stdout and stderr), arca.log (arca's output), summary.txt (the counts).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SUITE_MODULE="github.com/opencontainers/distribution-spec/conformance"
# Newest version on proxy.golang.org as of 2026-11 (the module has no tags;
# `go list -m -versions` is empty, `go list -m <module>@latest` gives this).
SUITE_DEFAULT_VERSION="v0.0.0-20260831232431-97274622c111"
# The suite's images live in an arca repository created for it, whose
# policy accepts the sparse image manifests the suite pushes (by default
# arca answers those with MANIFEST_BLOB_UNKNOWN).
REPO1="conformance/one"
REPO2="conformance/two"
ADMIN_USER="admin"

target=""
results="${OCI_CONFORMANCE_RESULTS:-results/oci-conformance}"
keep=0
verbose=0

die() { printf 'oci-conformance.sh: error: %s\n' "$*" >&2; exit 2; }
log() { printf '==> %s\n' "$*"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --target) [[ $# -ge 2 ]] || die "--target needs a URL"; target="$2"; shift 2 ;;
        --target=*) target="${1#--target=}"; shift ;;
        --results) [[ $# -ge 2 ]] || die "--results needs a directory"; results="$2"; shift 2 ;;
        --results=*) results="${1#--results=}"; shift ;;
        --keep) keep=1; shift ;;
        -v|--verbose) verbose=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument: $1 (see --help)" ;;
    esac
done

command -v go >/dev/null 2>&1 || die "go is not on PATH"
command -v curl >/dev/null 2>&1 || die "curl is not on PATH"

mkdir -p "$results"
results="$(cd "$results" && pwd)"
rm -f "$results"/{junit.xml,report.html,results.yaml,conformance.log,arca.log,summary.txt}

# ---------------------------------------------------------------------------
# Cleanup: everything started here is stopped on any exit.

WORK="$(mktemp -d "${TMPDIR:-/tmp}/arca-oci-conformance.XXXXXX")"
arca_pid=""
suite_pid=""
data_dir=""

# shellcheck disable=SC2317 # invoked by the EXIT trap
cleanup() {
    local rc=$?
    if [[ -n "$suite_pid" ]] && kill -0 "$suite_pid" 2>/dev/null; then
        kill -TERM "$suite_pid" 2>/dev/null || true
        wait "$suite_pid" 2>/dev/null || true
    fi
    if [[ -n "$arca_pid" ]] && kill -0 "$arca_pid" 2>/dev/null; then
        kill -TERM "$arca_pid" 2>/dev/null || true
        for _ in $(seq 1 100); do
            kill -0 "$arca_pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$arca_pid" 2>/dev/null; then
            echo "arca (pid $arca_pid) did not stop within 10s; killing it" >&2
            kill -KILL "$arca_pid" 2>/dev/null || true
        fi
        wait "$arca_pid" 2>/dev/null || true
    fi
    if [[ -n "$data_dir" && "$keep" == 1 ]]; then
        echo "arca data directory kept: $data_dir"
    elif [[ -n "$data_dir" ]]; then
        rm -rf "$data_dir"
    fi
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# The suite binary, cached per version.

version="${OCI_CONFORMANCE_VERSION:-$SUITE_DEFAULT_VERSION}"
if [[ "$version" == latest ]]; then
    version="$(cd "$WORK" && GOWORK=off GOFLAGS='' go list -m -f '{{.Version}}' "$SUITE_MODULE@latest")" ||
        die "cannot resolve $SUITE_MODULE@latest"
fi
suite_dir="$ROOT/.cache/oci-conformance/$version"
suite_bin="$suite_dir/conformance"
if [[ ! -x "$suite_bin" ]]; then
    log "building $SUITE_MODULE@$version"
    mkdir -p "$suite_dir"
    # go install pkg@version builds outside any module, so the repository's
    # go.mod and go.sum stay as they are. Version is what the report shows as
    # the commit (module downloads carry no VCS stamp).
    (cd "$WORK" && GOWORK=off GOFLAGS='' GOBIN="$WORK/bin" \
        go install -ldflags "-X main.Version=$version" "$SUITE_MODULE@$version") ||
        die "building the conformance suite failed"
    mv -f "$WORK/bin/conformance" "$suite_bin"
else
    log "conformance suite $version (cached: ${suite_bin#"$ROOT"/})"
fi

# ---------------------------------------------------------------------------
# The registry: a fresh arca, or --target.

free_port() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
        return
    fi
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    die "no free port found"
}

# Starts arca on a free port; returns non-zero if it exits before it is ready.
start_arca() {
    local port="$1" env_args=() name
    # arca's environment: ours without any ARCA_* variable, plus its settings.
    while IFS= read -r name; do
        [[ "$name" == ARCA_* ]] && env_args+=(-u "$name")
    done < <(compgen -e)
    data_dir="$(mktemp -d "${TMPDIR:-/tmp}/arca-oci-conformance-data.XXXXXX")"
    registry="127.0.0.1:$port"
    (cd "$data_dir" && exec env "${env_args[@]}" \
        ARCA_ADDR="$registry" \
        ARCA_S3_ADDR="127.0.0.1:0" \
        ARCA_PUBLIC_URL="http://$registry" \
        ARCA_DATA_DIR="$data_dir" \
        ARCA_ADMIN_PASSWORD="$admin_password" \
        ARCA_LOG_FORMAT=text \
        "$arca_bin" serve) >>"$results/arca.log" 2>&1 &
    arca_pid=$!
    for _ in $(seq 1 300); do
        if ! kill -0 "$arca_pid" 2>/dev/null; then
            wait "$arca_pid" 2>/dev/null || true
            arca_pid=""
            rm -rf "$data_dir"
            data_dir=""
            return 1
        fi
        if curl -sf -o /dev/null --max-time 2 "http://$registry/readyz"; then
            curl -sf -o /dev/null --max-time 10 -u "admin:$admin_password" -X POST "http://$registry/api/v1/repositories" \
                -d '{"name":"conformance","format":"oci","description":"OCI conformance suite","settings":{"allow_sparse":true}}' ||
                die "creating the conformance repository failed"
            return 0
        fi
        sleep 0.1
    done
    die "arca did not answer /readyz within 30s (log: $results/arca.log)"
}

tls="disabled"
user=""
password=""
if [[ -n "$target" ]]; then
    case "$target" in
        http://*) tls="disabled" ;;
        https://*) tls="${OCI_TLS:-enabled}" ;;
        *) die "--target wants an http:// or https:// URL, got $target" ;;
    esac
    registry="${target#*://}"
    registry="${registry%%/*}"
    user="${OCI_USERNAME:-}"
    password="${OCI_PASSWORD:-}"
    log "target registry $target ($([[ -n "$user" ]] && echo "as $user" || echo anonymous))"
    curl -s -o /dev/null --max-time 10 -k "${target%/}/v2/" ||
        die "$target/v2/ does not answer"
else
    arca_bin="$WORK/arca"
    log "building arca"
    go build -o "$arca_bin" ./cmd/arca || die "building arca failed"
    admin_password="conformance-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
    user="$ADMIN_USER"
    password="$admin_password"
    started=0
    for _ in 1 2 3; do
        if start_arca "$(free_port)"; then
            started=1
            break
        fi
        echo "arca exited while starting; retrying on another port" >&2
    done
    [[ "$started" == 1 ]] || { tail -n 40 "$results/arca.log" >&2; die "arca did not start (log: $results/arca.log)"; }
    log "arca (pid $arca_pid) ready at http://$registry, data in $data_dir"
fi

# ---------------------------------------------------------------------------
# The run.

# The suite's environment: ours without OCI_* (stale or legacy switches
# would change what is tested), except the two meant to be passed through.
suite_env=()
while IFS= read -r name; do
    case "$name" in
        OCI_FILTER_TEST|OCI_LOG) ;;
        OCI_*) suite_env+=(-u "$name") ;;
    esac
done < <(compgen -e)
suite_env+=(
    OCI_CONFIGURATION=/dev/null # no oci-conformance.yaml from the working directory
    OCI_VERSION=1.1
    OCI_REGISTRY="$registry"
    OCI_TLS="$tls"
    OCI_REPO1="$REPO1"
    OCI_REPO2="$REPO2"
    OCI_USERNAME="$user"
    OCI_PASSWORD="$password"
    OCI_CACHE_AUTH=true
    OCI_RESULTS_DIR="$results"
    # every API
    OCI_API_PING=true
    OCI_API_PULL=true
    OCI_API_PUSH=true
    OCI_API_BLOBS_ATOMIC=true
    OCI_API_BLOBS_DELETE=true
    OCI_API_BLOBS_DIGEST_HEADER=true
    OCI_API_BLOBS_MOUNT_ANONYMOUS=true
    OCI_API_BLOBS_UPLOAD_CANCEL=true
    OCI_API_MANIFESTS_ATOMIC=true
    OCI_API_MANIFESTS_DELETE=true
    OCI_API_MANIFESTS_DIGEST_HEADER=true
    OCI_API_MANIFESTS_TAG_PARAM=true
    OCI_API_TAGS_ATOMIC=true
    OCI_API_TAGS_DELETE=true
    OCI_API_TAGS_LIST=true
    OCI_API_REFERRER=true
    # every data set
    OCI_DATA_IMAGE=true
    OCI_DATA_INDEX=true
    OCI_DATA_INDEX_LIST=true
    OCI_DATA_SPARSE=true
    OCI_DATA_ARTIFACT=true
    OCI_DATA_SUBJECT=true
    OCI_DATA_SUBJECT_MISSING=true
    OCI_DATA_ARTIFACT_LIST=true
    OCI_DATA_SUBJECT_LIST=true
    OCI_DATA_DATA_FIELD=true
    OCI_DATA_NONDISTRIBUTABLE=true
    OCI_DATA_CUSTOM_FIELDS=true
    OCI_DATA_NO_LAYERS=true
    OCI_DATA_EMPTY_BLOB=true
    OCI_DATA_SHA512=true
    # no read-only data: the suite pushes its own
    OCI_RO_DATA_TAGS=
    OCI_RO_DATA_MANIFESTS=
    OCI_RO_DATA_BLOBS=
    OCI_RO_DATA_REFERRERS=
)

log "running the conformance suite against $registry (repositories $REPO1, $REPO2)"
start=$SECONDS
# The suite runs in the background and is waited for, so that a signal to
# this script is handled at once (the exit trap stops the suite and arca).
mkfifo "$WORK/out.fifo"
if [[ "$verbose" == 1 ]]; then
    # everything to the terminal and the log
    tee "$results/conformance.log" <"$WORK/out.fifo" &
    tee_pid=$!
    (cd "$WORK" && exec env "${suite_env[@]}" "$suite_bin") >"$WORK/out.fifo" 2>&1 &
    suite_pid=$!
else
    # stdout (the long per-test tree) only to the log; stderr (one line per
    # failed test) to the log and the terminal
    tee -a "$results/conformance.log" <"$WORK/out.fifo" >&2 &
    tee_pid=$!
    (cd "$WORK" && exec env "${suite_env[@]}" "$suite_bin") >>"$results/conformance.log" 2>"$WORK/out.fifo" &
    suite_pid=$!
fi
suite_rc=0
wait "$suite_pid" || suite_rc=$?
suite_pid=""
wait "$tee_pid" || true
if [[ "$verbose" != 1 ]]; then
    # the summary part of the report: result, counts, per-API and per-data status
    sed -n '/^OCI Conformance Result:/,$p' "$results/conformance.log"
fi
log "suite finished in $((SECONDS - start))s with exit status $suite_rc"

# ---------------------------------------------------------------------------
# Counts from junit.xml.

junit="$results/junit.xml"
if [[ ! -s "$junit" ]]; then
    echo "FAIL: the suite wrote no $junit (see $results/conformance.log)" >&2
    exit 1
fi
# <testsuite name=".." tests=".." failures=".." errors=".." [disabled=".."] [skipped=".."] time="..">
suite_line="$(grep -m1 '<testsuite ' "$junit")"
attr() {
    local v
    v="$(sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$suite_line")"
    echo "${v:-0}"
}
tests="$(attr tests)"
failures="$(attr failures)"
errors="$(attr errors)"
skipped="$(attr skipped)"
disabled="$(attr disabled)"
passed=$((tests - failures - errors - skipped - disabled))
summary="tests=$tests passed=$passed failures=$failures errors=$errors skipped=$skipped disabled=$disabled"
echo "$summary" >"$results/summary.txt"
echo
echo "OCI conformance ($version) against $registry: $summary"
echo "results: $results/{junit.xml,report.html,conformance.log}"

status=0
if ((failures + errors > 0)); then
    echo "FAIL: $failures failed and $errors errored of $tests tests"
    grep -E 'level=WARN msg="failed test"' "$results/conformance.log" |
        sed -E 's/.*name="OCI Conformance Test\/([^"]*)".*/\1/' |
        awk '{ if (!($0 in n)) order[++k] = $0; n[$0]++ }
             END { for (i = 1; i <= k && i <= 40; i++) printf "  %s%s\n", order[i], (n[order[i]] > 1 ? " (x" n[order[i]] ")" : "");
                   if (k > 40) printf "  ... %d more (see conformance.log)\n", k - 40 }' || true
    status=1
elif ((suite_rc != 0)); then
    echo "FAIL: the suite exited with status $suite_rc"
    status=1
fi
if ((skipped > 0)); then
    echo "note: $skipped tests skipped (an API answered \"unsupported\"); see report.html"
    [[ "${OCI_CONFORMANCE_FAIL_ON_SKIP:-0}" == 1 ]] && status=1
fi
if ((disabled > 0)); then
    echo "note: $disabled tests disabled although every switch is on"
fi
if ((status == 0)); then
    echo "PASS"
fi
exit "$status"
