#!/usr/bin/env bash
# Installs the OCI clients that the end-to-end tests (test/e2e/oci_test.go)
# drive against arca, each only when it is missing or at another version:
#
#   crane   github.com/google/go-containerregistry/cmd/crane  (go install)
#   oras    oras.land/oras/cmd/oras                            (go install)
#   helm    helm.sh/helm/v3/cmd/helm                           (go install; test/e2e/helm_test.go)
#   skopeo  Debian package                                     (apt-get)
#
# crane, oras and helm go into $ARCA_TOOLS_BIN (default .cache/bin under the
# repository); skopeo goes wherever apt puts it (/usr/bin). The versions are
# pinned to the ones the tests were written and run against; change them
# here. The last lines printed are the location of each client, and the
# script exits non-zero if one could not be installed.
#
# Usage: scripts/install-oci-clients.sh
# Environment:
#   ARCA_TOOLS_BIN   where crane and oras are installed (made absolute)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

CRANE_MODULE="github.com/google/go-containerregistry"
CRANE_VERSION="v0.22.1"
ORAS_MODULE="oras.land/oras"
ORAS_VERSION="v1.3.6"
HELM_MODULE="helm.sh/helm/v3"
HELM_VERSION="v3.21.4"

BIN="${ARCA_TOOLS_BIN:-$ROOT/.cache/bin}"
mkdir -p "$BIN"
BIN="$(cd "$BIN" && pwd)"

die() { printf 'install-oci-clients.sh: error: %s\n' "$*" >&2; exit 1; }

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

go_tool crane "$CRANE_MODULE" "$CRANE_VERSION" "$CRANE_MODULE/cmd/crane"
go_tool oras "$ORAS_MODULE" "$ORAS_VERSION" "$ORAS_MODULE/cmd/oras"
go_tool helm "$HELM_MODULE" "$HELM_VERSION" "$HELM_MODULE/cmd/helm"

if command -v skopeo >/dev/null 2>&1; then
    echo "skopeo: present"
else
    SUDO=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "skopeo is missing and this is not root; install it (apt-get install skopeo) or run as root"
        SUDO=(sudo -n)
    fi
    command -v apt-get >/dev/null 2>&1 || die "skopeo is missing and there is no apt-get; install skopeo yourself"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when apt does not know skopeo yet (a
    # fresh image ships without lists).
    if ! apt-cache show skopeo >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -q </dev/null
    fi
    echo "skopeo: installing with apt-get"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends skopeo </dev/null ||
        die "apt-get install skopeo failed"
    command -v skopeo >/dev/null 2>&1 || die "skopeo still not in PATH after apt-get install"
fi

echo "crane:  $BIN/crane ($("$BIN/crane" version))"
echo "oras:   $BIN/oras ($("$BIN/oras" version | awk '/^Version:/ { print $2 }'))"
echo "skopeo: $(command -v skopeo) ($(skopeo --version))"
echo "helm:   $BIN/helm ($("$BIN/helm" version --short))"
