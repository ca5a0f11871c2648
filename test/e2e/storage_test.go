package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestStorageClients drives quotas, cleanup policies and storage
// accounting with the real clients: curl on the raw and admin APIs, the
// aws CLI on a bucket past its quota (QuotaExceeded), twine on a PyPI
// repository past its quota, and a cleanup run as a job of the server's
// job runner followed by garbage collection.
func TestStorageClients(t *testing.T) {
	srv := StartServer(t, ServerOptions{Env: []string{"ARCA_USAGE_PRICE_PER_GB_MONTH=0.02"}})
	api := func(method, path, body string, status int) []byte {
		t.Helper()
		args := []string{"-u", srv.Cred(), "-X", method, "-H", "Content-Type: application/json"}
		if body != "" {
			args = append(args, "--data-binary", body)
		}
		r := curl(t, nil, append(args, srv.URL+path)...)
		wantStatus(t, r, status, method+" "+path)
		return r.Body(t)
	}
	work := t.TempDir()
	file := func(name string, size int) string {
		p := filepath.Join(work, name)
		os.WriteFile(p, []byte(strings.Repeat(name[:1], size)), 0o644)
		return p
	}

	// curl: a raw repository with a quota of 1 KiB refuses a 2 KiB file.
	api("PATCH", "/api/v1/repositories/files", `{"quota_bytes":1024,"owner":"team-data"}`, 200)
	r := curl(t, nil, "-u", srv.Cred(), "-T", file("big", 2048), srv.URL+"/raw/files/big.bin")
	wantStatus(t, r, 403, "raw upload past the quota")
	if b := r.Body(t); !strings.Contains(string(b), "quota") {
		t.Errorf("raw refusal: %s", b)
	}
	wantStatus(t, curl(t, nil, "-u", srv.Cred(), "-T", file("old", 600), srv.URL+"/raw/files/old/a.bin"), 201, "upload within quota")
	wantStatus(t, curl(t, nil, "-u", srv.Cred(), "-T", file("new", 300), srv.URL+"/raw/files/new/b.bin"), 201, "upload within quota")

	// aws: a bucket past its quota answers QuotaExceeded.
	if venv := os.Getenv("ARCA_TEST_S3_VENV"); venv == "" {
		missing(t, "ARCA_TEST_S3_VENV (awscli) is not set")
	} else {
		e := s3EndpointOf(t, srv)
		api("PATCH", "/api/v1/repositories/dvc-storage", `{"quota_bytes":100}`, 200)
		cmd := exec.Command(filepath.Join(venv, "bin", "aws"), "s3", "cp", file("s3big", 500), "s3://dvc-storage/big")
		cmd.Env = e.awsEnv(t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "QuotaExceeded") {
			t.Errorf("aws s3 cp past the quota: %v\n%s", err, out)
		}
	}

	// twine: 403 past the quota, with the reason.
	if venv := os.Getenv("ARCA_TEST_VENV"); venv == "" {
		missing(t, "ARCA_TEST_VENV (twine) is not set")
	} else {
		api("PATCH", "/api/v1/repositories/pypi-hosted", `{"quota_bytes":10}`, 200)
		whl := writeQuotaWheel(t, work)
		cmd := exec.Command(filepath.Join(venv, "bin", "twine"), "upload", "--non-interactive", "--disable-progress-bar", "--verbose",
			"--repository-url", srv.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword, whl)
		cmd.Env = pypiEnv(t.TempDir())
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "403") || !strings.Contains(string(out), "quota") {
			t.Errorf("twine upload past the quota: %v\n%s", err, out)
		}
	}

	// A cleanup policy: preview, then a run as a job, then GC frees it.
	api("POST", "/api/v1/cleanup/policies", `{"name":"old-files","format":"raw","repository":"files","criteria":{"name":"old/*","min_size_bytes":1}}`, 201)
	var pv struct {
		ItemCount  int   `json:"item_count"`
		FreedBytes int64 `json:"freed_bytes"`
	}
	json.Unmarshal(api("POST", "/api/v1/cleanup/policies/old-files/preview", "", 200), &pv)
	if pv.ItemCount != 1 || pv.FreedBytes != 600 {
		t.Fatalf("preview = %+v, want 1 item freeing 600 bytes", pv)
	}
	var job struct {
		ID    int64
		State string
	}
	json.Unmarshal(api("POST", "/api/v1/cleanup/policies/old-files/run", "", 202), &job)
	for deadline := time.Now().Add(time.Minute); job.State != "completed"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("cleanup job %d is %s after a minute", job.ID, job.State)
		}
		json.Unmarshal(api("GET", fmt.Sprintf("/api/v1/jobs/%d", job.ID), "", 200), &job)
	}
	wantStatus(t, curl(t, nil, "-u", srv.Cred(), srv.URL+"/raw/files/old/a.bin"), 404, "the cleaned file")
	wantStatus(t, curl(t, nil, "-u", srv.Cred(), srv.URL+"/raw/files/new/b.bin"), 200, "the kept file")

	// Accounting: the repository's bytes, its owner, and a cost.
	usage := string(api("GET", "/api/v1/usage", "", 200))
	for _, want := range []string{`"files"`, `"team-data"`, `"cost_per_month"`} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %s:\n%s", want, usage)
		}
	}
	srv.WantNoServerErrors()
}

// writeQuotaWheel writes a minimal pure-Python wheel.
func writeQuotaWheel(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "quota_demo-1.0-py3-none-any.whl")
	py := fmt.Sprintf(`import zipfile
with zipfile.ZipFile(%q, "w") as z:
    z.writestr("quota_demo/__init__.py", "X = 1\n" * 100)
    z.writestr("quota_demo-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: quota-demo\nVersion: 1.0\n")
    z.writestr("quota_demo-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
    z.writestr("quota_demo-1.0.dist-info/RECORD", "")
`, p)
	cmd := exec.Command(filepath.Join(os.Getenv("ARCA_TEST_VENV"), "bin", "python"), "-c", py)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("writing a wheel: %v\n%s", err, out)
	}
	return p
}
