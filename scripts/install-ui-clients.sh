#!/usr/bin/env bash
# Installs the browser that the web UI's end-to-end tests (test/e2e/ui_test.go)
# drive: Debian's chromium, with apt-get, only when it is missing. The tests
# find it as ARCA_CHROMIUM, else `chromium` in the PATH. The last line
# printed is its location and version; the script exits non-zero if it could
# not be installed.
#
# Usage: scripts/install-ui-clients.sh
set -euo pipefail

die() { printf 'install-ui-clients.sh: error: %s\n' "$*" >&2; exit 1; }

if command -v chromium >/dev/null 2>&1; then
    echo "chromium: present"
else
    SUDO=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "chromium is missing and this is not root; install it (apt-get install chromium) or run as root"
        SUDO=(sudo -n)
    fi
    command -v apt-get >/dev/null 2>&1 || die "chromium is missing and there is no apt-get; install chromium yourself"
    export DEBIAN_FRONTEND=noninteractive
    # Refresh the package lists only when apt does not know chromium yet (a
    # fresh image ships without lists).
    if ! apt-cache show chromium >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -q </dev/null
    fi
    echo "chromium: installing with apt-get"
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends chromium </dev/null ||
        die "apt-get install chromium failed"
    command -v chromium >/dev/null 2>&1 || die "chromium still not in PATH after apt-get install"
fi

echo "chromium: $(command -v chromium) ($(chromium --version 2>/dev/null || echo 'version unknown'))"
