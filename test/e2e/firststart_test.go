package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// firstStartS3Re matches the lines the first start prints for the admin's
// generated S3 key pair, meant to be pasted into a shell.
var firstStartS3Re = regexp.MustCompile(`(?m)^ +(export AWS_ACCESS_KEY_ID=\S+)\n +(export AWS_SECRET_ACCESS_KEY=\S+)\n +(aws --endpoint-url (\S+) s3 ls)$`)

// TestFirstStartPrintsS3Exports: the first start of a fresh data directory
// (no ARCA_S3_ACCESS_KEY) prints the admin's S3 key pair as export lines
// beside the S3 endpoint's real address, and those lines, pasted into a
// shell, work with the aws CLI as they stand.
func TestFirstStartPrintsS3Exports(t *testing.T) {
	venv := s3Venv(t)
	srv := StartServer(t, ServerOptions{})
	var m []string
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		m = firstStartS3Re.FindStringSubmatch(srv.Log())
	}
	if m == nil {
		t.Fatalf("the first start printed no S3 export lines:\n%s", srv.LogTail(40))
	}
	s3 := s3ListenRe.FindStringSubmatch(srv.Log())
	if s3 == nil || strings.Trim(s3[1], `"`) != m[4] {
		t.Fatalf("the printed endpoint %s is not the S3 listener's (%v)", m[4], s3)
	}
	home := t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "ARCA_") && !strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "PATH=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "AWS_DEFAULT_REGION=us-east-1", "AWS_MAX_ATTEMPTS=1",
		"PATH="+filepath.Join(venv, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	out := runCmd(t, 2*time.Minute, home, env, "bash", "-e", "-c", m[1]+"\n"+m[2]+"\n"+m[3]+"\n")
	for _, bucket := range []string{"backups", "dvc-storage", "mlflow-artifacts"} {
		if !strings.Contains(out, bucket) {
			t.Errorf("aws s3 ls with the printed key pair does not list %s:\n%s", bucket, out)
		}
	}
	// A second start prints no key: the secret was shown once.
	srv.Stop()
	again := StartServer(t, ServerOptions{DataDir: srv.DataDir()})
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(again.Log(), "AWS_SECRET_ACCESS_KEY") {
		t.Errorf("a second start printed an S3 key again:\n%s", again.LogTail(40))
	}
	srv.WantNoServerErrors()
	again.WantNoServerErrors()
}

// TestAdminPasswordOfAnExistingDataDir: ARCA_ADMIN_PASSWORD applies when
// the admin is created; started again with another one, arca keeps the
// stored password and says so in its log, naming the command that changes
// it, rather than leaving every client with a bare 401.
func TestAdminPasswordOfAnExistingDataDir(t *testing.T) {
	first := StartServer(t, ServerOptions{AdminPassword: "first-Passw0rd-1"})
	first.Stop()
	const warning = "differs from the stored password of the user admin"
	if strings.Contains(first.Log(), warning) {
		t.Fatalf("the first start warned about the password:\n%s", first.LogTail(40))
	}
	srv := StartServer(t, ServerOptions{DataDir: first.DataDir(), AdminPassword: "change-me-now"})
	// The check runs in the background once the server listens (it costs
	// an argon2id hash that would delay the first answer).
	line := ""
	for deadline := time.Now().Add(10 * time.Second); line == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for l := range strings.SplitSeq(srv.Log(), "\n") {
			if strings.Contains(l, warning) {
				line = l
			}
		}
	}
	if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "arca admin user passwd admin") || !strings.Contains(line, "ARCA_ADMIN_PASSWORD") {
		t.Fatalf("no warning naming ARCA_ADMIN_PASSWORD and `arca admin user passwd admin`:\n%s", srv.LogTail(40))
	}
	for _, c := range []struct {
		pw     string
		status int
	}{{"first-Passw0rd-1", http.StatusOK}, {"change-me-now", http.StatusUnauthorized}} {
		r := curl(t, nil, "-u", "admin:"+c.pw, srv.URL+"/api/v1/repositories")
		if r.Status != c.status {
			t.Errorf("admin with %s: status %d, want %d", c.pw, r.Status, c.status)
		}
	}
}

// TestFirstStartBanner: the first start on a fresh data directory prints
// one banner with the addresses (the UI and registry at the main
// listener's real address, the S3 endpoint at the S3 listener's), whom to
// sign in as and where the password is, the data directory, and commands
// to try — and the first of them works as printed. A second start prints
// no banner.
func TestFirstStartBanner(t *testing.T) {
	tools := needOCITools(t, "crane")
	srv := StartServer(t, ServerOptions{})
	var log string
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(log, "arca is ready.") && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		log = srv.Log()
	}
	banner := log[strings.Index(log, "arca is ready."):]
	s3 := s3ListenRe.FindStringSubmatch(log)
	if s3 == nil {
		t.Fatalf("no S3 listening line:\n%s", srv.LogTail(40))
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, want := range []string{
		"Web UI     " + srv.URL + "/   sign in as \"admin\"; password: the one in ARCA_ADMIN_PASSWORD",
		"Registry   " + host,
		"MLFLOW_TRACKING_URI=" + srv.URL + "/mlflow",
		"S3         " + strings.Trim(s3[1], `"`) + "   (key pair printed above)",
		"Data       " + srv.DataDir() + " (database and blobs)",
	} {
		if !strings.Contains(banner, want) {
			t.Errorf("the banner lacks %q:\n%s", want, banner)
		}
	}
	// The first command to try logs crane in, as printed.
	m := regexp.MustCompile(`(?m)^ +crane auth login (\S+) -u admin -p PASSWORD --insecure`).FindStringSubmatch(banner)
	if m == nil || m[1] != host {
		t.Fatalf("the banner suggests no crane login at %s:\n%s", host, banner)
	}
	c := newOCIClient(t, srv, tools)
	c.must(nil, "crane", "auth", "login", m[1], "-u", "admin", "-p", adminPassword, "--insecure")
	c.crane("catalog", host)

	srv.Stop()
	again := StartServer(t, ServerOptions{DataDir: srv.DataDir()})
	time.Sleep(200 * time.Millisecond)
	if strings.Contains(again.Log(), "arca is ready.") {
		t.Errorf("a second start printed the banner again:\n%s", again.LogTail(40))
	}
	srv.WantNoServerErrors()
	again.WantNoServerErrors()
}
