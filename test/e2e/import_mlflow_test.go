package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// arca import with the real source systems: an mlflow server, pypiserver,
// another arca's simple index and S3 API. Each test imports, checks the
// result with the systems' own clients, imports again (everything
// skipped), and dry-runs (counts and bytes, nothing written).

// importRunReport is the JSON report of arca import --report.
type importRunReport struct {
	Source string `json:"source"`
	DryRun bool   `json:"dry_run"`
	Totals map[string]struct {
		Items int   `json:"items"`
		Bytes int64 `json:"bytes"`
	} `json:"totals"`
	Mappings map[string]map[string]string `json:"mappings"`
	Items    []struct {
		Kind, Name, Outcome, Reason string
		Bytes                       int64
	} `json:"items"`
}

// count is the number of items of kind with outcome ("" for any kind).
func (r *importRunReport) count(kind, outcome string) int {
	n := 0
	for _, it := range r.Items {
		if (kind == "" || it.Kind == kind) && it.Outcome == outcome {
			n++
		}
	}
	return n
}

func (r *importRunReport) wantNoFailures(t *testing.T) {
	t.Helper()
	for _, it := range r.Items {
		if it.Outcome == "failed" {
			t.Errorf("failed: %s %s: %s", it.Kind, it.Name, it.Reason)
		}
	}
}

// wantAllSkipped checks that a repeated import moved nothing.
func (r *importRunReport) wantAllSkipped(t *testing.T) {
	t.Helper()
	r.wantNoFailures(t)
	for _, o := range []string{"imported", "would-import"} {
		if n := r.count("", o); n != 0 {
			for _, it := range r.Items {
				if it.Outcome == o {
					t.Errorf("repeated import: %s %s %s", it.Kind, it.Name, o)
				}
			}
		}
	}
	if r.count("", "skipped") == 0 {
		t.Error("repeated import skipped nothing")
	}
}

// arcaImportRun runs `arca import args...` against srv's database (the server
// keeps running) and returns its report, stdout and stderr. env adds
// variables.
func arcaImportRun(t *testing.T, srv *Server, env []string, args ...string) (*importRunReport, string, error) {
	t.Helper()
	report := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, arcaBin, append(append([]string{"import"}, args...), "--report", report)...)
	cmd.Env = append(srv.Env(), env...)
	cmd.Dir = srv.DataDir()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	t.Logf("arca import %s (%s): %v\nstdout:\n%s\nstderr (tail):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond),
		err, indent(stdout.String()), indent(tail(stderr.String(), 20)))
	b, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("arca import wrote no report: %v", rerr)
	}
	var r importRunReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("report: %v", err)
	}
	return &r, stdout.String() + stderr.String(), err
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func uptime() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load unknown"
	}
	return "load average " + strings.Join(strings.Fields(string(b))[:3], " ")
}

// waitHTTPUp waits until url answers 200.
func waitHTTPUp(t *testing.T, url string, within time.Duration, logPath string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	b, _ := os.ReadFile(logPath)
	t.Fatalf("%s did not answer within %s; its log:\n%s", url, within, tail(string(b), 40))
}

// startProcess starts a helper server that dies with the test.
func startProcess(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, f, f
	// Its own process group: mlflow server forks uvicorn and job
	// consumers, which killing the server alone leaves running.
	cmd.SysProcAttr = serverGroup()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	t.Cleanup(func() {
		killGroup(cmd)
		cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("log of %s:\n%s", filepath.Base(name), tail(string(b), 60))
		}
	})
	return logPath
}

var importFigures = regexp.MustCompile(`mlflow import: .*`)

// TestImportMLflow imports a real mlflow server (SQLite backend, artifacts
// served by it) into arca, then compares both with the mlflow client.
func TestImportMLflow(t *testing.T) {
	py := mlflowPython(t)
	venv := filepath.Dir(filepath.Dir(py))
	work := t.TempDir()
	port := freePort(t)
	srcURL := "http://127.0.0.1:" + port
	env := append(mlflowBaseEnv(work), "WORKDIR="+work)
	log := startProcess(t, work, env, filepath.Join(venv, "bin", "mlflow"), "server",
		"--backend-store-uri", "sqlite:///"+filepath.Join(work, "mlflow.db"),
		"--serve-artifacts", "--artifacts-destination", filepath.Join(work, "artifacts"),
		"--host", "127.0.0.1", "--port", port,
		// One worker: uvicorn then runs no supervisor, which on a loaded
		// machine kills workers slow to answer its health checks.
		"--workers", "1")
	waitHTTPUp(t, srcURL+"/health", 3*time.Minute, log)

	script := func(name string) string {
		p, err := filepath.Abs(filepath.Join("testdata", "import", name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	start := time.Now()
	out := runCmd(t, mlflowTimeout, work, append(env, "MLFLOW_TRACKING_URI="+srcURL), py, script("mlflow_populate.py"))
	t.Logf("populated the mlflow server in %s:\n%s", time.Since(start).Round(time.Millisecond), indent(grepResults(out)))

	srv := StartServer(t, ServerOptions{})

	// A dry run lists and counts, and writes nothing.
	dry, _, err := arcaImportRun(t, srv, nil, "mlflow", "--url", srcURL, "--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	dry.wantNoFailures(t)
	if !dry.DryRun || dry.count("run", "would-import") != 25 || dry.count("experiment", "would-import") != 2 ||
		dry.count("model-version", "would-import") != 2 || dry.Totals["would-import"].Bytes < 300_000 {
		t.Errorf("dry run: %d runs, %d experiments, %d versions, %d bytes planned; want 25, 2, 2 and the artifacts' bytes",
			dry.count("run", "would-import"), dry.count("experiment", "would-import"), dry.count("model-version", "would-import"),
			dry.Totals["would-import"].Bytes)
	}
	r := curl(t, nil, "-u", srv.Cred(), srv.URL+"/mlflow/api/2.0/mlflow/experiments/get-by-name?experiment_name=import-a")
	wantStatus(t, r, http.StatusNotFound, "experiment after a dry run")

	rep, output, err := arcaImportRun(t, srv, nil, "mlflow", "--url", srcURL)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	rep.wantNoFailures(t)
	if n := rep.count("run", "imported"); n != 25 {
		t.Errorf("imported %d runs, want 25", n)
	}
	if len(rep.Mappings) != 0 {
		t.Errorf("identifiers changed on a fresh arca: %v", rep.Mappings)
	}
	t.Logf("FIGURES %s (%s)", importFigures.FindString(output), uptime())

	// The same client queries against both give the same answers.
	cmpEnv := append(env, "SRC_URI="+srcURL, "DST_URI="+srv.URL+"/mlflow",
		"MLFLOW_TRACKING_USERNAME=admin", "MLFLOW_TRACKING_PASSWORD="+adminPassword)
	start = time.Now()
	res := grepResults(runCmd(t, mlflowTimeout, work, cmpEnv, py, script("mlflow_compare.py")))
	t.Logf("compared in %s:\n%s", time.Since(start).Round(time.Millisecond), indent(res))
	for _, want := range []string{"RESULT compared_runs 25", "RESULT alias_champion_files", "RESULT alias_first_files"} {
		if !strings.Contains(res, want) {
			t.Errorf("compare printed no %q", want)
		}
	}
	if m := regexp.MustCompile(`compared_points (\d+)`).FindStringSubmatch(res); m == nil || len(m[1]) < 5 {
		t.Errorf("compared %v metric points, want over 10,000", m)
	}

	again, _, err := arcaImportRun(t, srv, nil, "mlflow", "--url", srcURL)
	if err != nil {
		t.Fatalf("second import: %v", err)
	}
	again.wantAllSkipped(t)
	srv.WantNoServerErrors()
}

// mlflowBaseEnv is the environment of the mlflow processes: no user
// configuration, no telemetry.
func mlflowBaseEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MLFLOW_") && !strings.HasPrefix(kv, "ARCA_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	return append(env, "HOME="+home, "MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true", "PYTHONUNBUFFERED=1",
		"MLFLOW_HTTP_REQUEST_MAX_RETRIES=0")
}

func grepResults(out string) string {
	var b strings.Builder
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if l := sc.Text(); strings.HasPrefix(l, "RESULT ") || strings.HasPrefix(l, "DIFF ") {
			fmt.Fprintln(&b, l)
		}
	}
	return b.String()
}
