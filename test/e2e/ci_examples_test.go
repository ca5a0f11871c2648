package e2e

// The CI examples of docs/ci are tested like code: the GitHub Actions
// workflow passes actionlint, the GitLab CI file decodes strictly (an
// unknown or misspelt job key fails), and the GitLab jobs' scripts — plain
// shell — run as written against a test arca with a robot's token, after
// which the image, the wheel, the npm package and the MLflow run are there.

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

func TestCIExampleGitHubActionlint(t *testing.T) {
	bin := toolBin(t, "actionlint", "scripts/install-ops-tools.sh")
	// actionlint reads shellcheck when it is in PATH; the workflow must
	// pass either way.
	out, err := exec.Command(bin, "-no-color", filepath.Join("..", "..", "docs", "ci", "github-actions.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint docs/ci/github-actions.yml: %v\n%s", err, out)
	}
}

// gitlabJob is the part of GitLab CI's job syntax the examples use; the
// strict decode refuses any other key.
type gitlabJob struct {
	Stage        string            `yaml:"stage"`
	Image        string            `yaml:"image"`
	Variables    map[string]string `yaml:"variables"`
	BeforeScript []string          `yaml:"before_script"`
	Script       []string          `yaml:"script"`
	Rules        []struct {
		If string `yaml:"if"`
	} `yaml:"rules"`
	Artifacts struct {
		Paths []string `yaml:"paths"`
	} `yaml:"artifacts"`
}

// gitlabJobs decodes docs/ci/gitlab-ci.yml strictly.
func gitlabJobs(t *testing.T) (stages []string, jobs map[string]gitlabJob) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci", "gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(b, &top); err != nil {
		t.Fatalf("docs/ci/gitlab-ci.yml: %v", err)
	}
	jobs = map[string]gitlabJob{}
	for key, node := range top {
		if key == "stages" {
			if err := node.Decode(&stages); err != nil {
				t.Fatalf("stages: %v", err)
			}
			continue
		}
		// Every other top-level key of this file is a job.
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if err := enc.Encode(&node); err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(&buf)
		dec.KnownFields(true)
		var j gitlabJob
		if err := dec.Decode(&j); err != nil {
			t.Fatalf("job %s: %v", key, err)
		}
		if len(j.Script) == 0 || j.Image == "" {
			t.Errorf("job %s has no script or image", key)
		}
		jobs[key] = j
	}
	for name, j := range jobs {
		found := false
		for _, s := range stages {
			found = found || s == j.Stage
		}
		if !found {
			t.Errorf("job %s is in stage %q, not one of %v", name, j.Stage, stages)
		}
	}
	return stages, jobs
}

func TestCIExampleGitLab(t *testing.T) {
	_, jobs := gitlabJobs(t)
	for _, name := range []string{"image-push", "wheel", "npm-package", "mlflow-run"} {
		if _, ok := jobs[name]; !ok {
			t.Fatalf("docs/ci/gitlab-ci.yml has no job %s", name)
		}
	}
	tools := needOCITools(t, "crane")
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (build, twine) is not set")
	}
	mlPy := mlflowPython(t)
	needTool(t, "npm")

	srv := StartServer(t, ServerOptions{})
	out := srv.Admin("robot", "create", "ci", "--role", "developer")
	token := regexp.MustCompile(`arca_\S+`).FindString(out)
	if token == "" {
		t.Fatalf("robot create printed no token:\n%s", out)
	}

	// The project a pipeline would check out: the docs' train.py beside
	// a small Python package, an npm package and app/.
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(filepath.Join("testdata", "ci"))); err != nil {
		t.Fatal(err)
	}
	train, err := os.ReadFile(filepath.Join("..", "..", "docs", "ci", "train.py"))
	if err != nil {
		t.Fatal(err)
	}
	mustWriteFile(t, filepath.Join(work, "train.py"), train)
	filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error { // CopyFS keeps read-only modes
		if err == nil {
			os.Chmod(p, 0o755)
		}
		return err
	})

	home := t.TempDir()
	host := strings.TrimPrefix(srv.URL, "http://")
	var base []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ARCA_") || strings.HasPrefix(k, "MLFLOW_") || strings.HasPrefix(k, "NPM_") ||
			k == "HOME" || k == "PATH" || k == "DOCKER_CONFIG" || k == "PIP_INDEX_URL" || k == "TWINE_REPOSITORY_URL" {
			continue
		}
		base = append(base, kv)
	}
	base = append(base, "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"ARCA_URL="+srv.URL, "ARCA_HOST="+host, "ARCA_ROBOT=ci", "ARCA_TOKEN="+token,
		"CI_COMMIT_SHORT_SHA=0123abcd", "CI_PROJECT_PATH=group/ci-example",
		"MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true", "NO_PROXY=127.0.0.1,localhost")
	// Each job's tools, in place of what its before_script installs.
	paths := map[string]string{
		"image-push":  filepath.Dir(tools["crane"]),
		"wheel":       filepath.Join(venv, "bin"),
		"npm-package": "",
		"mlflow-run":  filepath.Dir(mlPy),
	}
	for _, name := range []string{"image-push", "wheel", "npm-package", "mlflow-run"} {
		j := jobs[name]
		env := append([]string{}, base...)
		env = append(env, "PATH="+strings.Trim(paths[name]+string(os.PathListSeparator)+os.Getenv("PATH"), string(os.PathListSeparator)))
		for k, v := range j.Variables {
			env = append(env, k+"="+os.Expand(v, func(k string) string {
				for _, kv := range env {
					if key, val, _ := strings.Cut(kv, "="); key == k {
						return val
					}
				}
				return ""
			}))
		}
		script := "set -euo pipefail\n" + strings.Join(j.Script, "\n") + "\n"
		out := runCmd(t, 5*time.Minute, work, env, "bash", "-c", script)
		t.Logf("job %s:\n%s", name, indent(out))
	}

	// What the jobs published is there.
	c := newOCIClient(t, srv, tools)
	c.craneLogin("admin", adminPassword)
	if d1, d2 := c.digest(c.ref("library/app:latest")), c.digest(c.ref("library/app:0123abcd")); d1 == "" || d1 != d2 {
		t.Errorf("library/app:latest = %q, :0123abcd = %q; want one image", d1, d2)
	}
	r := curl(t, nil, "-u", srv.Cred(), srv.URL+"/pypi/pypi-hosted/simple/arca-ci-example/")
	wantStatus(t, r, http.StatusOK, "the wheel's project page")
	if body := string(r.Body(t)); !strings.Contains(body, "arca_ci_example-0.1.0") {
		t.Errorf("the project page lists no 0.1.0 file:\n%s", body)
	}
	r = curl(t, nil, "-u", srv.Cred(), srv.URL+"/npm/npm-hosted/arca-ci-example")
	wantStatus(t, r, http.StatusOK, "the npm package")
	var exps struct {
		Experiments []struct {
			ID   string `json:"experiment_id"`
			Name string `json:"name"`
		} `json:"experiments"`
	}
	r = curl(t, strings.NewReader(`{"max_results":100}`), "-u", srv.Cred(), "-H", "Content-Type: application/json",
		"--data-binary", "@-", srv.URL+"/mlflow/api/2.0/mlflow/experiments/search")
	wantStatus(t, r, http.StatusOK, "searching experiments")
	decodeJSON(t, r, &exps)
	id := ""
	for _, e := range exps.Experiments {
		if e.Name == "group/ci-example" {
			id = e.ID
		}
	}
	if id == "" {
		t.Fatalf("no experiment group/ci-example: %+v", exps)
	}
	r = curl(t, strings.NewReader(`{"experiment_ids":["`+id+`"]}`), "-u", srv.Cred(), "-H", "Content-Type: application/json",
		"--data-binary", "@-", srv.URL+"/mlflow/api/2.0/mlflow/runs/search")
	wantStatus(t, r, http.StatusOK, "searching runs")
	var runs struct {
		Runs []json.RawMessage `json:"runs"`
	}
	decodeJSON(t, r, &runs)
	if len(runs.Runs) != 1 || !strings.Contains(string(runs.Runs[0]), `"learning_rate"`) {
		t.Errorf("runs of group/ci-example: %s", r.Body(t))
	}
	srv.WantNoServerErrors()
}
