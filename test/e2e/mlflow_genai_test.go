package e2e

import (
	"encoding/base64"
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
// and creates an evaluation dataset and upserts records;
// testdata/mlflow/otlp.py is an OpenTelemetry-instrumented application
// that exports its spans straight to the server with the OpenTelemetry
// SDK's OTLP/HTTP exporter, read back with mlflow.search_traces and
// get_trace. Both scripts run against a real `mlflow server` of the same
// venv too, and must pass the same steps there.

// genaiSteps runs genai.py with env and returns its step lines ("ok
// <step>", "FAIL <step>") without timings.
func genaiSteps(t *testing.T, py string, env []string, prefix string) ([]string, string, error) {
	return scriptSteps(t, "genai.py", py, env, prefix)
}

// scriptSteps runs one of the step scripts of testdata/mlflow.
func scriptSteps(t *testing.T, name, py string, env []string, prefix string) ([]string, string, error) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("testdata", "mlflow", name))
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

// otlpEnv adds to env what otlp.py's exporter reads: the OTLP traces
// endpoint of the server at base, and the Authorization header (Basic
// when user is set, the way an application configures an exporter).
func otlpEnv(env []string, base, user, password string) []string {
	env = append(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="+base+"/v1/traces")
	if user != "" {
		basic := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
		env = append(env, "OTEL_EXPORTER_OTLP_TRACES_HEADERS=Authorization=Basic%20"+basic)
	}
	return env
}

func testMLflowGenAI(t *testing.T, py, databaseURL string, want referenceSteps) {
	srv := StartServer(t, ServerOptions{DatabaseURL: databaseURL})
	password, token := createMLflowDeveloper(t, srv, mlflowDeveloper)
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
	if !slices.Equal(got, want.genai) {
		t.Errorf("steps against arca differ from those against mlflow server:\n arca:   %q\n mlflow: %q", got, want.genai)
	}
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/3\.0/mlflow/traces/tr-[0-9a-f]+/assessments`, 200)
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/api/3\.0/mlflow/datasets/d-[0-9a-f]+/records`, 200)
	// The client itself exports its spans over OTLP now, and reads them
	// back with GetTrace.
	wantMLflowRequests(t, srv, mlflowDeveloper, "POST", `/mlflow/v1/traces`, 200)
	wantMLflowRequests(t, srv, mlflowDeveloper, "GET", `/mlflow/api/3\.0/mlflow/traces/get`, 200)

	// An OpenTelemetry application exports to arca with Basic credentials
	// in the exporter's headers; mlflow reads with the token.
	got, out, err = scriptSteps(t, "otlp.py", py, otlpEnv(env, srv.URL+"/mlflow", mlflowDeveloper, password), mlflowDeveloper)
	t.Logf("otlp.py against arca:\n%s", indent(out))
	if err != nil {
		t.Fatalf("otlp.py failed against arca: %v (its output is above)", err)
	}
	if !slices.Equal(got, want.otlp) {
		t.Errorf("OTLP steps against arca differ from those against mlflow server:\n arca:   %q\n mlflow: %q", got, want.otlp)
	}
	// Without credentials the exporter is refused, in OTLP's own format.
	r := curl(t, strings.NewReader("junk"), "-X", "POST", "-H", "Content-Type: application/x-protobuf", "-H", "X-Mlflow-Experiment-Id: 0",
		"--data-binary", "@-", srv.URL+"/mlflow/v1/traces")
	wantStatus(t, r, http.StatusUnauthorized, "anonymous OTLP export")
	srv.WantNoServerErrors()
}

// referenceSteps are the steps of the scripts against mlflow server.
type referenceSteps struct {
	genai, otlp []string
}

// referenceGenAISteps runs genai.py and otlp.py against `mlflow server`
// (SQLite backend, local artifacts) from the same venv and returns their
// steps, which must all pass.
func referenceGenAISteps(t *testing.T, py string) referenceSteps {
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
	var ref referenceSteps
	var out string
	ref.genai, out, err = genaiSteps(t, py, env, "reference")
	if err != nil {
		t.Fatalf("genai.py failed against mlflow server (the script, not arca, is wrong): %v\n%s", err, indent(out))
	}
	ref.otlp, out, err = scriptSteps(t, "otlp.py", py, otlpEnv(env, fmt.Sprintf("http://127.0.0.1:%d", port), "", ""), "reference")
	if err != nil {
		t.Fatalf("otlp.py failed against mlflow server (the script, not arca, is wrong): %v\n%s", err, indent(out))
	}
	return ref
}
