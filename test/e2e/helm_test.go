package e2e

// End-to-end test of Helm charts with the real helm client, both ways
// arca serves them:
//   - a classic chart repository at /helm/<repo>/: charts uploaded with
//     curl to the ChartMuseum API (what helm cm-push sends), then helm repo
//     add (with credentials), repo update, search repo, pull and template,
//     through a hosted repository and through a group of it and a proxy;
//   - an OCI registry: helm push oci:// into arca's registry, helm pull
//     and helm template from it.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const helmTimeout = 2 * time.Minute

// helmClient runs helm with its own configuration, cache and data
// directories.
type helmClient struct {
	t   *testing.T
	bin string
	dir string
	env []string
}

func newHelmClient(t *testing.T) *helmClient {
	bin := needOCITools(t, "helm")["helm"]
	dir := t.TempDir()
	env := append(os.Environ(),
		"HOME="+dir,
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"),
	)
	return &helmClient{t: t, bin: bin, dir: dir, env: env}
}

func (h *helmClient) run(args ...string) string {
	h.t.Helper()
	return runCmd(h.t, helmTimeout, h.dir, h.env, h.bin, args...)
}

// pkg creates a chart with helm create and packages it at version.
func (h *helmClient) pkg(name, version string) string {
	h.t.Helper()
	if _, err := os.Stat(filepath.Join(h.dir, name)); err != nil {
		h.run("create", name)
	}
	h.run("package", name, "--version", version, "--app-version", "v"+version, "-d", filepath.Join(h.dir, "pkg"))
	return filepath.Join(h.dir, "pkg", name+"-"+version+".tgz")
}

func TestHelmChartRepository(t *testing.T) {
	h := newHelmClient(t)
	s := StartServer(t, ServerOptions{})

	// Uploads as ChartMuseum takes them: the archive as the body, and the
	// multipart form helm cm-push sends.
	v1 := h.pkg("demo", "0.1.0")
	r := curl(t, nil, "-u", s.Cred(), "--data-binary", "@"+v1, s.URL+"/helm/helm-hosted/api/charts")
	wantStatus(t, r, 201, "upload the archive")
	v2 := h.pkg("demo", "0.2.0")
	r = curl(t, nil, "-u", s.Cred(), "-F", "chart=@"+v2, s.URL+"/helm/helm-hosted/api/charts")
	wantStatus(t, r, 201, "multipart upload")
	r = curl(t, nil, "-u", s.Cred(), "--data-binary", "@"+v1, s.URL+"/helm/helm-hosted/api/charts")
	wantStatus(t, r, 200, "the same archive again")
	other := h.pkg("other", "1.0.0")
	r = curl(t, nil, "-u", s.Cred(), "-T", other, s.URL+"/helm/helm-hosted/charts/other-1.0.0.tgz")
	wantStatus(t, r, 201, "plain PUT")
	r = curl(t, nil, s.URL+"/helm/helm-hosted/index.yaml")
	wantStatus(t, r, 401, "anonymous index")

	// helm repo add with credentials, update, search, pull, template.
	h.run("repo", "add", "arca", s.URL+"/helm/helm-hosted", "--username", "admin", "--password", adminPassword)
	h.run("repo", "update")
	out := h.run("search", "repo", "arca/demo", "--versions")
	if !searchHas(out, "arca/demo", "0.2.0") || !searchHas(out, "arca/demo", "0.1.0") {
		t.Fatalf("helm search repo:\n%s", out)
	}
	pulled := filepath.Join(h.dir, "pulled")
	if err := os.MkdirAll(pulled, 0o755); err != nil {
		t.Fatal(err)
	}
	h.run("pull", "arca/demo", "--version", "0.1.0", "-d", pulled)
	if a, b := fileBytes(t, v1), fileBytes(t, filepath.Join(pulled, "demo-0.1.0.tgz")); a != b {
		t.Fatal("helm pull brought other bytes than were uploaded")
	}
	out = h.run("template", "rel", "arca/demo", "--version", "0.2.0")
	if !strings.Contains(out, "kind: Deployment") || !strings.Contains(out, "app.kubernetes.io/version: \"v0.2.0\"") {
		t.Fatalf("helm template:\n%s", out)
	}
	if out, err := runCmdErr(helmTimeout, h.dir, h.env, h.bin, "repo", "add", "anon", s.URL+"/helm/helm-hosted"); err == nil {
		t.Fatalf("helm repo add without credentials succeeded:\n%s", out)
	}

	// A proxy of a chart repository (here a second hosted repository of
	// the same server), and a group of it and the hosted repository.
	api := func(body string) {
		t.Helper()
		r := curl(t, strings.NewReader(body), "-u", s.Cred(), "-X", "POST", "-H", "Content-Type: application/json", "--data-binary", "@-", s.URL+"/api/v1/repositories")
		wantStatus(t, r, 201, "create repository")
	}
	api(`{"name":"helm-upstream","format":"helm","kind":"hosted"}`)
	api(fmt.Sprintf(`{"name":"helm-proxy","format":"helm","kind":"proxy","settings":{"upstream":{"url":%q,"username":"admin","password":%q}}}`,
		s.URL+"/helm/helm-upstream", adminPassword))
	api(`{"name":"helm-all","format":"helm","kind":"group","settings":{"members":["helm-hosted","helm-proxy"]}}`)
	remote := h.pkg("remote", "3.0.0")
	r = curl(t, nil, "-u", s.Cred(), "--data-binary", "@"+remote, s.URL+"/helm/helm-upstream/api/charts")
	wantStatus(t, r, 201, "upload upstream")
	h.run("repo", "add", "all", s.URL+"/helm/helm-all", "--username", "admin", "--password", adminPassword)
	h.run("repo", "update")
	out = h.run("search", "repo", "all/")
	for _, want := range [][2]string{{"all/demo", "0.2.0"}, {"all/other", "1.0.0"}, {"all/remote", "3.0.0"}} {
		if !searchHas(out, want[0], want[1]) {
			t.Fatalf("helm search repo all/ lacks %q:\n%s", want, out)
		}
	}
	// arca configure helm writes the repository helm repo add would.
	home := t.TempDir()
	runCmd(t, time.Minute, home, append(os.Environ(), "HOME="+home), arcaBin, "configure", "helm", "--url", s.URL,
		"--user", "admin", "--token", adminPassword)
	var confEnv []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HELM_") && !strings.HasPrefix(kv, "XDG_") && !strings.HasPrefix(kv, "HOME=") {
			confEnv = append(confEnv, kv)
		}
	}
	confEnv = append(confEnv, "HOME="+home)
	runCmd(t, helmTimeout, home, confEnv, h.bin, "repo", "update")
	if out := runCmd(t, helmTimeout, home, confEnv, h.bin, "search", "repo", "arca/demo"); !searchHas(out, "arca/demo", "0.2.0") {
		t.Fatalf("helm search repo after arca configure helm:\n%s", out)
	}

	h.run("pull", "all/remote", "-d", pulled)
	if a, b := fileBytes(t, remote), fileBytes(t, filepath.Join(pulled, "remote-3.0.0.tgz")); a != b {
		t.Fatal("helm pull through the group brought other bytes")
	}
	if out := h.run("template", "rel", "all/remote"); !strings.Contains(out, "kind: Service") {
		t.Fatalf("helm template through the group:\n%s", out)
	}
	s.WantNoServerErrors()
}

func TestHelmOCI(t *testing.T) {
	h := newHelmClient(t)
	s := StartServer(t, ServerOptions{})
	host := strings.TrimPrefix(s.URL, "http://")
	chart := h.pkg("ocidemo", "1.2.3")
	h.run("registry", "login", host, "--username", "admin", "--password", adminPassword, "--plain-http")
	out := h.run("push", chart, "oci://"+host+"/library/charts", "--plain-http")
	if !strings.Contains(out, "Digest: sha256:") {
		t.Fatalf("helm push:\n%s", out)
	}
	pulled := filepath.Join(h.dir, "pulled")
	if err := os.MkdirAll(pulled, 0o755); err != nil {
		t.Fatal(err)
	}
	h.run("pull", "oci://"+host+"/library/charts/ocidemo", "--version", "1.2.3", "-d", pulled, "--plain-http")
	if a, b := fileBytes(t, chart), fileBytes(t, filepath.Join(pulled, "ocidemo-1.2.3.tgz")); a != b {
		t.Fatal("helm pull oci:// brought other bytes than were pushed")
	}
	out = h.run("template", "rel", "oci://"+host+"/library/charts/ocidemo", "--version", "1.2.3", "--plain-http")
	if !strings.Contains(out, "kind: Deployment") {
		t.Fatalf("helm template oci://:\n%s", out)
	}
	s.WantNoServerErrors()
}

func fileBytes(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// searchHas reports whether helm search printed a row of chart at version.
func searchHas(out, chart, version string) bool {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == chart && f[1] == version {
			return true
		}
	}
	return false
}
