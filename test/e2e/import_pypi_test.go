package e2e

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestImportPyPI imports a pypiserver package directory into arca twice
// over (through pypiserver's simple index, and from the directory itself),
// checks with pip that arca serves the same files, then imports one arca's
// simple index into a second arca and compares the JSON pages (hashes,
// sizes, upload times, yanks, requires-python, core metadata).
func TestImportPyPI(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with build, setuptools, wheel and pip) is not set")
	}
	psVenv := os.Getenv("ARCA_TEST_PYPISERVER_VENV")
	if psVenv == "" {
		missing(t, "ARCA_TEST_PYPISERVER_VENV (a Python virtualenv with pypiserver) is not set")
	}
	py := filepath.Join(venv, "bin", "python")
	needTool(t, "curl")
	work := t.TempDir()
	env := pypiEnv(filepath.Join(work, "home"))

	// A pypiserver package directory: two projects, three releases, each a
	// wheel and an sdist.
	pkgs := filepath.Join(work, "packages")
	for _, p := range []struct{ name, module, version string }{
		{"imp-alpha", "imp_alpha", "1.0.0"}, {"imp-alpha", "imp_alpha", "1.1.0"}, {"Imp_Beta.Pkg", "imp_beta_pkg", "0.1"},
	} {
		dir := pypiProject(t, filepath.Join(work, p.version), p.name, p.module, p.version, "", "VALUE = 1")
		runCmd(t, pypiTimeout, work, env, py, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", pkgs, dir)
	}
	files, _ := filepath.Glob(filepath.Join(pkgs, "*"))
	if len(files) != 6 {
		t.Fatalf("built %v, want 6 files", files)
	}
	want := map[string]string{}
	var total int64
	for _, f := range files {
		sum, size := sha256File(t, f)
		want[filepath.Base(f)] = sum
		total += size
	}

	port := freePort(t)
	psURL := "http://127.0.0.1:" + port
	log := startProcess(t, work, env, filepath.Join(psVenv, "bin", "pypi-server"), "run", "-p", port, "-i", "127.0.0.1",
		"-a", ".", "-P", ".", "--hash-algo", "sha256", pkgs)
	waitHTTPUp(t, psURL+"/simple/", time.Minute, log)

	srv := StartServer(t, ServerOptions{})
	for _, name := range []string{"from-pypiserver", "from-dir"} {
		pypiAPI(t, srv, "POST", "/api/v1/repositories", `{"name":"`+name+`","format":"pypi","kind":"hosted"}`, http.StatusCreated)
	}

	// Dry runs count files and bytes and write nothing.
	for _, args := range [][]string{{"--index", psURL + "/simple/", "--repo", "from-pypiserver"}, {"--dir", pkgs, "--repo", "from-dir"}} {
		dry, _, err := arcaImportRun(t, srv, nil, append(append([]string{"pypi"}, args...), "--dry-run")...)
		if err != nil {
			t.Fatalf("dry run %v: %v", args, err)
		}
		if n, b := dry.count("file", "would-import"), dry.Totals["would-import"].Bytes; n != 6 || b != total {
			t.Errorf("dry run %v: %d files, %d bytes; want 6, %d", args, n, b, total)
		}
	}
	if got := simpleFiles(t, srv, "from-pypiserver", "imp-alpha"); len(got) != 0 {
		t.Errorf("after dry runs arca lists %v", got)
	}

	for _, args := range [][]string{{"--index", psURL + "/simple/", "--repo", "from-pypiserver"}, {"--dir", pkgs, "--repo", "from-dir"}} {
		rep, _, err := arcaImportRun(t, srv, nil, append([]string{"pypi"}, args...)...)
		if err != nil {
			t.Fatalf("import %v: %v", args, err)
		}
		rep.wantNoFailures(t)
		if n := rep.count("file", "imported"); n != 6 {
			t.Errorf("import %v: %d files imported, want 6", args, n)
		}
		repo := args[3]
		got := map[string]string{}
		for _, p := range []string{"imp-alpha", "imp-beta-pkg"} {
			for fn, f := range simpleFiles(t, srv, repo, p) {
				got[fn] = f.Hashes["sha256"]
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s lists %v, want %v", repo, got, want)
		}
		for fn, sum := range want {
			if got[fn] != sum {
				t.Errorf("%s: %s sha256 %s, want %s", repo, fn, got[fn], sum)
			}
		}
		// pip resolves through arca's index and checks each hash.
		out := filepath.Join(work, "pip-"+repo)
		index := strings.Replace(srv.URL, "http://", "http://admin:"+adminPassword+"@", 1) + "/pypi/" + repo + "/simple/"
		runCmd(t, pypiTimeout, work, env, py, "-m", "pip", "download", "--no-deps", "--no-cache-dir", "--only-binary", ":all:",
			"--index-url", index, "-d", out, "imp-alpha==1.1.0", "imp-beta-pkg==0.1")
		got2, _ := filepath.Glob(filepath.Join(out, "*"))
		if len(got2) != 2 {
			t.Errorf("pip downloaded %v, want two wheels", got2)
		}
		for _, f := range got2 {
			if sum, _ := sha256File(t, f); sum != want[filepath.Base(f)] {
				t.Errorf("pip got %s with sha256 %s, want %s", filepath.Base(f), sum, want[filepath.Base(f)])
			}
		}
		again, _, err := arcaImportRun(t, srv, nil, append([]string{"pypi"}, args...)...)
		if err != nil {
			t.Fatalf("repeated import %v: %v", args, err)
		}
		again.wantAllSkipped(t)
	}

	// Another arca's index, with a yanked release and upload times, into
	// a second arca: the pages agree on everything but the URLs.
	pypiAPI(t, srv, "POST", "/api/v1/pypi/from-pypiserver/imp-alpha/1.0.0/yank", `{"reason":"broken build"}`, http.StatusOK)
	second := StartServer(t, ServerOptions{})
	rep, _, err := arcaImportRun(t, second, []string{"ARCA_IMPORT_PASSWORD=" + adminPassword}, "pypi",
		"--index", srv.URL+"/pypi/from-pypiserver/simple/", "--username", "admin", "--repo", "pypi-hosted")
	if err != nil {
		t.Fatalf("arca to arca: %v", err)
	}
	rep.wantNoFailures(t)
	for _, p := range []string{"imp-alpha", "imp-beta-pkg"} {
		a, b := simpleFiles(t, srv, "from-pypiserver", p), simpleFiles(t, second, "pypi-hosted", p)
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("%s: source lists %d files, copy %d", p, len(a), len(b))
		}
		for fn, fa := range a {
			fb := b[fn]
			fa.URL, fb.URL = "", ""
			ja, _ := json.Marshal(fa)
			jb, _ := json.Marshal(fb)
			if string(ja) != string(jb) {
				t.Errorf("%s: source %s\n copy %s", fn, ja, jb)
			}
		}
	}
	yanked := simpleFiles(t, second, "pypi-hosted", "imp-alpha")["imp_alpha-1.0.0-py3-none-any.whl"].Yanked
	if yanked != "broken build" {
		t.Errorf("yanked state in the copy: %v, want the reason", yanked)
	}
	srv.WantNoServerErrors()
	second.WantNoServerErrors()
}

// simpleFile is a file of a PEP 691 project page.
type simpleFile struct {
	URL            string            `json:"url"`
	Hashes         map[string]string `json:"hashes"`
	RequiresPython string            `json:"requires-python"`
	CoreMetadata   any               `json:"core-metadata"`
	Yanked         any               `json:"yanked"`
	Size           int64             `json:"size"`
	UploadTime     string            `json:"upload-time"`
}

// simpleFiles reads a project's JSON page of an arca repository (none
// when it has no such project).
func simpleFiles(t *testing.T, s *Server, repo, project string) map[string]simpleFile {
	t.Helper()
	r := curl(t, nil, "-u", s.Cred(), "-H", "Accept: application/vnd.pypi.simple.v1+json", s.URL+"/pypi/"+repo+"/simple/"+project+"/")
	if r.Status == http.StatusNotFound {
		return nil
	}
	wantStatus(t, r, http.StatusOK, "project page "+project)
	var page struct {
		Files []struct {
			Filename string `json:"filename"`
			simpleFile
		} `json:"files"`
	}
	decodeJSON(t, r, &page)
	out := map[string]simpleFile{}
	names := []string{}
	for _, f := range page.Files {
		out[f.Filename] = f.simpleFile
		names = append(names, f.Filename)
	}
	sort.Strings(names)
	return out
}
