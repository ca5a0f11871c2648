package e2e

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pypiTimeout bounds each Python client command.
const pypiTimeout = 3 * time.Minute

// TestPyPIClients drives the PyPI surface with the real clients: it builds
// a wheel and an sdist of two small packages (arca-e2e-demo depends on
// arca-e2e-dep) with `python -m build`, uploads them with twine — the
// dependency to a second arca (the upstream), the demo to the first —,
// and installs and downloads through the first arca's hosted repository,
// a proxy of the second arca, and a group of both, with pip and uv.
func TestPyPIClients(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine, build, setuptools, wheel and uv) is not set")
	}
	py := filepath.Join(venv, "bin", "python")
	twine := filepath.Join(venv, "bin", "twine")
	uv := filepath.Join(venv, "bin", "uv")
	for _, p := range []string{py, twine, uv} {
		if _, err := os.Stat(p); err != nil {
			missing(t, "%s is missing from ARCA_TEST_VENV: %v", filepath.Base(p), err)
		}
	}
	if out, err := exec.Command(py, "-c", "import build, setuptools, wheel").CombinedOutput(); err != nil {
		missing(t, "build, setuptools and wheel are not installed in ARCA_TEST_VENV: %s", out)
	}

	work := t.TempDir()
	env := pypiEnv(filepath.Join(work, "home"))
	run := func(name string, args ...string) string {
		t.Helper()
		start := time.Now()
		out := runCmd(t, pypiTimeout, work, env, name, args...)
		t.Logf("%s %s (%s):\n%s", filepath.Base(name), strings.Join(args, " "), time.Since(start).Round(time.Millisecond), indent(out))
		return out
	}
	fail := func(name string, args ...string) string {
		t.Helper()
		out, err := runCmdErr(pypiTimeout, work, env, name, args...)
		if err == nil {
			t.Fatalf("%s %s succeeded, want a failure:\n%s", filepath.Base(name), strings.Join(args, " "), out)
		}
		t.Logf("%s %s failed as expected:\n%s", filepath.Base(name), strings.Join(args, " "), indent(out))
		return out
	}

	// Two packages: the demo needs the dependency at import time.
	dep := pypiProject(t, work, "arca-e2e-dep", "arca_e2e_dep", "0.3.0", "", `GREETING = "hello from arca"`)
	demo := pypiProject(t, work, "Arca_E2E.Demo", "arca_e2e_demo", "1.0.0", `"arca-e2e-dep>=0.3"`,
		"from arca_e2e_dep import GREETING\n\ndef hello():\n    return GREETING\n")
	for _, dir := range []string{dep, demo} {
		// No build isolation: setuptools comes from the venv, not the network.
		run(py, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", filepath.Join(dir, "dist"), dir)
	}
	depFiles, demoFiles := pypiDists(t, dep), pypiDists(t, demo)

	up := StartServer(t, ServerOptions{})  // the second arca: the proxy's upstream
	srv := StartServer(t, ServerOptions{}) // the arca the clients use
	pw := adminPassword
	twineUpload := func(s *Server, files ...string) string {
		return run(twine, append([]string{"upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", s.URL + "/pypi/pypi-hosted/", "-u", "admin", "-p", pw}, files...)...)
	}
	twineUpload(up, depFiles...)
	twineUpload(srv, demoFiles...)

	// Uploading the same file again is refused with 409, which twine shows.
	out := fail(twine, "upload", "--non-interactive", "--disable-progress-bar", "--verbose",
		"--repository-url", srv.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", pw, demoFiles[0])
	if !strings.Contains(out, "409 Conflict") || !strings.Contains(out, "File already exists") {
		t.Errorf("twine's output for a re-upload lacks the 409 and its reason:\n%s", out)
	}
	// Wrong credentials: twine shows the 401.
	out = fail(twine, "upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", srv.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", "wrong-password", demoFiles[0])
	if !strings.Contains(out, "401") {
		t.Errorf("twine's output for wrong credentials lacks the 401:\n%s", out)
	}

	// The proxy of the second arca and the group of both, on the first.
	pypiAPI(t, srv, "POST", "/api/v1/repositories", `{"name":"pypi-upstream","format":"pypi","kind":"proxy","settings":{"upstream":{"url":"`+
		up.URL+`/pypi/pypi-hosted/simple/","username":"admin","password":"`+pw+`"}}}`, http.StatusCreated)
	pypiAPI(t, srv, "POST", "/api/v1/repositories", `{"name":"pypi-all","format":"pypi","kind":"group","settings":{"members":["pypi-upstream","pypi-hosted"]}}`, http.StatusCreated)
	index := func(repo string) string {
		return strings.Replace(srv.URL, "http://", "http://admin:"+pw+"@", 1) + "/pypi/" + repo + "/simple/"
	}
	pip := func(args ...string) string {
		return run(py, append([]string{"-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir"}, args...)...)
	}
	importFrom := func(target, module, call string) {
		t.Helper()
		e := append(env, "PYTHONPATH="+target)
		out := runCmd(t, time.Minute, work, e, py, "-c", "import "+module+"; print("+module+"."+call+")")
		if !strings.Contains(out, "hello from arca") {
			t.Fatalf("import from %s: %s", target, out)
		}
	}

	// Hosted: the demo alone (its dependency is not there).
	target := filepath.Join(work, "t-hosted")
	pip("install", "--no-deps", "--target", target, "--index-url", index("pypi-hosted"), "arca-e2e-demo")
	pipDownload := func(repo, dest, name, wantFile string) {
		t.Helper()
		pip("download", "--no-deps", "--only-binary", ":all:", "--dest", dest, "--index-url", index(repo), name)
		if _, err := os.Stat(filepath.Join(dest, wantFile)); err != nil {
			t.Fatalf("pip download through %s did not save %s: %v", repo, wantFile, err)
		}
	}
	pipDownload("pypi-hosted", filepath.Join(work, "d-hosted"), "Arca.E2E_demo", "Arca_E2E.Demo-1.0.0-py3-none-any.whl")
	out, err := runCmdErr(pypiTimeout, work, env, py, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir",
		"install", "--target", filepath.Join(work, "t-fail"), "--index-url", index("pypi-hosted"), "arca-e2e-demo")
	if err == nil || !strings.Contains(out, "arca-e2e-dep") {
		t.Errorf("installing the demo with its dependency from hosted alone should fail on arca-e2e-dep:\n%s", out)
	}

	// Proxy of the second arca: the dependency.
	target = filepath.Join(work, "t-proxy")
	pip("install", "--target", target, "--index-url", index("pypi-upstream"), "arca-e2e-dep")
	importFrom(target, "arca_e2e_dep", "GREETING")
	pipDownload("pypi-upstream", filepath.Join(work, "d-proxy"), "arca-e2e-dep", "arca_e2e_dep-0.3.0-py3-none-any.whl")

	// Group: the demo from hosted, its dependency through the proxy.
	target = filepath.Join(work, "t-group")
	out = pip("install", "--target", target, "--index-url", index("pypi-all"), "arca-e2e-demo")
	if !strings.Contains(out, ".metadata") {
		t.Errorf("pip did not use the core metadata files (PEP 658):\n%s", out)
	}
	importFrom(target, "arca_e2e_demo", "hello()")
	pipDownload("pypi-all", filepath.Join(work, "d-group"), "arca-e2e-demo", "Arca_E2E.Demo-1.0.0-py3-none-any.whl")

	// uv through the group.
	target = filepath.Join(work, "t-uv")
	run(uv, "pip", "install", "--no-cache", "--python", py, "--target", target, "--index-url", index("pypi-all"), "arca-e2e-demo")
	importFrom(target, "arca_e2e_demo", "hello()")

	// A yanked release is skipped unless pinned exactly (PEP 592).
	pypiAPI(t, srv, "POST", "/api/v1/pypi/pypi-hosted/arca-e2e-demo/1.0.0/yank", `{"reason":"e2e test"}`, http.StatusOK)
	fail(py, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir", "download", "--no-deps", "--dest",
		filepath.Join(work, "d-yanked"), "--index-url", index("pypi-hosted"), "arca-e2e-demo>=1")
	pip("download", "--no-deps", "--dest", filepath.Join(work, "d-pinned"), "--index-url", index("pypi-hosted"), "arca-e2e-demo==1.0.0")

	up.WantNoServerErrors()
	srv.WantNoServerErrors()
}

// pypiEnv is the environment of the Python clients: no user configuration,
// no keyring prompts, a private HOME.
func pypiEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ARCA_"), strings.HasPrefix(k, "PIP_"), strings.HasPrefix(k, "UV_"),
			strings.HasPrefix(k, "TWINE_"), strings.HasPrefix(k, "XDG_"), k == "HOME", k == "PYTHONPATH", k == "VIRTUAL_ENV":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "PIP_CONFIG_FILE=/dev/null", "PYTHON_KEYRING_BACKEND=keyring.backends.null.Keyring",
		"UV_NO_CONFIG=1", "UV_KEYRING_PROVIDER=disabled")
}

// pypiProject writes a setuptools project and returns its directory.
func pypiProject(t *testing.T, work, name, module, version, deps, code string) string {
	t.Helper()
	dir := filepath.Join(work, module)
	if err := os.MkdirAll(filepath.Join(dir, module), 0o755); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, filepath.Join(dir, "pyproject.toml"), `[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "`+name+`"
version = "`+version+`"
description = "arca end-to-end test package"
requires-python = ">=3.8"
dependencies = [`+deps+`]

[tool.setuptools]
packages = ["`+module+`"]
`)
	mustWrite(t, filepath.Join(dir, module, "__init__.py"), code+"\n")
	return dir
}

// pypiDists lists the wheel and the sdist a build wrote, wheel first.
func pypiDists(t *testing.T, dir string) []string {
	t.Helper()
	whl, _ := filepath.Glob(filepath.Join(dir, "dist", "*.whl"))
	tgz, _ := filepath.Glob(filepath.Join(dir, "dist", "*.tar.gz"))
	if len(whl) != 1 || len(tgz) != 1 {
		t.Fatalf("build wrote %v and %v, want one wheel and one sdist", whl, tgz)
	}
	return []string{whl[0], tgz[0]}
}

// pypiAPI calls arca's API with the admin's credentials.
func pypiAPI(t *testing.T, s *Server, method, path, body string, want int) {
	t.Helper()
	r := curl(t, strings.NewReader(body), "-u", s.Cred(), "-X", method, "-H", "Content-Type: application/json", "--data-binary", "@-", s.URL+path)
	wantStatus(t, r, want, method+" "+path)
}
