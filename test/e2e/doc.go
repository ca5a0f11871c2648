// Package e2e holds arca's end-to-end tests: they build the real binary once
// (TestMain), start it as a separate process on a loopback port, and drive it
// with the real clients operators use — curl and dvc — exactly as they would.
//
// Prerequisites come from the environment that scripts/test.sh prepares:
//
//   - curl and git in PATH;
//   - ARCA_TEST_POSTGRES_URL, a PostgreSQL server (each test takes its own
//     schema through internal/meta/metatest);
//   - ARCA_TEST_VENV, a Python virtualenv with dvc installed;
//   - ARCA_TEST_MLFLOW_VENV, a Python virtualenv with mlflow[auth] and
//     scikit-learn (scripts/install-mlflow-clients.sh);
//   - ARCA_TEST_VERDACCIO, the verdaccio command (the source registry of
//     `arca import npm`), and docker-registry in PATH (of `arca import oci`).
//
// Locally a missing prerequisite skips the tests that need it, with a message
// saying what is missing; under CI (CI set) it fails them, so that the suite
// can never pass by quietly testing less.
package e2e
