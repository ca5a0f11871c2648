#!/usr/bin/env bash
# Installs the operations tools the tests drive, each only when it is
# missing or at another version:
#
#   jaeger      github.com/jaegertracing/jaeger/cmd/jaeger          the OTLP receiver and query API of
#                                                                   the tracing e2e test (test/e2e/tracing_test.go)
#   promtool    github.com/prometheus/prometheus/cmd/promtool       checks and unit-tests deploy/prometheus
#   actionlint  github.com/rhysd/actionlint/cmd/actionlint          checks docs/ci's GitHub Actions workflows
#
# into $ARCA_TOOLS_BIN (default .cache/bin under the repository). The
# versions are pinned; change them here. Jaeger's go.mod has a replace
# directive, which `go install pkg@version` refuses, so it is built inside
# its downloaded module (where the replace applies) with go build, and its
# version kept in a stamp file beside it. Each build takes minutes the
# first time.
#
# Usage: scripts/install-ops-tools.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

JAEGER_MODULE="github.com/jaegertracing/jaeger"
JAEGER_VERSION="v1.76.0" # the Go module version of Jaeger v2.13
PROMETHEUS_MODULE="github.com/prometheus/prometheus"
PROMETHEUS_VERSION="v0.316.0" # Prometheus 3.x's Go module version
ACTIONLINT_MODULE="github.com/rhysd/actionlint"
ACTIONLINT_VERSION="v1.7.12"

BIN="${ARCA_TOOLS_BIN:-$ROOT/.cache/bin}"
mkdir -p "$BIN"
BIN="$(cd "$BIN" && pwd)"

die() { printf 'install-ops-tools.sh: error: %s\n' "$*" >&2; exit 1; }

if ! command -v go >/dev/null 2>&1 && [[ -x /usr/local/go/bin/go ]]; then
    export PATH="/usr/local/go/bin:$PATH"
fi
command -v go >/dev/null 2>&1 || die "'go' not found in PATH or /usr/local/go/bin"

# go_tool NAME MODULE VERSION PACKAGE: installs PACKAGE@VERSION as $BIN/NAME
# unless the binary there was already built from MODULE at VERSION.
go_tool() {
    local name=$1 module=$2 version=$3 pkg=$4 have
    have="$(go version -m "$BIN/$name" 2>/dev/null | awk -v m="$module" '$1 == "mod" && $2 == m { print $3 }' || true)"
    if [[ -x "$BIN/$name" && "$have" == "$version" ]]; then
        echo "$name $version: up to date"
        return
    fi
    echo "$name: installing $pkg@$version into $BIN${have:+ (was $have)}"
    # Run outside the repository so its go.mod is never consulted or changed.
    (cd / && GOBIN="$BIN" GOFLAGS=-mod=mod go install "$pkg@$version" </dev/null) ||
        die "go install $pkg@$version failed"
}

stamp="$BIN/.jaeger-version"
if [[ -x "$BIN/jaeger" && -f "$stamp" && "$(cat "$stamp")" == "$JAEGER_VERSION" ]]; then
    echo "jaeger $JAEGER_VERSION: up to date"
else
    echo "jaeger: building $JAEGER_MODULE/cmd/jaeger@$JAEGER_VERSION into $BIN"
    dir="$(cd / && go mod download -json "$JAEGER_MODULE@$JAEGER_VERSION" </dev/null |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [[ -n "$dir" && -d "$dir" ]] || die "go mod download $JAEGER_MODULE@$JAEGER_VERSION failed"
    rm -f -- "$stamp"
    (cd "$dir" && GOFLAGS=-buildvcs=false go build -trimpath -o "$BIN/jaeger" ./cmd/jaeger </dev/null) ||
        die "building jaeger failed"
    printf '%s\n' "$JAEGER_VERSION" >"$stamp"
fi

go_tool promtool "$PROMETHEUS_MODULE" "$PROMETHEUS_VERSION" "$PROMETHEUS_MODULE/cmd/promtool"
go_tool actionlint "$ACTIONLINT_MODULE" "$ACTIONLINT_VERSION" "$ACTIONLINT_MODULE/cmd/actionlint"

echo "jaeger:     $BIN/jaeger ($JAEGER_VERSION)"
echo "promtool:   $BIN/promtool ($("$BIN/promtool" --version 2>&1 | head -1))"
echo "actionlint: $BIN/actionlint ($("$BIN/actionlint" -version 2>&1 | head -1))"
