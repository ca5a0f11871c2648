package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestS3CopyAsDeveloper is issue 11 with real clients: a user who is a
// developer on one bucket copies server-side into it from a public bucket
// and from one they only read, with rclone (which creates the destination
// bucket first); a copy into the bucket they only read is refused. s3cmd,
// with SigV4 and SigV2 (whose x-amz-date has a numeric zone), writes there.
func TestS3CopyAsDeveloper(t *testing.T) {
	e := startS3Server(t)
	work := t.TempDir()
	api := func(method, path, body string, want int) []byte {
		t.Helper()
		r := curl(t, strings.NewReader(body), "-u", e.Cred(), "-X", method, "-H", "Content-Type: application/json", "--data-binary", "@-", e.Server.URL+path)
		wantStatus(t, r, want, method+" "+path)
		return r.Body(t)
	}
	api("POST", "/api/v1/repositories", `{"name":"pub","format":"s3","visibility":"public"}`, 201)
	api("POST", "/api/v1/repositories", `{"name":"readable","format":"s3"}`, 201)
	api("POST", "/api/v1/repositories", `{"name":"mine","format":"s3"}`, 201)
	api("POST", "/api/v1/users", `{"name":"dev","password":"dev-password-1"}`, 201)
	api("PUT", "/api/v1/repositories/readable/roles/dev", `{"role":"reader"}`, 200)
	api("PUT", "/api/v1/repositories/mine/roles/dev", `{"role":"developer"}`, 200)
	key := string(api("POST", "/api/v1/users/dev/s3keys", `{}`, 201))
	id := regexp.MustCompile(`"access_key_id":\s*"([^"]+)"`).FindStringSubmatch(key)
	secret := regexp.MustCompile(`"secret_access_key":\s*"([^"]+)"`).FindStringSubmatch(key)
	if id == nil || secret == nil {
		t.Fatalf("no key pair in %s", key)
	}
	src := filepath.Join(work, "src.bin")
	writeRandomFile(t, src, 100<<10)

	t.Run("rclone", func(t *testing.T) {
		rclone := needTool(t, "rclone")
		env := []string{"RCLONE_CONFIG=/dev/null"}
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "RCLONE_") {
				env = append(env, kv)
			}
		}
		remote := func(name, keyID, secret string) []string {
			p := "RCLONE_CONFIG_" + name + "_"
			return []string{p + "TYPE=s3", p + "PROVIDER=Other", p + "ENDPOINT=" + e.URL, p + "ACCESS_KEY_ID=" + keyID,
				p + "SECRET_ACCESS_KEY=" + secret, p + "REGION=us-east-1", p + "FORCE_PATH_STYLE=true"}
		}
		env = append(env, remote("ADMIN", e.KeyID, e.Secret)...)
		env = append(env, remote("DEV", id[1], secret[1])...)
		rc := func(args ...string) string {
			t.Helper()
			return runCmd(t, 2*time.Minute, work, env, rclone, args...)
		}
		rc("copyto", src, "admin:pub/obj")
		rc("copyto", src, "admin:readable/obj")
		rc("copyto", "dev:pub/obj", "dev:mine/from-pub")
		rc("copyto", "dev:readable/obj", "dev:mine/from-readable")
		if out := rc("lsf", "dev:mine"); !strings.Contains(out, "from-pub") || !strings.Contains(out, "from-readable") {
			t.Fatalf("rclone lsf dev:mine = %q", out)
		}
		if out, err := runCmdErr(2*time.Minute, work, env, rclone, "copyto", "dev:pub/obj", "dev:readable/copy"); err == nil || !strings.Contains(out, "AccessDenied") {
			t.Fatalf("rclone copy into a bucket dev only reads: %v\n%s", err, out)
		}
	})

	t.Run("s3cmd", func(t *testing.T) {
		s3cmd := needTool(t, "s3cmd")
		host := strings.TrimPrefix(e.URL, "http://")
		for _, v2 := range []bool{false, true} {
			cfg := filepath.Join(work, fmt.Sprintf("s3cfg-%t", v2))
			mustWrite(t, cfg, fmt.Sprintf("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\nhost_bucket = %s\nuse_https = False\nsignature_v2 = %s\nbucket_location = us-east-1\n",
				id[1], secret[1], host, host, map[bool]string{false: "False", true: "True"}[v2]))
			sc := func(args ...string) string {
				t.Helper()
				return runCmd(t, 2*time.Minute, work, os.Environ(), s3cmd, append([]string{"-c", cfg}, args...)...)
			}
			// (s3cmd cp copies the ACL afterwards with PUT ?acl, which
			// arca answers 501; the copy itself is rclone's part above.)
			sc("put", src, fmt.Sprintf("s3://mine/own-%t", v2))
			if out := sc("ls", "s3://mine/"); !strings.Contains(out, fmt.Sprintf("s3://mine/own-%t", v2)) {
				t.Fatalf("s3cmd (v2 %t) ls:\n%s", v2, out)
			}
			sc("get", "--force", fmt.Sprintf("s3://mine/own-%t", v2), filepath.Join(work, "back"))
		}
	})
	e.WantNoServerErrors()
}
