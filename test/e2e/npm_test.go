package e2e

// End-to-end test of the npm registry with the real npm client: login,
// publish (a scoped and an unscoped package, one depending on the other),
// install through a group of the hosted repository and a proxy of a second
// arca, dist-tag, deprecate, view, search, unpublish; and, where the
// machine's configured npm registry answers, install of a public package
// through an arca proxy of it. npm runs with a fresh HOME, user config and
// cache, so nothing leaks in from the machine or out to it.

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const npmTimeout = 2 * time.Minute

// npmClient runs npm with its own HOME, user config and cache.
type npmClient struct {
	t    *testing.T
	home string
	env  []string
}

func newNPMClient(t *testing.T) *npmClient {
	needTool(t, "npm")
	needTool(t, "node")
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(strings.ToLower(k), "npm_config_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "HOME="+home,
		"npm_config_userconfig="+filepath.Join(home, ".npmrc"),
		"npm_config_cache="+filepath.Join(home, ".npm-cache"),
		"npm_config_update_notifier=false", "npm_config_audit=false", "npm_config_fund=false",
		"npm_config_loglevel=warn", "npm_config_fetch_retries=0")
	return &npmClient{t: t, home: home, env: env}
}

// run runs npm args in dir and returns its output, failing the test if npm fails.
func (c *npmClient) run(dir string, args ...string) string {
	c.t.Helper()
	return runCmd(c.t, npmTimeout, dir, c.env, "npm", args...)
}

// runErr runs npm and returns its output and error.
func (c *npmClient) runErr(dir string, args ...string) (string, error) {
	return runCmdErr(npmTimeout, dir, c.env, "npm", args...)
}

// setToken adds an _authToken for a registry URL to the user config.
func (c *npmClient) setToken(registry, token string) {
	c.t.Helper()
	f, err := os.OpenFile(filepath.Join(c.home, ".npmrc"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	defer f.Close()
	fmt.Fprintf(f, "%s:_authToken=%s\n", strings.TrimPrefix(registry, "http:"), token)
}

// login runs `npm login` as a person would: npm tries the web login, falls
// back to asking for a username and password, and stores the token the
// registry answers with.
func (c *npmClient) login(registry, user, password string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), npmTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "login", "--registry", registry)
	cmd.Env, cmd.Dir = c.env, c.home
	cmd.WaitDelay = 5 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() { err := cmd.Wait(); pw.Close(); waited <- err }()
	// npm reads each answer with a fresh prompt, so each is written only
	// once its prompt shows.
	var out bytes.Buffer
	answered := 0
	buf := make([]byte, 4096)
	for {
		n, err := pr.Read(buf)
		out.Write(buf[:n])
		if answered == 0 && strings.Contains(out.String(), "Username:") {
			io.WriteString(stdin, user+"\n")
			answered++
		}
		if answered == 1 && strings.Contains(out.String(), "Password:") {
			io.WriteString(stdin, password+"\n")
			answered++
		}
		if err != nil {
			break
		}
	}
	if err := <-waited; err != nil {
		c.t.Fatalf("npm login: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "Logged in") {
		c.t.Fatalf("npm login printed no success:\n%s", out.String())
	}
}

// npmPackage writes a package directory with package.json and index.js.
func npmPackage(t *testing.T, name, version string, deps map[string]string, body string) string {
	t.Helper()
	dir := t.TempDir()
	pj, _ := json.MarshalIndent(map[string]any{
		"name": name, "version": version, "description": "e2e package " + name, "main": "index.js",
		"license": "MIT", "keywords": []string{"arca-e2e"}, "dependencies": deps,
	}, "", "  ")
	mustWriteNPM(t, filepath.Join(dir, "package.json"), pj)
	mustWriteNPM(t, filepath.Join(dir, "index.js"), []byte(body))
	return dir
}

func mustWriteNPM(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// npmAPI calls arca's own API with the admin's credentials.
func npmAPI(t *testing.T, s *Server, method, path, body string, want int) []byte {
	t.Helper()
	r := curl(t, strings.NewReader(body), "-u", s.Cred(), "-X", method, "-H", "Content-Type: application/json", "--data-binary", "@-", s.URL+path)
	wantStatus(t, r, want, method+" "+path)
	return r.Body(t)
}

// npmLock reads the packages of a package-lock.json.
func npmLock(t *testing.T, dir string) map[string]struct {
	Version, Resolved, Integrity string
} {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Packages map[string]struct {
			Version, Resolved, Integrity string
		} `json:"packages"`
	}
	if err := json.Unmarshal(b, &lock); err != nil {
		t.Fatalf("package-lock.json: %v", err)
	}
	return lock.Packages
}

func npmSRI(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512-" + base64.StdEncoding.EncodeToString(s[:])
}

func TestNPMClient(t *testing.T) {
	c := newNPMClient(t)
	up := StartServer(t, ServerOptions{})
	s := StartServer(t, ServerOptions{})
	hosted := s.URL + "/npm/npm-hosted/"
	group := s.URL + "/npm/npm-all/"
	upHosted := up.URL + "/npm/npm-hosted/"

	// npm login: the web login is refused, npm asks for a password, arca
	// answers with a token that npm keeps for this registry.
	c.login(hosted, "admin", s.opts.AdminPassword)
	if who := strings.TrimSpace(c.run(c.home, "whoami", "--registry", hosted)); who != "admin" {
		t.Fatalf("npm whoami = %q", who)
	}
	rc, _ := os.ReadFile(filepath.Join(c.home, ".npmrc"))
	token := ""
	for _, line := range strings.Split(string(rc), "\n") {
		if _, tok, ok := strings.Cut(line, ":_authToken="); ok && strings.HasPrefix(tok, "arca_") {
			token = tok
		}
	}
	if token == "" {
		t.Fatalf("npm login stored no arca token:\n%s", rc)
	}
	c.setToken(group, token)
	var upTok struct {
		Token string `json:"token"`
	}
	json.Unmarshal(npmAPI(t, up, "POST", "/api/v1/users/admin/tokens", `{"name":"npm-e2e"}`, 201), &upTok)
	c.setToken(upHosted, upTok.Token)

	// The second arca has a public package, and a package with the name of
	// an internal one (which the group must not use).
	c.run(npmPackage(t, "e2e-remote", "1.2.0", nil, `module.exports = () => "remote-1.2.0";`+"\n"), "publish", "--registry", upHosted)
	c.run(npmPackage(t, "@e2e/base", "9.9.9", nil, `module.exports = () => "IMPOSTOR";`+"\n"), "publish", "--registry", upHosted)

	// Two packages in the hosted repository, one scoped, one depending on it
	// and on the remote package.
	c.run(npmPackage(t, "@e2e/base", "1.0.0", nil, `module.exports = () => "base-1.0.0";`+"\n"), "publish", "--registry", hosted)
	appDir := npmPackage(t, "e2e-app", "2.0.0", map[string]string{"@e2e/base": ">=1.0.0", "e2e-remote": "^1.0.0"},
		`module.exports = () => "app:" + require("@e2e/base")() + "," + require("e2e-remote")();`+"\n")
	c.run(appDir, "publish", "--registry", hosted)
	out, err := c.runErr(appDir, "publish", "--registry", hosted)
	if err == nil || !strings.Contains(out, "cannot publish over") {
		t.Fatalf("publishing the same version again: %v\n%s", err, out)
	}

	// A proxy of the second arca, and a group of it and the hosted repository.
	npmAPI(t, s, "POST", "/api/v1/repositories", fmt.Sprintf(
		`{"name":"npm-up","format":"npm","kind":"proxy","settings":{"upstream":{"url":%q,"token":%q}}}`, upHosted, upTok.Token), 201)
	npmAPI(t, s, "POST", "/api/v1/repositories", `{"name":"npm-all","format":"npm","kind":"group","settings":{"members":["npm-up","npm-hosted"]}}`, 201)

	// npm install in a fresh project through the group.
	proj := t.TempDir()
	mustWriteNPM(t, filepath.Join(proj, "package.json"), []byte(`{"name":"e2e-project","version":"1.0.0","private":true}`))
	c.run(proj, "install", "e2e-app", "--registry", group)
	got := strings.TrimSpace(runCmd(t, time.Minute, proj, c.env, "node", "-e", `console.log(require("e2e-app")())`))
	if got != "app:base-1.0.0,remote-1.2.0" {
		t.Fatalf("the installed packages say %q", got)
	}
	lock := npmLock(t, proj)
	for path, want := range map[string]string{
		"node_modules/e2e-app": "2.0.0", "node_modules/@e2e/base": "1.0.0", "node_modules/e2e-remote": "1.2.0",
	} {
		p := lock[path]
		if p.Version != want || !strings.HasPrefix(p.Resolved, group) || !strings.HasPrefix(p.Integrity, "sha512-") {
			t.Errorf("lockfile %s = %+v, want version %s resolved under %s", path, p, want, group)
		}
	}
	// The remote package's integrity is the one the second arca states, and
	// matches the bytes of its tarball.
	r := curl(t, nil, "-H", "Authorization: Bearer "+upTok.Token, upHosted+"e2e-remote")
	var upDoc struct {
		Versions map[string]struct {
			Dist struct{ Integrity, Tarball string } `json:"dist"`
		} `json:"versions"`
	}
	decodeJSON(t, r, &upDoc)
	if lock["node_modules/e2e-remote"].Integrity != upDoc.Versions["1.2.0"].Dist.Integrity {
		t.Errorf("integrity through the proxy %s, upstream %s", lock["node_modules/e2e-remote"].Integrity, upDoc.Versions["1.2.0"].Dist.Integrity)
	}
	tb := curl(t, nil, "-H", "Authorization: Bearer "+token, lock["node_modules/e2e-remote"].Resolved)
	wantStatus(t, tb, 200, "tarball through the group")
	if npmSRI(tb.Body(t)) != upDoc.Versions["1.2.0"].Dist.Integrity {
		t.Errorf("the tarball's sha512 is not its integrity")
	}

	// npm dist-tag, deprecate, view.
	if out := c.run(c.home, "dist-tag", "add", "@e2e/base@1.0.0", "stable", "--registry", hosted); !strings.Contains(out, "+stable: @e2e/base@1.0.0") {
		t.Fatalf("dist-tag add: %s", out)
	}
	if out := c.run(c.home, "dist-tag", "ls", "@e2e/base", "--registry", hosted); !strings.Contains(out, "latest: 1.0.0") || !strings.Contains(out, "stable: 1.0.0") {
		t.Fatalf("dist-tag ls: %s", out)
	}
	c.run(c.home, "dist-tag", "rm", "@e2e/base", "stable", "--registry", hosted)
	if out := c.run(c.home, "dist-tag", "ls", "@e2e/base", "--registry", hosted); strings.Contains(out, "stable") {
		t.Fatalf("dist-tag ls after rm: %s", out)
	}
	c.run(c.home, "deprecate", "@e2e/base@1.0.0", "use @e2e/base 2", "--registry", hosted)
	var view map[string]any
	if err := json.Unmarshal([]byte(c.run(c.home, "view", "@e2e/base", "--json", "--registry", hosted)), &view); err != nil {
		t.Fatalf("npm view --json: %v", err)
	}
	if view["deprecated"] != "use @e2e/base 2" || view["version"] != "1.0.0" || view["description"] != "e2e package @e2e/base" {
		t.Fatalf("npm view: %v", view)
	}
	if out := c.run(c.home, "view", "e2e-app", "dependencies", "--registry", group); !strings.Contains(out, "e2e-remote") {
		t.Fatalf("npm view e2e-app dependencies: %s", out)
	}
	proj2 := t.TempDir()
	mustWriteNPM(t, filepath.Join(proj2, "package.json"), []byte(`{"name":"e2e-project2","version":"1.0.0","private":true}`))
	if out := c.run(proj2, "install", "@e2e/base", "--registry", group, "--loglevel", "warn"); !strings.Contains(out, "deprecated") {
		t.Errorf("npm install of a deprecated version printed no warning:\n%s", out)
	}
	// npm search.
	if out := c.run(c.home, "search", "e2e", "--registry", hosted); !strings.Contains(out, "e2e-app") || !strings.Contains(out, "@e2e/base") {
		t.Fatalf("npm search: %s", out)
	}

	// npm unpublish of one version, then of the whole package.
	c.run(npmPackage(t, "@e2e/base", "1.1.0", nil, "module.exports = 1;\n"), "publish", "--registry", hosted)
	c.run(c.home, "unpublish", "@e2e/base@1.1.0", "--force", "--registry", hosted)
	if out := c.run(c.home, "view", "@e2e/base", "versions", "--json", "--registry", hosted); strings.Contains(out, "1.1.0") {
		t.Fatalf("after unpublish of 1.1.0: %s", out)
	}
	c.run(c.home, "unpublish", "e2e-app", "--force", "--registry", hosted)
	if out, err := c.runErr(c.home, "view", "e2e-app", "--registry", hosted); err == nil || !strings.Contains(out, "404") {
		t.Fatalf("npm view after unpublish: %v\n%s", err, out)
	}

	npmPublicProxy(t, c, s, token)
	s.WantNoServerErrors()
	up.WantNoServerErrors()
}

// npmPublicProxy installs a small public package through an arca proxy of
// the registry npm is configured with on this machine, if it answers, and
// checks the lockfile's integrity against that registry's.
func npmPublicProxy(t *testing.T, c *npmClient, s *Server, token string) {
	out, err := runCmdErr(time.Minute, t.TempDir(), os.Environ(), "npm", "config", "get", "registry")
	public := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(public, "http") {
		t.Logf("no npm registry configured on this machine (%v: %s); skipping the public proxy", err, out)
		return
	}
	if !strings.HasSuffix(public, "/") {
		public += "/"
	}
	client := &http.Client{Timeout: 20 * time.Second}
	resp, err := client.Get(public + "is-number")
	if err != nil {
		t.Logf("the configured npm registry does not answer (%v); skipping the public proxy", err)
		return
	}
	var doc struct {
		DistTags map[string]string `json:"dist-tags"`
		Versions map[string]struct {
			Dist struct{ Integrity string } `json:"dist"`
		} `json:"versions"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 {
		t.Logf("the configured npm registry answered %s (%v); skipping the public proxy", resp.Status, err)
		return
	}
	npmAPI(t, s, "POST", "/api/v1/repositories", fmt.Sprintf(`{"name":"npm-public","format":"npm","kind":"proxy","settings":{"upstream":{"url":%q}}}`, public), 201)
	reg := s.URL + "/npm/npm-public/"
	c.setToken(reg, token)
	proj := t.TempDir()
	mustWriteNPM(t, filepath.Join(proj, "package.json"), []byte(`{"name":"e2e-public","version":"1.0.0","private":true}`))
	c.run(proj, "install", "is-number", "--registry", reg)
	got := npmLock(t, proj)["node_modules/is-number"]
	want := doc.Versions[got.Version].Dist.Integrity
	if got.Version == "" || got.Integrity != want || !strings.HasPrefix(got.Resolved, reg) {
		t.Fatalf("is-number through the proxy: %+v; the public registry says integrity %s", got, want)
	}
	t.Logf("installed is-number@%s through a proxy of the configured registry; integrity %s", got.Version, got.Integrity)
}
