package scan_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// tool finds a client in $ARCA_TOOLS_BIN, $ARCA_TEST_VENV/bin or PATH; a
// missing one skips the test, or fails it under CI.
func tool(t *testing.T, name string) string {
	t.Helper()
	for _, dir := range []string{os.Getenv("ARCA_TOOLS_BIN"), filepath.Join(os.Getenv("ARCA_TEST_VENV"), "bin")} {
		if p := filepath.Join(dir, name); dir != "" && dir != "bin" {
			if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
				return p
			}
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (ARCA_TOOLS_BIN, ARCA_TEST_VENV, PATH)", name)
	}
	t.Skipf("%s not found; scripts/test.sh installs it", name)
	return ""
}

// client runs a command as user (crane and oras read credentials from
// DOCKER_CONFIG), returning its combined output and error.
type client struct {
	t    *testing.T
	host string
	env  []string
}

func newClient(t *testing.T, s *apptest.Server, user, password string) *client {
	u, _ := url.Parse(s.URL)
	dir := t.TempDir()
	cfg := fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, u.Host, base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600)
	return &client{t: t, host: u.Host, env: append(os.Environ(), "DOCKER_CONFIG="+dir, "HOME="+dir, "PIP_CONFIG_FILE=/dev/null", "PIP_DISABLE_PIP_VERSION_CHECK=1")}
}

func (c *client) run(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = c.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// A repository's policy blocks pulls and downloads of artifacts with
// findings at or above its severity, in each protocol's own words and
// naming the worst advisory; admins are exempt; the allowlist lifts it.
// The SBOM the scan attached is what `oras discover` finds.
func TestPolicyBlocksDownloads(t *testing.T) {
	crane, oras, pip := tool(t, "crane"), tool(t, "oras"), tool(t, "pip")
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		uploadWheel(t, s)
		publishLodash(t, s)
		img := debianImage(t, s, "app", 3)
		waitReport(t, s, "repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl")
		waitReport(t, s, "repository=npm-hosted&name=lodash&ref=4.17.15")
		waitReport(t, s, "repository=library&name=app&ref="+img.digest)
		reader := newClient(t, s, "reader", "reader-password-1234")
		ref := reader.host + "/library/app@" + img.digest

		out, err := reader.run(oras, "discover", "--plain-http", "--format", "json", ref)
		if err != nil || !strings.Contains(out, `"artifactType": "application/vnd.cyclonedx+json"`) {
			t.Fatalf("oras discover: %v\n%s", err, out)
		}
		// The SBOM itself is pulled as any artifact, policy or not.
		var disc struct {
			Referrers []struct {
				Digest string `json:"digest"`
			} `json:"referrers"`
		}
		json.Unmarshal([]byte(out), &disc)
		if len(disc.Referrers) != 1 {
			t.Fatalf("oras discover: %s", out)
		}
		sbomDir := t.TempDir()
		if out, err := reader.run(oras, "pull", "--plain-http", "-o", sbomDir, reader.host+"/library/app@"+disc.Referrers[0].Digest); err != nil {
			t.Fatalf("oras pull of the SBOM: %v\n%s", err, out)
		}

		setPolicy := func(repoName, policy string) {
			resp, body := s.Do(t, "PATCH", "/api/v1/repositories/"+repoName, admin, strings.NewReader(`{"settings":{"scan_policy":`+policy+`}}`),
				"Content-Type", "application/json")
			if resp.StatusCode != 200 {
				t.Fatalf("policy of %s: %d %s", repoName, resp.StatusCode, body)
			}
		}
		setPolicy("library", `{"block_severity":"high"}`)
		setPolicy("pypi-hosted", `{"block_severity":"critical"}`)
		setPolicy("npm-hosted", `{"block_severity":"high","allowlist":[{"id":"CVE-2020-8203","expires":"2020-01-01"}]}`)

		// crane pull: the manifest is refused with DENIED and the advisory.
		out, err = reader.run(crane, "pull", "--insecure", ref, filepath.Join(t.TempDir(), "img.tar"))
		if err == nil || !strings.Contains(out, "DENIED") || !strings.Contains(out, "GHSA-x84v-xcm2-53pg") {
			t.Fatalf("crane pull of a blocked image: %v\n%s", err, out)
		}
		// A layer of the blocked image is refused too.
		var m struct {
			Layers []struct{ Digest string } `json:"layers"`
		}
		json.Unmarshal(img.manifest, &m)
		resp, body := s.Do(t, "GET", "/v2/library/app/blobs/"+m.Layers[1].Digest, "reader:reader-password-1234", nil)
		if resp.StatusCode != 403 || !strings.Contains(body, `"DENIED"`) {
			t.Fatalf("blob of a blocked image: %d %s", resp.StatusCode, body)
		}
		// Admins are exempt.
		adminClient := newClient(t, s, "admin", apptest.AdminPassword)
		if out, err := adminClient.run(crane, "pull", "--insecure", ref, filepath.Join(t.TempDir(), "img.tar")); err != nil {
			t.Fatalf("an admin's pull: %v\n%s", err, out)
		}
		// pip: 403 on the file; the text names the advisory.
		index := strings.Replace(s.URL, "://", "://reader:reader-password-1234@", 1) + "/pypi/pypi-hosted/simple/"
		out, err = reader.run(pip, "download", "--no-deps", "--no-cache-dir", "-d", t.TempDir(), "--index-url", index, "requests==2.19.1")
		if err == nil || !strings.Contains(out, "403") {
			_, page := s.Do(t, "GET", "/pypi/pypi-hosted/simple/requests/", "reader:reader-password-1234", nil)
			t.Fatalf("pip download of a blocked file: %v\n%s\n%s", err, out, page)
		}
		resp, body = s.Do(t, "GET", "/pypi/pypi-hosted/files/requests/requests-2.19.1-py2.py3-none-any.whl", "reader:reader-password-1234", nil)
		if resp.StatusCode != 403 || !strings.Contains(body, "GHSA-x84v-xcm2-53pg (Critical) in requests 2.19.1; fixed in 2.20.0") {
			t.Fatalf("pip's file: %d %s", resp.StatusCode, body)
		}
		// npm: an expired allowlist entry does not exempt.
		resp, body = s.Do(t, "GET", "/npm/npm-hosted/lodash/-/lodash-4.17.15.tgz", "reader:reader-password-1234", nil)
		if resp.StatusCode != 403 || !strings.Contains(body, `"error"`) || !strings.Contains(body, "GHSA-p6mc-m468-83gw") {
			t.Fatalf("npm tarball: %d %s", resp.StatusCode, body)
		}

		// The allowlist lifts the block (by ID or alias) until it expires.
		setPolicy("library", `{"block_severity":"high","allowlist":[{"id":"GHSA-x84v-xcm2-53pg"},{"id":"cve-2020-8203","expires":"2999-12-31"}]}`)
		setPolicy("npm-hosted", `{"block_severity":"high","allowlist":[{"id":"CVE-2020-8203","expires":"2999-01-01T00:00:00Z"}]}`)
		setPolicy("pypi-hosted", `{"block_severity":"critical","allowlist":[{"id":"CVE-2018-18074"}]}`)
		if out, err := reader.run(crane, "pull", "--insecure", ref, filepath.Join(t.TempDir(), "img.tar")); err != nil {
			t.Fatalf("crane pull with the advisories allowed: %v\n%s", err, out)
		}
		if out, err := reader.run(pip, "download", "--no-deps", "--no-cache-dir", "-d", t.TempDir(), "--index-url", index, "requests==2.19.1"); err != nil {
			t.Fatalf("pip download with the advisory allowed: %v\n%s", err, out)
		}
		if resp, body := s.Do(t, "GET", "/npm/npm-hosted/lodash/-/lodash-4.17.15.tgz", "reader:reader-password-1234", nil); resp.StatusCode != 200 {
			t.Fatalf("npm tarball with the advisory allowed: %d %s", resp.StatusCode, body)
		}
		// A policy that does not parse is refused when saved.
		resp, body = s.Do(t, "PATCH", "/api/v1/repositories/library", admin, strings.NewReader(`{"settings":{"scan_policy":{"block_severity":"dire"}}}`),
			"Content-Type", "application/json")
		if resp.StatusCode != 400 {
			t.Fatalf("invalid policy: %d %s", resp.StatusCode, body)
		}
	})
}

// TestPolicyHoldsDuringRescans: a rescan replaces a report in one
// transaction while the gate reads reports and findings in several
// statements; a download judged across a replacement must still be
// refused (403), or at worst asked to retry (503), never served.
func TestPolicyHoldsDuringRescans(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		uploadWheel(t, s)
		waitReport(t, s, "repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl")
		resp, body := s.Do(t, "PATCH", "/api/v1/repositories/pypi-hosted", admin, strings.NewReader(`{"settings":{"scan_policy":{"block_severity":"critical"}}}`),
			"Content-Type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("policy: %d %s", resp.StatusCode, body)
		}
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for {
				select {
				case <-stop:
					return
				default:
				}
				s.Do(t, "POST", "/api/v1/scan", admin, strings.NewReader(`{"repository":"pypi-hosted"}`), "Content-Type", "application/json")
				time.Sleep(5 * time.Millisecond)
			}
		}()
		served, retry := 0, 0
		for i := 0; i < 300; i++ {
			resp, _ := s.Do(t, "GET", "/pypi/pypi-hosted/files/requests/requests-2.19.1-py2.py3-none-any.whl", "reader:reader-password-1234", nil)
			switch resp.StatusCode {
			case 403:
			case 503:
				retry++
			default:
				served++
				t.Errorf("download %d during rescans: %d", i, resp.StatusCode)
			}
		}
		close(stop)
		<-done
		t.Logf("300 downloads during rescans: %d served, %d asked to retry", served, retry)
	})
}
