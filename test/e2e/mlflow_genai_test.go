package e2e

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// MLflow 3's GenAI surface with the real mlflow client:
// testdata/mlflow/genai.py registers and loads prompts by version and
// alias, logs feedback and expectations on a trace and reads them back,
// and creates an evaluation dataset and upserts records. The script runs
// against a real `mlflow server` of the same venv too, and both must pass
// the same steps.

// genaiSteps runs genai.py with env and returns its step lines ("ok
// <step>", "FAIL <step>") without timings.
func genaiSteps(t *testing.T, py string, env []string, prefix string) ([]string, string, error) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "mlflow", "genai.py"))
	if err != nil {
		t.Fatal(err)
	}
	out, err := runCmdErr(mlflowTimeout, t.TempDir(), env, py, script, "--prefix", prefix)
	timing := regexp.MustCompile(` \([0-9.]+s\)`)
	var steps []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "ok ") || strings.HasPrefix(line, "FAIL ") {
			line, _, _ = strings.Cut(timing.ReplaceAllString(line, ""), ":")
			steps = append(steps, strings.Join(strings.Fields(line), " "))
		}
	}
	return steps, out, err
}

// TestMLflowGenAI runs genai.py as a developer with a token against arca on
// SQLite and PostgreSQL, and against a real mlflow server, and compares
// the steps.
func TestMLflowGenAI(t *testing.T) {
	py := mlflowPython(t)
	needTool(t, "curl")
	want := referenceGenAISteps(t, py)
	t.Run("sqlite", func(t *testing.T) { testMLflowGenAI(t, py, "", want) })
	t.Run("postgres", func(t *testing.T) { testMLflowGenAI(t, py, metatest.PostgresURL(t), want) })
}

func testMLflowGenAI(t *testing.T, py, databaseURL string, want []string) {
	srv := StartServer(t, ServerOptions{DatabaseURL: databaseURL})
	_, token := createMLflowDeveloper(t, srv, mlflowDeveloper)
	env := mlflowEnv(srv, mlflowCreds{token: token}, t.TempDir())

	// Authentication comes before validation: a malformed request without
	// credentials is refused as unauthenticated, on /api/ and /ajax-api/.
	for _, p := range []string{"/mlflow/api/2.0/mlflow/experiments/search", "/mlflow/ajax-api/2.0/mlflow/experiments/search",
		"/mlflow/api/3.0/mlflow/datasets/create", "/mlflow/api/3.0/mlflow/traces/tr-1/assessments"} {
		r := curl(t, strings.NewReader(`{"max_results": "many"`), "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-", srv.URL+p)
		wantStatus(t, r, http.StatusUnauthorized, "anonymous POST "+p+" with a malformed body")
	}
	got, out, err := genaiSteps(t, py, env, mlflowDeveloper)
	t.Logf("genai.py against arca:\n%s", indent(out))
	if err != nil {
		t.Fatalf("genai.py failed against arca: %v (its output is above)", err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("steps against arca differ from those against mlflow server:\n arca:   %q\n mlflow: %q", got, want)
	}
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/3\.0/mlflow/traces/tr-[0-9a-f]+/assessments`, 200)
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/3\.0/mlflow/datasets/d-[0-9a-f]+/records`, 200)
	// No server errors but the one documented refusal: OTLP span export
	// (POST /mlflow/v1/traces) is answered 501, and the client then
	// uploads the spans as the trace's artifact.
	for _, line := range serverErrorRe.FindAllString(srv.Log(), -1) {
		if !strings.Contains(line, "path=/mlflow/v1/traces status=501") {
			t.Errorf("the server logged a failure: %s", line)
		}
	}
}

// referenceGenAISteps runs genai.py against `mlflow server` (SQLite
// backend, local artifacts) from the same venv and returns its steps,
// which must all pass.
func referenceGenAISteps(t *testing.T, py string) []string {
	t.Helper()
	mlflowBin := filepath.Join(filepath.Dir(py), "mlflow")
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	env := mlflowEnv(&Server{URL: "http://127.0.0.1:" + fmt.Sprint(port)}, mlflowCreds{}, dir)
	env = slices.DeleteFunc(env, func(kv string) bool {
		return strings.HasPrefix(kv, "MLFLOW_TRACKING_USERNAME=") || strings.HasPrefix(kv, "MLFLOW_TRACKING_PASSWORD=")
	})
	for i, kv := range env {
		if strings.HasPrefix(kv, "MLFLOW_TRACKING_URI=") {
			env[i] = "MLFLOW_TRACKING_URI=http://127.0.0.1:" + fmt.Sprint(port)
		}
	}
	cmd := exec.Command(mlflowBin, "server", "--backend-store-uri", "sqlite:///"+filepath.Join(dir, "mlflow.db"),
		"--artifacts-destination", filepath.Join(dir, "artifacts"), "--host", "127.0.0.1", "--port", fmt.Sprint(port), "--workers", "1")
	cmd.Dir, cmd.Env = dir, env
	logPath := filepath.Join(dir, "mlflow-server.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = serverGroup()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting mlflow server: %v", err)
	}
	defer func() {
		killGroup(cmd)
		cmd.Wait()
		logFile.Close()
	}()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", port))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("mlflow server did not answer /health within 3 minutes:\n%s", indent(string(log)))
		}
		time.Sleep(time.Second)
	}
	steps, out, err := genaiSteps(t, py, env, "reference")
	if err != nil {
		t.Fatalf("genai.py failed against mlflow server (the script, not arca, is wrong): %v\n%s", err, indent(out))
	}
	return steps
}
