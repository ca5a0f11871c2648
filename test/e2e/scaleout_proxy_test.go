package e2e

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// roundRobin is a small reverse proxy for the test: each request goes to
// the next live replica, so consecutive requests of one client (a crane
// push, a browser session) land on different processes. The Host header
// is kept, as a load balancer keeps it, so that the URLs arca builds
// (token realms, upload locations) point back at the proxy.
func (c *cluster) roundRobin(t *testing.T) *httptest.Server {
	t.Helper()
	return c.roundRobinTo(t, func(s *Server) string { return s.URL })
}

// roundRobinTo is roundRobin to the listener that target names of each
// replica (its S3 listener, say).
func (c *cluster) roundRobinTo(t *testing.T, target func(*Server) string) *httptest.Server {
	t.Helper()
	var mu sync.Mutex
	served := map[string]int{}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			u, _ := url.Parse(target(c.pick()))
			r.SetURL(u)
			r.Out.Host = r.In.Host
			r.SetXForwarded()
			mu.Lock()
			served[u.Host]++
			mu.Unlock()
		},
	}
	ts := httptest.NewServer(proxy)
	t.Cleanup(func() {
		ts.Close()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("requests through the proxy, by replica: %v", served)
	})
	return ts
}

// craneThroughProxy pushes a two-platform index of random layers with
// crane through the proxy, copies it with crane copy, and returns the
// index's reference and digest and the layer files by platform.
func (c *cluster) craneThroughProxy(t *testing.T, proxyURL string, tools ociTools) (client *ociClient, ref, digest string) {
	t.Helper()
	front := &Server{t: t, URL: proxyURL, opts: ServerOptions{AdminPassword: adminPassword}}
	client = newOCIClient(t, front, tools)
	client.loginAdmin(front)
	var platforms []string
	for _, arch := range []string{"amd64", "arm64"} {
		layer := filepath.Join(client.dir, arch+".tar")
		writeLayer(t, layer, map[string][]byte{"app/" + arch + ".bin": randomBytes(3 << 20), "app/README": []byte("arca scale-out " + arch)})
		img := client.ref("library/crane-app:" + arch)
		client.crane("append", "--oci-empty-base", "-f", layer, "-t", img)
		platforms = append(platforms, client.crane("mutate", img, "--set-platform", "linux/"+arch, "-t", img))
	}
	ref = client.ref("library/crane-app:multi")
	args := []string{"index", "append", "-t", ref}
	for _, p := range platforms {
		args = append(args, "-m", strings.TrimSpace(p))
	}
	client.crane(args...)
	digest = client.digest(ref)
	copied := client.ref("library/crane-copy:multi")
	client.crane("copy", ref, copied)
	if got := client.digest(copied); got != digest {
		t.Fatalf("crane copy through the proxy: %s, want %s", got, digest)
	}
	return client, ref, digest
}

// writeLayer writes a tar of files (a layer for crane append).
func writeLayer(t *testing.T, path string, files map[string][]byte) {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, b := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	tw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

var csrfFieldRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// browserThroughProxy signs in to the web UI through the proxy — the
// sign-in page, the form post and the next pages each on another replica
// — and checks that the session and its anti-forgery token hold on every
// replica.
func browserThroughProxy(t *testing.T, proxyURL string) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := b.Get(proxyURL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if status, _ := get("/ui/account"); status != http.StatusSeeOther {
		t.Fatalf("anonymous /ui/account = %d, want a redirect to sign in", status)
	}
	_, page := get("/ui/login")
	m := csrfFieldRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("the sign-in page has no anti-forgery token")
	}
	resp, err := b.PostForm(proxyURL+"/ui/login", url.Values{"csrf": {m[1]}, "name": {"admin"}, "password": {adminPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in through the proxy = %d, want 303", resp.StatusCode)
	}
	for range 6 { // two rounds over three replicas
		if status, body := get("/ui/account"); status != http.StatusOK || !strings.Contains(body, "admin") {
			t.Fatalf("/ui/account after sign-in = %d, want the admin's page on every replica", status)
		}
	}
}

// npmThroughProxy logs npm in, publishes and installs through the proxy:
// a package's second version, published through one replica, is what the
// next install gets through the others (packuments cached by any replica
// are not stale).
func npmThroughProxy(t *testing.T, proxyURL string) {
	t.Helper()
	c := newNPMClient(t)
	registry := proxyURL + "/npm/npm-hosted/"
	c.login(registry, "admin", adminPassword)
	for i, version := range []string{"1.0.0", "1.1.0"} {
		c.run(npmPackage(t, "@scale/lib", version, nil, `module.exports = () => "lib-`+version+`";`+"\n"), "publish", "--registry", registry)
		for round := range 3 { // each install's requests spread over the replicas
			proj := t.TempDir()
			mustWriteNPM(t, filepath.Join(proj, "package.json"), []byte(`{"name":"scale-project","version":"1.0.0","private":true}`))
			c.run(proj, "install", "@scale/lib@latest", "--registry", registry, "--prefer-online")
			got := strings.TrimSpace(runCmd(t, time.Minute, proj, c.env, "node", "-e", `console.log(require("@scale/lib")())`))
			if got != "lib-"+version {
				t.Fatalf("install %d.%d through the proxy got %q, want lib-%s", i, round, got, version)
			}
		}
	}
}

// pypiThroughProxy builds a project with python -m build, uploads each of
// two versions with twine through the proxy, and installs the newest with
// pip through the proxy after each: pip must get the version just uploaded
// through another replica (rendered simple pages are not stale).
func pypiThroughProxy(t *testing.T, proxyURL string) {
	t.Helper()
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine, build, setuptools and wheel) is not set")
	}
	py, twine := filepath.Join(venv, "bin", "python"), filepath.Join(venv, "bin", "twine")
	work := t.TempDir()
	env := pypiEnv(filepath.Join(work, "home"))
	index := strings.Replace(proxyURL, "http://", "http://admin:"+adminPassword+"@", 1) + "/pypi/pypi-hosted/simple/"
	for _, version := range []string{"1.0.0", "1.1.0"} {
		dir := pypiProject(t, filepath.Join(work, version), "scale-py", "scale_py", version, "", `VERSION = "`+version+`"`)
		runCmd(t, pypiTimeout, work, env, py, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", filepath.Join(dir, "dist"), dir)
		runCmd(t, pypiTimeout, work, env, twine, append([]string{"upload", "--non-interactive", "--disable-progress-bar",
			"--repository-url", proxyURL + "/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword}, pypiDists(t, dir)...)...)
		for round := range 3 {
			target := filepath.Join(work, "t-"+version+"-"+string(rune('a'+round)))
			runCmd(t, pypiTimeout, work, env, py, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir",
				"install", "--target", target, "--index-url", index, "scale-py")
			out := runCmd(t, time.Minute, work, append(env, "PYTHONPATH="+target), py, "-c", "import scale_py; print(scale_py.VERSION)")
			if strings.TrimSpace(out) != version {
				t.Fatalf("pip install through the proxy after uploading %s got %q", version, strings.TrimSpace(out))
			}
		}
	}
}

// dvcThroughProxy pushes a DVC project's data to an S3 remote through a
// round-robin proxy of the replicas' S3 listeners, and pulls it into a
// clone through the same proxy: SigV4 signatures, multipart uploads and
// listings hold whichever replica answers.
func dvcThroughProxy(t *testing.T, s3Proxy string, keyID, secret string) {
	t.Helper()
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with dvc) is not set")
	}
	dvcBin := filepath.Join(venv, "bin", "dvc")
	if err := exec.Command(filepath.Join(venv, "bin", "python"), "-c", "import dvc_s3").Run(); err != nil {
		missing(t, "dvc-s3 is not installed in %s", venv)
	}
	gitBin := needTool(t, "git")
	env := dvcEnv(t.TempDir())
	root := t.TempDir()
	proj := filepath.Join(root, "project")
	os.Mkdir(proj, 0o755)
	run := func(dir, bin string, args ...string) { t.Helper(); runCmd(t, 5*time.Minute, dir, env, bin, args...) }
	credentials := func(dir string) {
		t.Helper()
		run(dir, dvcBin, "remote", "modify", "--local", "s3", "access_key_id", keyID)
		run(dir, dvcBin, "remote", "modify", "--local", "s3", "secret_access_key", secret)
	}
	run(proj, gitBin, "init", "-q")
	run(proj, dvcBin, "init", "-q")
	run(proj, dvcBin, "config", "core.analytics", "false")
	data := filepath.Join(proj, "data")
	os.MkdirAll(filepath.Join(data, "small"), 0o755)
	for i := range 200 {
		mustWrite(t, filepath.Join(data, "small", fmt.Sprintf("f%03d.txt", i)), fmt.Sprintf("small file %d\n", i))
	}
	writeRandomFile(t, filepath.Join(data, "big.bin"), 24<<20) // multipart, parts spread over the replicas
	want := treeDigests(t, data)
	run(proj, dvcBin, "add", "data")
	run(proj, dvcBin, "remote", "add", "-d", "s3", "s3://dvc-storage/scale-out")
	run(proj, dvcBin, "remote", "modify", "s3", "endpointurl", s3Proxy)
	credentials(proj)
	run(proj, gitBin, "add", "-A")
	run(proj, gitBin, "commit", "-q", "-m", "data")
	run(proj, dvcBin, "push")
	clone := filepath.Join(root, "clone")
	run(root, gitBin, "clone", "-q", proj, clone)
	credentials(clone)
	run(clone, dvcBin, "pull")
	if got := treeDigests(t, filepath.Join(clone, "data")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("dvc pull through the proxy: %d files differ from the %d pushed", len(got), len(want))
	}
}

// mlflowThroughProxy runs the real mlflow client's whole workflow (runs,
// 1000 metric steps, artifacts, a multipart artifact upload, a
// scikit-learn model registered, aliased, loaded and served back) through
// the round-robin proxy, so that consecutive requests of one run — the
// parts of one multipart upload among them — land on different replicas.
// It returns the workflow's RESULT lines, for checkMLflowWorkflow.
func mlflowThroughProxy(t *testing.T, proxyURL string) map[string]string {
	t.Helper()
	py := mlflowPython(t)
	env := mlflowEnv(&Server{URL: proxyURL}, mlflowCreds{user: "admin", password: adminPassword}, t.TempDir())
	res := runWorkflow(t, py, env, "full", "--prefix", "scale")
	if res["weights_sha256"] == "" || res["run_artifact_uri"] == "" {
		t.Fatalf("the workflow through the proxy printed no artifact results: %v", res)
	}
	return res
}

// checkMLflowWorkflow reads what mlflowThroughProxy's workflow wrote from
// replica s directly: the registered model with its alias, and the
// artifact whose digest the workflow printed.
func (c *cluster) checkMLflowWorkflow(s *Server, res map[string]string) {
	c.t.Helper()
	var rm struct {
		Model struct {
			Name    string `json:"name"`
			Aliases []struct {
				Alias   string `json:"alias"`
				Version string `json:"version"`
			} `json:"aliases"`
		} `json:"registered_model"`
	}
	c.mustJSON(s, 200, "GET", "/mlflow/api/2.0/mlflow/registered-models/get?name=scale-iris", nil, &rm)
	if a := rm.Model.Aliases; len(a) != 1 || a[0].Alias != "champion" || a[0].Version != "1" {
		c.t.Errorf("%s: registered model %+v, want alias champion on version 1", s.URL, rm.Model)
	}
	// mlflow-artifacts:/<path> is served under /mlflow-artifacts/artifacts/<path>.
	rel, ok := strings.CutPrefix(res["run_artifact_uri"], "mlflow-artifacts:/")
	if !ok {
		c.t.Fatalf("run artifact URI %q is not an mlflow-artifacts: URI", res["run_artifact_uri"])
	}
	rel = strings.TrimPrefix(rel, "/")
	body, _ := c.must(s, http.StatusOK, "GET", "/mlflow/api/2.0/mlflow-artifacts/artifacts/"+rel+"/data/weights.bin", nil)
	if got := sha256Hex(body); got != res["weights_sha256"] {
		c.t.Errorf("%s: weights.bin is %s, the workflow wrote %s", s.URL, got, res["weights_sha256"])
	}
}
