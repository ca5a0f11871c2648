#!/usr/bin/env bash
# Builds the Python virtualenv with the real MLflow client and server and
# scikit-learn, which the MLflow end-to-end tests (test/e2e/mlflow_test.go)
# and the MLflow benchmark (bench/mlflow.sh) drive:
#
#   mlflow[auth]==3.17.2, scikit-learn==1.9.1 and the OpenTelemetry SDK's
#   OTLP/HTTP exporter (opentelemetry-exporter-otlp-proto-http==1.45.2, which
#   the OTLP trace ingestion test exports with), every other package at the
#   version in scripts/mlflow-clients.constraints.
#
# The venv is rebuilt from scratch when the pins or the constraints change
# (a stamp file inside it records what it was built from) or when it is
# broken. The package index is whatever pip is configured to use on this
# machine. The last line printed is the venv's path.
#
# Usage: scripts/install-mlflow-clients.sh
# Environment:
#   ARCA_TEST_MLFLOW_VENV   where the venv goes (default .cache/venv-mlflow)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# [auth] brings what the client of MLflow's permission API imports (Flask-WTF).
REQUIREMENTS=("mlflow[auth]==3.17.2" "scikit-learn==1.9.1" "opentelemetry-exporter-otlp-proto-http==1.45.2")
CONSTRAINTS="$ROOT/scripts/mlflow-clients.constraints"
VENV="${ARCA_TEST_MLFLOW_VENV:-$ROOT/.cache/venv-mlflow}"

die() { printf 'install-mlflow-clients.sh: error: %s\n' "$*" >&2; exit 1; }

# No usage reporting from the client or the server, here or in the processes
# that inherit this environment.
export MLFLOW_DISABLE_TELEMETRY=true DO_NOT_TRACK=true

[[ -r "$CONSTRAINTS" ]] || die "$CONSTRAINTS is missing"
command -v python3 >/dev/null 2>&1 || die "python3 not found (scripts/test.sh installs it)"

stamp="$VENV/.arca-requirements"
want="$(printf '%s\n' "${REQUIREMENTS[@]}"; cat "$CONSTRAINTS")"

# versions prints the installed versions of mlflow and scikit-learn; it fails
# when either does not import.
versions() {
    "$VENV/bin/python" -c 'import mlflow, sklearn; print(f"mlflow {mlflow.__version__}, scikit-learn {sklearn.__version__}")' 2>/dev/null
}

if [[ -x "$VENV/bin/python" && -x "$VENV/bin/mlflow" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]] &&
    have="$(versions)"; then
    echo "up to date: $have"
else
    echo "building $VENV: ${REQUIREMENTS[*]}"
    rm -rf -- "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed (is python3-venv installed?)"
    "$VENV/bin/python" -m pip install --progress-bar off -c "$CONSTRAINTS" "${REQUIREMENTS[@]}" </dev/null ||
        die "pip install ${REQUIREMENTS[*]} failed"
    # Smoke check: the client's model flavors import and the server's CLI runs.
    "$VENV/bin/python" -c 'import mlflow.sklearn, mlflow.pyfunc, mlflow.server.auth.client, opentelemetry.exporter.otlp.proto.http.trace_exporter' || die "mlflow in $VENV does not import"
    "$VENV/bin/mlflow" server --help >/dev/null || die "mlflow server in $VENV does not run"
    have="$(versions)" || die "mlflow or scikit-learn in $VENV does not import"
    echo "installed: $have"
    printf '%s\n' "$want" >"$stamp"
fi
echo "$VENV"
