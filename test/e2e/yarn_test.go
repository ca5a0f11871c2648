package e2e

// yarn 1 (classic) against a private npm repository: it sends the token
// with unscoped packages only when always-auth is set (docs/npm.md). yarn
// is installed from the machine's configured npm registry into the test's
// own directory; without one the test is skipped.

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// installYarn installs yarn 1 into a temporary directory and returns its
// path, or skips the test when the machine's npm registry cannot provide it.
func installYarn(t *testing.T) string {
	t.Helper()
	needTool(t, "npm")
	dir := t.TempDir()
	env := append(os.Environ(), "npm_config_cache="+filepath.Join(dir, ".npm-cache"),
		"npm_config_update_notifier=false", "npm_config_audit=false", "npm_config_fund=false")
	out, err := runCmdErr(2*time.Minute, dir, env, "npm", "install", "--prefix", dir, "--no-save", "yarn@1")
	yarn := filepath.Join(dir, "node_modules", ".bin", "yarn")
	if _, statErr := os.Stat(yarn); err != nil || statErr != nil {
		t.Skipf("yarn 1 could not be installed from the configured npm registry (%v):\n%s", err, out)
	}
	return yarn
}

func TestYarnClassic(t *testing.T) {
	yarn := installYarn(t)
	c := newNPMClient(t)
	s := StartServer(t, ServerOptions{})
	hosted := s.URL + "/npm/npm-hosted/"
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal(npmAPI(t, s, "POST", "/api/v1/users/admin/tokens", `{"name":"yarn-e2e"}`, 201), &tok)
	c.setToken(hosted, tok.Token)
	c.run(npmPackage(t, "e2e-yarn-dep", "1.0.0", nil, `module.exports = () => "yarn-dep-1.0.0";`+"\n"), "publish", "--registry", hosted)

	install := func(extraEnv ...string) (string, error) {
		proj := t.TempDir()
		mustWriteNPM(t, filepath.Join(proj, "package.json"), []byte(`{"name":"e2e-yarn","version":"1.0.0","private":true,"dependencies":{"e2e-yarn-dep":"^1.0.0"}}`))
		mustWriteNPM(t, filepath.Join(proj, ".npmrc"), []byte("registry="+hosted+"\n"))
		env := append(append([]string{}, c.env...), extraEnv...)
		out, err := runCmdErr(npmTimeout, proj, env, yarn, "install", "--non-interactive", "--no-progress", "--cache-folder", filepath.Join(proj, ".yarn-cache"))
		if err != nil {
			return out, err
		}
		got := strings.TrimSpace(runCmd(t, time.Minute, proj, c.env, "node", "-e", `console.log(require("e2e-yarn-dep")())`))
		if got != "yarn-dep-1.0.0" {
			t.Fatalf("the package yarn installed says %q", got)
		}
		return out, nil
	}
	// Without always-auth, yarn 1 asks anonymously and the private
	// repository refuses: what docs/npm.md describes.
	if out, err := install(); err == nil || !strings.Contains(out, "authentication required") {
		t.Fatalf("yarn without always-auth: %v\n%s", err, out)
	}
	// The environment variable the docs name.
	if out, err := install("YARN_ALWAYS_AUTH=true"); err != nil {
		t.Fatalf("yarn with YARN_ALWAYS_AUTH=true: %v\n%s", err, out)
	}
	// The .npmrc line the docs and the UI give.
	f, err := os.OpenFile(filepath.Join(c.home, ".npmrc"), os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(strings.TrimPrefix(hosted, "http:") + ":always-auth=true\n")
	f.Close()
	if out, err := install(); err != nil {
		t.Fatalf("yarn with always-auth in .npmrc: %v\n%s", err, out)
	}
}
