package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/sso/ldaptest"
)

// ssoConfig writes an arca configuration file with the auth section yaml
// (indented under auth:) and returns the ARCA_CONFIG setting.
func ssoConfig(t *testing.T, auth string) string {
	p := filepath.Join(t.TempDir(), "arca.yaml")
	mustWriteFile(t, p, []byte("auth:\n"+auth))
	return "ARCA_CONFIG=" + p
}

// TestSSOLDAPClients: arca over a real slapd (LDAPS with the run's CA),
// roles from LDAP groups. alice (group devs: developer on library and
// pypi-hosted) pushes an image with crane and uploads a wheel with twine;
// bob (group readers: reader on everything) pulls, installs with pip and
// may not push. Then bob leaves readers: his password loses access once
// the credential cache entry expires (the next bind re-reads his groups),
// his token at the next ldap_sync — here both within seconds.
func TestSSOLDAPClients(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine and build) is not set")
	}
	py, twine := filepath.Join(venv, "bin", "python"), filepath.Join(venv, "bin", "twine")
	tools := needOCITools(t, "crane")
	l := ldaptest.Start(t)
	l.AddUser("alice", "alice-ldap-pw")
	l.AddUser("bob", "bob-ldap-pw")
	l.AddGroup("devs", "alice")
	l.AddGroup("readers", "bob", "placeholder") // groupOfNames needs a member when bob leaves

	srv := StartServer(t, ServerOptions{Env: []string{ssoConfig(t, fmt.Sprintf(`  credential_cache_ttl: 2s
  ldap:
    url: %s
    ca_file: %s
    bind_dn: %s
    bind_password: %s
    user_base: %s
    group_base: %s
    sync_interval: 3s
    group_roles:
      devs: {"library": developer, "pypi-*": developer}
      readers: {"*": reader}
`, l.LDAPSURL, l.CAFile, ldaptest.AdminDN, ldaptest.AdminPassword, ldaptest.People, ldaptest.Groups))}})

	work := t.TempDir()
	env := pypiEnv(filepath.Join(work, "home"))
	run := func(name string, args ...string) string {
		t.Helper()
		return runCmd(t, pypiTimeout, work, env, name, args...)
	}

	// OCI: alice pushes, bob pulls and is refused a push.
	alice := newOCIClient(t, srv, tools)
	alice.login("alice", "alice-ldap-pw")
	layer := filepath.Join(work, "layer.tar")
	writeLayerTar(t, layer, map[string][]byte{"hello.txt": []byte("from ldap")})
	alice.crane("append", "-f", layer, "-t", alice.ref("library/ldap-app:1"))
	bob := newOCIClient(t, srv, tools)
	bob.login("bob", "bob-ldap-pw")
	if got := strings.TrimSpace(bob.crane("ls", bob.ref("library/ldap-app"))); got != "1" {
		t.Fatalf("bob's crane ls = %q", got)
	}
	if out, err := bob.craneErr("append", "-f", layer, "-t", bob.ref("library/ldap-app:2")); err == nil {
		t.Fatalf("bob (reader) pushed:\n%s", out)
	} else if !strings.Contains(out, "DENIED") && !strings.Contains(out, "403") && !strings.Contains(out, "UNAUTHORIZED") {
		t.Fatalf("bob's push failed without a refusal:\n%s", out)
	}

	// PyPI: alice uploads with twine, bob installs with pip.
	proj := pypiProject(t, work, "ldap-demo", "ldap_demo", "1.0.0", "", `GREETING = "hello from ldap"`)
	run(py, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir", filepath.Join(proj, "dist"), proj)
	run(twine, append([]string{"upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", srv.URL + "/pypi/pypi-hosted/", "-u", "alice", "-p", "alice-ldap-pw"}, pypiDists(t, proj)...)...)
	index := strings.Replace(srv.URL, "http://", "http://bob:bob-ldap-pw@", 1) + "/pypi/pypi-hosted/simple/"
	pip := func(target string) (string, error) {
		return runCmdErr(pypiTimeout, work, env, py, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir",
			"install", "--no-deps", "--target", filepath.Join(work, target), "--index-url", index, "ldap-demo")
	}
	if out, err := pip("t1"); err != nil {
		t.Fatalf("bob's pip install: %v\n%s", err, out)
	}

	// bob's token, created with his LDAP password.
	r := curl(t, strings.NewReader(`{"name":"laptop"}`), "-u", "bob:bob-ldap-pw", "-X", "POST", "--data-binary", "@-", srv.URL+"/api/v1/users/bob/tokens")
	wantStatus(t, r, http.StatusCreated, "bob creates a token")
	var tok struct {
		Token string `json:"token"`
	}
	decodeJSON(t, r, &tok)
	secret := tok.Token
	readWithToken := func() int {
		return curl(t, nil, "-H", "Authorization: Bearer "+secret, srv.URL+"/api/v1/repositories/pypi-hosted").Status
	}
	if st := readWithToken(); st != http.StatusOK {
		t.Fatalf("bob's token reads pypi-hosted: %d", st)
	}

	// bob leaves readers.
	l.RemoveMember("readers", "bob")
	changed := time.Now()
	waitFor := func(what string, refused func() bool) {
		t.Helper()
		for !refused() {
			if time.Since(changed) > 30*time.Second {
				t.Fatalf("%s still works 30s after the group change", what)
			}
			time.Sleep(500 * time.Millisecond)
		}
		t.Logf("%s refused %s after the group change", what, time.Since(changed).Round(100*time.Millisecond))
	}
	waitFor("bob's token", func() bool { return readWithToken() == http.StatusForbidden || readWithToken() == http.StatusNotFound })
	time.Sleep(2 * time.Second) // the credential cache's TTL
	if out, err := pip("t2"); err == nil {
		t.Fatalf("bob's pip install works after he left readers:\n%s", out)
	} else if !strings.Contains(out, "No matching distribution") {
		t.Fatalf("pip failed for another reason:\n%s", out)
	}
	// (pip reports a refused index page as "no versions"; the page is 403.)
	wantStatus(t, curl(t, nil, "-u", "bob:bob-ldap-pw", srv.URL+"/pypi/pypi-hosted/simple/ldap-demo/"), http.StatusForbidden, "bob's index page")
	if out, err := bob.craneErr("ls", bob.ref("library/ldap-app")); err == nil {
		t.Fatalf("bob's crane ls works after he left readers:\n%s", out)
	}
	// alice keeps her access.
	alice.crane("append", "-f", layer, "-t", alice.ref("library/ldap-app:2"))
}
