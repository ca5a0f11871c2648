package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The README's "Using it" block as the test suite runs it: its one line
// that sets the addresses, which the test points at free ports.
var readmeAddrLine = regexp.MustCompile(`(?m)^export ARCA_ADDR=localhost:8080 ARCA_S3_ADDR=localhost:9000\b.*$`)

// readmeBlock returns the first ```sh block after the heading "## Using it"
// of the README at root.
func readmeBlock(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "\n## Using it\n")
	if !ok {
		t.Fatal(`README.md has no "## Using it" section`)
	}
	if next := strings.Index(after, "\n## "); next >= 0 {
		after = after[:next]
	}
	_, block, ok := strings.Cut(after, "\n```sh\n")
	if !ok {
		t.Fatal(`the "Using it" section of README.md has no sh block`)
	}
	block, _, ok = strings.Cut(block, "\n```\n")
	if !ok {
		t.Fatal(`the sh block of "Using it" in README.md does not end`)
	}
	return block + "\n"
}

// freePort returns a port on 127.0.0.1 that nothing listens on (just now).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// readmeVenvs finds the Python environments the block's clients come from:
// dvc, twine, build and pip (ARCA_TEST_VENV), aws (ARCA_TEST_S3_VENV),
// mlflow and scikit-learn (ARCA_TEST_MLFLOW_VENV).
func readmeVenvs(t *testing.T) (tools, s3, mlflow string) {
	t.Helper()
	for _, v := range []struct {
		env, bin string
		dst      *string
	}{
		{"ARCA_TEST_VENV", "dvc", &tools}, {"ARCA_TEST_S3_VENV", "aws", &s3}, {"ARCA_TEST_MLFLOW_VENV", "mlflow", &mlflow},
	} {
		dir := os.Getenv(v.env)
		if dir == "" {
			missing(t, "%s is not set", v.env)
		}
		if _, err := os.Stat(filepath.Join(dir, "bin", v.bin)); err != nil {
			missing(t, "no %s in %s=%s: %v", v.bin, v.env, dir, err)
		}
		*v.dst = dir
	}
	return tools, s3, mlflow
}

// pythonWithBoth makes a Python environment in dir whose `python` imports
// both what the tools venv holds (build, setuptools, wheel) and what the
// MLflow venv holds (mlflow, scikit-learn), as one Python with `pip install
// build twine mlflow scikit-learn` would: the README's `python` runs both
// `-m build` and train.py. It returns its bin directory.
func pythonWithBoth(t *testing.T, dir, tools, mlflow string) string {
	t.Helper()
	base := filepath.Join(mlflow, "bin", "python")
	runCmd(t, time.Minute, dir, os.Environ(), base, "-m", "venv", "--without-pip", filepath.Join(dir, "py"))
	py := filepath.Join(dir, "py", "bin", "python")
	site := func(python string) string {
		return strings.TrimSpace(runCmd(t, time.Minute, dir, os.Environ(), python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"))
	}
	pth := fmt.Sprintf("import site; site.addsitedir(%q)\nimport site; site.addsitedir(%q)\n",
		site(base), site(filepath.Join(tools, "bin", "python")))
	if err := os.WriteFile(filepath.Join(site(py), "arca-readme-test.pth"), []byte(pth), 0o644); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "py", "bin")
}

// TestReadmeUsingIt runs the README's "Using it" block, as written, with
// the real clients against a fresh arca: it only points the block's
// ARCA_ADDR line at free loopback ports. A command of the block that fails
// fails the test (bash -e), so the README cannot drift from what works.
func TestReadmeUsingIt(t *testing.T) {
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	block := readmeBlock(t, root)
	if n := len(readmeAddrLine.FindAllString(block, -1)); n != 1 {
		t.Fatalf("the README block has %d lines `export ARCA_ADDR=localhost:8080 ARCA_S3_ADDR=localhost:9000`, want 1:\n%s", n, block)
	}
	rest := readmeAddrLine.ReplaceAllString(block, "")
	if strings.Contains(rest, "localhost:") || strings.Contains(rest, "127.0.0.1:") {
		t.Fatalf("the README block names an address outside its ARCA_ADDR line (use $ARCA_ADDR, $ARCA_S3_ADDR):\n%s", block)
	}
	needTool(t, "curl")
	needTool(t, "npm")
	needTool(t, "tar")
	crane := needOCITools(t, "crane")["crane"]
	tools, s3venv, mlflow := readmeVenvs(t)
	pyBin := pythonWithBoth(t, t.TempDir(), tools, mlflow)

	// The ports are free when chosen, but something else may take one
	// before arca binds it: then (only then) the block runs again on
	// other ports, from scratch.
	var r readmeRun
	for attempt := 1; ; attempt++ {
		r = runReadme(t, root, block, readmeClients{python: pyBin, tools: tools, s3: s3venv, crane: crane})
		if r.err == nil {
			break
		}
		if attempt < 3 && strings.Contains(r.serverLog, "address already in use") {
			t.Logf("a port was taken before arca bound it; again on other ports:\n%s", r.serverLog)
			continue
		}
		t.Fatalf("the README's \"Using it\" block failed: %v\n--- its output (bash -x):\n%s\n--- arca.log:\n%s", r.err, r.output, r.serverLog)
	}
	output, serverLog, work, httpPort, pipTarget := r.output, r.serverLog, r.work, r.httpPort, r.pipTarget
	if testing.Verbose() {
		t.Logf("output of the block:\n%s", output)
	}

	// What the block did is there, as it said.
	if m := serverErrorRe.FindAllString(serverLog, 20); len(m) > 0 {
		t.Errorf("arca logged failures while the README ran:\n%s", strings.Join(m, "\n"))
	}
	if want := "addr=127.0.0.1:" + httpPort; !strings.Contains(serverLog, want) {
		t.Errorf("arca's log does not name the bound address %s:\n%s", want, serverLog)
	}
	if !strings.Contains(serverLog, `msg="shutting down"`) {
		t.Errorf("arca did not shut down on the block's closing kill:\n%s", serverLog)
	}
	for _, want := range []string{"\n1\n", "\nlatest\n"} {
		if !strings.Contains(output, want) {
			t.Errorf("crane ls did not list the tag %q", strings.TrimSpace(want))
		}
	}
	if _, err := os.Stat(filepath.Join(pipTarget, "arca_example", "__init__.py")); err != nil {
		t.Errorf("pip install of arca-example installed nothing: %v", err)
	}
	if _, err := os.Stat(filepath.Join(work, "npm-demo", "node_modules", "arca-example", "index.js")); err != nil {
		t.Errorf("npm install of arca-example installed nothing: %v", err)
	}
	if !strings.Contains(output, "registered iris-classifier version") {
		t.Errorf("train.py registered no model version")
	}
	// The client's "View run at" link leads to the UI, not to a 404.
	m := regexp.MustCompile(`View run \S+ at: (http://\S+/mlflow/#/experiments/\d+/runs/[0-9a-f]+)`).FindStringSubmatch(output)
	if m == nil {
		t.Errorf("train.py printed no \"View run at\" link:\n%s", output)
	} else {
		checkRunLink(t, m[1])
	}
}

// checkRunLink follows the MLflow client's link to a run on an arca of its
// own (the block stopped its own): the tracking URI's page redirects to the
// UI's experiments, and the browser carries the fragment (MLflow's route)
// along for the UI's script, which ui tests check.
func checkRunLink(t *testing.T, link string) {
	t.Helper()
	s := StartServer(t, ServerOptions{})
	base, frag, _ := strings.Cut(link, "#")
	path := strings.TrimPrefix(base, base[:strings.Index(base, "/mlflow/")])
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/experiments" {
		t.Errorf("GET %s (of the link %s): %s to %q, want 302 to /ui/experiments", path, link, resp.Status, resp.Header.Get("Location"))
	}
	if !strings.HasPrefix(frag, "/experiments/") {
		t.Errorf("the link's fragment %q is not MLflow's run route", frag)
	}
}

// readmeClients are where the block's clients come from.
type readmeClients struct {
	python string // bin directory of the python that has build, mlflow, scikit-learn
	tools  string // venv with dvc, twine, pip
	s3     string // venv with aws
	crane  string // the crane binary
}

// readmeRun is one run of the block.
type readmeRun struct {
	err                    error
	output, serverLog      string
	work, httpPort, s3Port string
	pipTarget              string
}

// runReadme runs the block in a fresh directory (the examples and the
// built binary, as in a checkout) with a fresh HOME, on two free loopback
// ports written into its ARCA_ADDR line.
func runReadme(t *testing.T, root, block string, c readmeClients) readmeRun {
	t.Helper()
	r := readmeRun{work: t.TempDir(), pipTarget: filepath.Join(t.TempDir(), "site")}
	r.httpPort, r.s3Port = freePort(t), freePort(t)
	for r.s3Port == r.httpPort {
		r.s3Port = freePort(t)
	}
	script := readmeAddrLine.ReplaceAllStringFunc(block, func(line string) string {
		line = strings.Replace(line, "localhost:8080", "127.0.0.1:"+r.httpPort, 1)
		return strings.Replace(line, "localhost:9000", "127.0.0.1:"+r.s3Port, 1)
	})
	runCmd(t, time.Minute, root, os.Environ(), "cp", "-R", filepath.Join(root, "examples"), filepath.Join(r.work, "examples"))
	if err := os.Symlink(arcaBin, filepath.Join(r.work, "arca")); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(t.TempDir(), "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		t.Fatal(err)
	}

	// The environment of a user's shell: the clients on PATH, a home of
	// its own; no settings of other tests, no telemetry, pip installs
	// into a directory of its own rather than a shared venv.
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ARCA_"), strings.HasPrefix(k, "AWS_"), strings.HasPrefix(k, "MLFLOW_"),
			strings.HasPrefix(k, "PIP_"), strings.HasPrefix(strings.ToLower(k), "npm_config_"),
			strings.HasPrefix(k, "XDG_"), strings.HasPrefix(k, "TWINE_"), strings.HasPrefix(k, "DVC_"),
			k == "HOME", k == "PATH", k == "DOCKER_CONFIG", k == "VIRTUAL_ENV", k == "PYTHONPATH", k == "PYTHONHOME":
			continue
		}
		env = append(env, kv)
	}
	path := []string{c.python, filepath.Join(c.tools, "bin"), filepath.Join(c.s3, "bin"), filepath.Dir(c.crane), os.Getenv("PATH")}
	env = append(env,
		"HOME="+home,
		"PATH="+strings.Join(path, string(os.PathListSeparator)),
		"PIP_TARGET="+r.pipTarget, "PIP_DISABLE_PIP_VERSION_CHECK=1", "PIP_NO_INPUT=1",
		"npm_config_update_notifier=false", "npm_config_audit=false", "npm_config_fund=false", "npm_config_fetch_retries=0",
		"MLFLOW_DISABLE_TELEMETRY=true", "DO_NOT_TRACK=true", "DVC_NO_ANALYTICS=1", "ITERATIVE_DO_NOT_TRACK=1",
		"AWS_MAX_ATTEMPTS=1", "PYTHONUNBUFFERED=1",
	)

	scriptPath := filepath.Join(t.TempDir(), "using-it.sh")
	if err := os.WriteFile(scriptPath, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-o", "pipefail", "-x", scriptPath)
	cmd.Dir, cmd.Env = r.work, env
	// Its own process group, so that the server it starts in the
	// background goes too, whatever happens.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r.err = cmd.Wait()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // a server left behind by a failure
	if ctx.Err() != nil {
		r.err = fmt.Errorf("timed out after 10m (%v)", r.err)
	}
	logBytes, _ := os.ReadFile(filepath.Join(r.work, "arca.log"))
	r.output, r.serverLog = out.String(), string(logBytes)
	return r
}
