package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// The MLflow surface with the real mlflow Python client (and scikit-learn):
// testdata/mlflow/workflow.py drives it and asserts every step; these tests
// start arca, create the identities, run the script and check what the
// script cannot see (the server's log, the artifacts through S3).

// mlflowTimeout bounds one run of the workflow script. Logging a model
// spends most of it (the client infers the model's pip requirements in a
// subprocess).
const mlflowTimeout = 10 * time.Minute

// mlflowDeveloper is the non-admin user of the tests: developer on the
// mlflow repository, nothing else.
const mlflowDeveloper = "alice"

// mlflowPython returns the python of ARCA_TEST_MLFLOW_VENV.
func mlflowPython(t *testing.T) string {
	t.Helper()
	venv := os.Getenv("ARCA_TEST_MLFLOW_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_MLFLOW_VENV (a Python virtualenv with mlflow and scikit-learn) is not set")
	}
	py := filepath.Join(venv, "bin", "python")
	for _, p := range []string{py, filepath.Join(venv, "bin", "mlflow")} {
		if _, err := os.Stat(p); err != nil {
			missing(t, "%s is missing from ARCA_TEST_MLFLOW_VENV: %v", filepath.Base(p), err)
		}
	}
	return py
}

// mlflowCreds is how the client authenticates: Basic with a user name and
// password, or a Bearer token.
type mlflowCreds struct {
	user, password, token string
}

// mlflowEnv is the environment of the workflow script against srv: the
// tracking URI, the credentials, no telemetry, and no client retries (a
// retried 5xx would hide a server failure; the log check would still see
// it, but later and less clearly).
func mlflowEnv(srv *Server, c mlflowCreds, home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLFLOW_") && !strings.HasPrefix(kv, "ARCA_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home,
		"MLFLOW_TRACKING_URI="+srv.URL+"/mlflow",
		"MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true",
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0", "MLFLOW_HTTP_REQUEST_TIMEOUT=120",
		"PYTHONUNBUFFERED=1")
	if c.token != "" {
		return append(env, "MLFLOW_TRACKING_TOKEN="+c.token)
	}
	return append(env, "MLFLOW_TRACKING_USERNAME="+c.user, "MLFLOW_TRACKING_PASSWORD="+c.password)
}

// runWorkflow runs workflow.py with args and returns the RESULT lines it
// printed (name → value). A failing step fails the test with the script's
// output, which names the step and what differed.
func runWorkflow(t *testing.T, py string, env []string, args ...string) map[string]string {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "mlflow", "workflow.py"))
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	start := time.Now()
	out, err := runCmdErr(mlflowTimeout, work, env, py, append([]string{script}, append(args, "--workdir", work)...)...)
	t.Logf("workflow.py %s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), indent(out))
	if err != nil {
		t.Fatalf("workflow.py %s failed: %v (its output is above)", strings.Join(args, " "), err)
	}
	results := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if rest, ok := strings.CutPrefix(line, "RESULT "); ok {
			k, v, _ := strings.Cut(strings.TrimSpace(rest), " ")
			results[k] = v
		}
	}
	return results
}

// createMLflowDeveloper creates a user with no global role, grants it the
// developer role on the mlflow repository, and returns a token of it.
func createMLflowDeveloper(t *testing.T, srv *Server, name string) (password, token string) {
	t.Helper()
	password = "e2e-" + name + "-Passw0rd"
	npmAPI(t, srv, "POST", "/api/v1/users", fmt.Sprintf(`{"name":%q,"password":%q}`, name, password), http.StatusCreated)
	npmAPI(t, srv, "PUT", "/api/v1/repositories/mlflow/roles/"+name, `{"role":"developer"}`, http.StatusOK)
	var tok struct {
		Token string `json:"token"`
	}
	r := curl(t, strings.NewReader(`{"name":"mlflow-e2e"}`), "-u", name+":"+password, "-X", "POST",
		"-H", "Content-Type: application/json", "--data-binary", "@-", srv.URL+"/api/v1/users/"+name+"/tokens")
	wantStatus(t, r, http.StatusCreated, "creating "+name+"'s token")
	decodeJSON(t, r, &tok)
	if !strings.HasPrefix(tok.Token, "arca_") {
		t.Fatalf("token of %s: %q, want arca_...", name, tok.Token)
	}
	return password, tok.Token
}

// TestMLflowClient runs the whole workflow of the real mlflow client
// against arca with authentication on, on SQLite and on PostgreSQL: as the
// admin (Basic), as a developer with a token (Bearer), and with two writer
// processes logging to one experiment at once.
func TestMLflowClient(t *testing.T) {
	py := mlflowPython(t)
	needTool(t, "curl")
	t.Run("sqlite", func(t *testing.T) { testMLflowClient(t, py, "") })
	t.Run("postgres", func(t *testing.T) { testMLflowClient(t, py, metatest.PostgresURL(t)) })
}

func testMLflowClient(t *testing.T, py, databaseURL string) {
	srv := StartServer(t, ServerOptions{DatabaseURL: databaseURL})
	s3 := s3EndpointOf(t, srv)
	_, token := createMLflowDeveloper(t, srv, mlflowDeveloper)
	home := t.TempDir()
	admin := mlflowEnv(srv, mlflowCreds{user: "admin", password: adminPassword}, home)
	dev := mlflowEnv(srv, mlflowCreds{token: token}, home)

	checkMLflowAuthentication(t, srv, token)

	// The admin with a password: everything, including the artifacts seen
	// through the S3 API.
	res := runWorkflow(t, py, admin, "full", "--prefix", "admin")
	checkArtifactInBucket(t, s3, res)
	wantMLflowRequests(t, srv, "admin", "POST", `/mlflow/api/2\.0/mlflow-artifacts/mpu/complete/\S+`, 200)

	if databaseURL == "" {
		// The developer with a token (Bearer): the same workflow on its own
		// experiment and model.
		runWorkflow(t, py, dev, "full", "--prefix", mlflowDeveloper)
		wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/2\.0/mlflow/runs/log-batch`, 200)
		wantMLflowRequests(t, srv, mlflowDeveloper, "PUT", `/mlflow/api/2\.0/mlflow-artifacts/artifacts/\S+`, 200)
		runWorkflow(t, py, admin, "concurrent", "--prefix", "admin", "--writers", "2", "--points", "3000")
	} else {
		runWorkflow(t, py, dev, "concurrent", "--prefix", mlflowDeveloper, "--writers", "2", "--points", "3000")
	}
	srv.WantNoServerErrors()
}

// checkMLflowAuthentication: no credentials and wrong credentials are 401,
// a user without a role on the mlflow repository is 403 with MLflow's
// PERMISSION_DENIED, the token works as Bearer and as Basic password.
func checkMLflowAuthentication(t *testing.T, srv *Server, token string) {
	t.Helper()
	u := srv.URL + "/mlflow/api/2.0/mlflow/experiments/get?experiment_id=0"
	wantStatus(t, curl(t, nil, u), http.StatusUnauthorized, "anonymous experiments/get")
	wantStatus(t, curl(t, nil, "-u", "admin:wrong-password", u), http.StatusUnauthorized, "experiments/get with a wrong password")
	wantStatus(t, curl(t, nil, "-H", "Authorization: Bearer arca_not-a-token", u), http.StatusUnauthorized, "experiments/get with a wrong token")
	wantStatus(t, curl(t, nil, "-H", "Authorization: Bearer "+token, u), http.StatusOK, "experiments/get with the token (Bearer)")
	wantStatus(t, curl(t, nil, "-u", mlflowDeveloper+":"+token, u), http.StatusOK, "experiments/get with the token (Basic)")

	npmAPI(t, srv, "POST", "/api/v1/users", `{"name":"bob","password":"e2e-bob-Passw0rd"}`, http.StatusCreated)
	r := curl(t, nil, "-u", "bob:e2e-bob-Passw0rd", u)
	wantStatus(t, r, http.StatusForbidden, "experiments/get by a user without a role on mlflow")
	var body struct {
		ErrorCode string `json:"error_code"`
		Message   string `json:"message"`
	}
	decodeJSON(t, r, &body)
	if body.ErrorCode != "PERMISSION_DENIED" || body.Message == "" {
		t.Errorf("refusal body %s, want error_code PERMISSION_DENIED and a message", r.Body(t))
	}
}

// checkArtifactInBucket reads data/weights.bin, which the workflow logged
// through the MLflow artifact proxy, from the mlflow-artifacts bucket with
// an S3 client (curl's SigV4) and compares its sha256.
func checkArtifactInBucket(t *testing.T, s3 *s3Endpoint, res map[string]string) {
	t.Helper()
	root, ok := strings.CutPrefix(res["run_artifact_uri"], "mlflow-artifacts:/")
	if !ok || res["weights_sha256"] == "" {
		t.Fatalf("the workflow reported no artifact URI or digest: %v", res)
	}
	key := strings.TrimPrefix(root, "/") + "/data/weights.bin"
	r := curl(t, nil, "--aws-sigv4", "aws:amz:us-east-1:s3", "-u", s3.KeyID+":"+s3.Secret, s3.URL+"/mlflow-artifacts/"+key)
	wantStatus(t, r, http.StatusOK, "GET mlflow-artifacts/"+key+" over S3")
	if got := sha256Hex(r.Body(t)); got != res["weights_sha256"] {
		t.Errorf("mlflow-artifacts/%s over S3 has sha256 %s, want %s", key, got, res["weights_sha256"])
	}
}

// wantMLflowRequests checks that the server logged at least one request by
// user with the method, a path matching pathRe, and the status.
func wantMLflowRequests(t *testing.T, srv *Server, user, method, pathRe string, status int) {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`msg=request method=%s path=%s status=%d surface=mlflow user=%s `,
		method, pathRe, status, regexp.QuoteMeta(user)))
	if !re.MatchString(srv.Log()) {
		t.Errorf("the server logged no %s %s answered %d for %s", method, pathRe, status, user)
	}
}

// TestMLflowPermissions sets per-experiment and per-registered-model
// permissions with the client of MLflow's authentication app
// (grant_user_permission, get_user_permission) as the admin, and checks
// their effect on a developer who uses a token: the default EDIT from the
// developer role reads and logs but does not delete; MANAGE granted on the
// admin's experiment and model lets the developer delete them; the
// developer manages what it creates.
func TestMLflowPermissions(t *testing.T) {
	py := mlflowPython(t)
	needTool(t, "curl")
	srv := StartServer(t, ServerOptions{})
	_, token := createMLflowDeveloper(t, srv, mlflowDeveloper)
	env := append(mlflowEnv(srv, mlflowCreds{token: token}, t.TempDir()),
		"E2E_ADMIN_USERNAME=admin", "E2E_ADMIN_PASSWORD="+adminPassword)
	runWorkflow(t, py, env, "permissions", "--prefix", "perm", "--user", mlflowDeveloper)
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/2\.0/mlflow/experiments/delete`, 403)
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/2\.0/mlflow/experiments/delete`, 200)
	srv.WantNoServerErrors()
}
