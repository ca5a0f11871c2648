package e2e

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestBackupRestoreSQLiteToPostgres fills an arca on SQLite with every
// format through the real clients (twine, awscli, mlflow; OCI and npm over
// HTTP), backs it up with `arca backup` while a writer keeps writing,
// restores the backup with `arca restore` into a fresh arca on PostgreSQL,
// and checks with the clients that everything acknowledged before the
// backup began reads back identical, that passwords, tokens and S3 keys
// still work, and that the restored arca takes new writes. It also takes a
// second backup after a change of about 1% and logs what each copied.
func TestBackupRestoreSQLiteToPostgres(t *testing.T) {
	pgURL := metatest.PostgresURL(t)
	venv, s3venv, mlPy := os.Getenv("ARCA_TEST_VENV"), s3Venv(t), mlflowPython(t)
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine) is not set")
	}
	needTool(t, "curl")
	twine, awsBin := filepath.Join(venv, "bin", "twine"), filepath.Join(s3venv, "bin", "aws")
	work := t.TempDir()

	src := StartServer(t, ServerOptions{})
	s3src := s3EndpointOf(t, src)
	cred := src.Cred()

	// Identities: a user with a password, a token, a role.
	npmAPI(t, src, "POST", "/api/v1/users", `{"name":"erin","password":"erin-e2e-Passw0rd"}`, http.StatusCreated)
	npmAPI(t, src, "PUT", "/api/v1/repositories/files/roles/erin", `{"role":"developer"}`, http.StatusOK)
	var tok struct{ Token string }
	if err := json.Unmarshal(npmAPI(t, src, "POST", "/api/v1/users/erin/tokens", `{"name":"laptop"}`, http.StatusCreated), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token: %v", err)
	}

	// Raw files: 100 of 1 MiB (the bulk of the incremental figures).
	raw := map[string]string{} // path → sha256
	for i := range 100 {
		p := filepath.Join(work, fmt.Sprintf("raw-%03d.bin", i))
		raw[fmt.Sprintf("/raw/files/data/%03d.bin", i)] = writeRandomFile(t, p, 1<<20)
		wantStatus(t, curl(t, nil, "-u", cred, "-T", p, src.URL+fmt.Sprintf("/raw/files/data/%03d.bin", i)), http.StatusCreated, "raw PUT")
	}

	// OCI: an image and a referrer, over the distribution API.
	layer := bytes.Repeat([]byte("layer "), 10000)
	for _, b := range [][]byte{[]byte("{}"), layer, []byte(`{"sbom":true}`)} {
		wantStatus(t, curl(t, bytes.NewReader(b), "-u", cred, "-X", "POST", "--data-binary", "@-", "-H", "Content-Type: application/octet-stream",
			src.URL+"/v2/library/app/blobs/uploads/?digest=sha256:"+sha256Hex(b)), http.StatusCreated, "OCI blob")
	}
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}`,
		sha256Hex([]byte("{}")), sha256Hex(layer), len(layer))
	referrer := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/spdx+json","config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":"sha256:%s","size":2},"layers":[{"mediaType":"application/spdx+json","digest":"sha256:%s","size":13}],"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}}`,
		sha256Hex([]byte("{}")), sha256Hex([]byte(`{"sbom":true}`)), sha256Hex([]byte(manifest)), len(manifest))
	for ref, m := range map[string]string{"v1": manifest, "sha256:" + sha256Hex([]byte(referrer)): referrer} {
		wantStatus(t, curl(t, strings.NewReader(m), "-u", cred, "-X", "PUT", "--data-binary", "@-", "-H", "Content-Type: application/vnd.oci.image.manifest.v1+json",
			src.URL+"/v2/library/app/manifests/"+ref), http.StatusCreated, "OCI manifest")
	}

	// A wheel, with twine.
	whl := filepath.Join(work, "bkdemo-1.0-py3-none-any.whl")
	writeWheel(t, whl, "bkdemo", "1.0")
	whlSum, _ := sha256File(t, whl)
	runCmd(t, time.Minute, work, pypiEnv(filepath.Join(work, "home")), twine, "upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", src.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword, whl)

	// An npm package, as npm publish sends it.
	tarball := npmTarball(t, "bk-pkg", "1.0.0")
	wantStatus(t, curl(t, bytes.NewReader(npmPublishDoc("bk-pkg", "1.0.0", tarball)), "-u", cred, "-X", "PUT", "--data-binary", "@-",
		"-H", "Content-Type: application/json", src.URL+"/npm/npm-hosted/bk-pkg"), http.StatusCreated, "npm publish")

	// S3: a small object and a 20 MiB multipart one, with awscli.
	home := filepath.Join(work, "aws")
	os.MkdirAll(home, 0o700)
	big := filepath.Join(work, "big.bin")
	bigSum := writeRandomFile(t, big, 20<<20)
	aws := func(e *s3Endpoint, args ...string) string {
		t.Helper()
		return runCmd(t, time.Minute, work, e.awsEnv(home), awsBin, args...)
	}
	aws(s3src, "s3", "cp", big, "s3://dvc-storage/big.bin")
	aws(s3src, "s3", "cp", whl, "s3://dvc-storage/dir/small.whl")

	// MLflow: experiments, runs, metric histories, artifacts, a model.
	mlEnv := func(s *Server) []string {
		return mlflowEnv(s, mlflowCreds{user: "admin", password: adminPassword}, filepath.Join(work, "ml-home"))
	}
	script, _ := filepath.Abs(filepath.Join("testdata", "backup", "mlflow_state.py"))
	runCmd(t, 3*time.Minute, work, mlEnv(src), mlPy, script, "fill")
	mlState := stateLine(t, runCmd(t, 3*time.Minute, work, mlEnv(src), mlPy, script, "read"))

	// A writer keeps writing raw files while the backup runs; what it had
	// acknowledged before the backup began must be restored.
	var mu sync.Mutex
	acked := map[string]string{}
	var ackedBefore map[string]string
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			body := fmt.Sprintf("written while backing up: %d", i)
			path := fmt.Sprintf("/raw/files/writer/%05d.txt", i)
			req, _ := http.NewRequest("PUT", src.URL+path, strings.NewReader(body))
			req.SetBasicAuth("admin", adminPassword)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusCreated {
				mu.Lock()
				acked[path] = body
				mu.Unlock()
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	target := filepath.Join(work, "backups")
	mu.Lock()
	ackedBefore = copyMap(acked)
	mu.Unlock()
	first, firstOut := arcaCmd(t, src.Env(), "backup", "--to", target)
	close(stop)
	wg.Wait()
	if len(ackedBefore) == 0 {
		t.Fatal("the writer wrote nothing before the backup")
	}
	id := regexp.MustCompile(`^backup (\S+) to`).FindStringSubmatch(firstOut)
	if id == nil {
		t.Fatalf("arca backup printed %q", firstOut)
	}
	t.Logf("first backup (%s, writer running): %s", first, firstOut)

	// About 1% more data, and a second backup: it copies only that.
	extra := filepath.Join(work, "extra.bin")
	writeRandomFile(t, extra, 1300<<10)
	wantStatus(t, curl(t, nil, "-u", cred, "-T", extra, src.URL+"/raw/files/extra.bin"), http.StatusCreated, "raw PUT")
	second, secondOut := arcaCmd(t, src.Env(), "backup", "--to", target)
	t.Logf("second backup after a ~1%% change (%s): %s", second, secondOut)
	if !regexp.MustCompile(`copied [1-9]\d? blobs \(1\.\d MiB\)`).MatchString(secondOut) {
		t.Errorf("the second backup should copy about 1.3 MiB: %s", secondOut)
	}
	_, list := arcaCmd(t, nil, "backup", "list", "--from", target)
	t.Logf("arca backup list:\n%s", list)
	_, verify := arcaCmd(t, nil, "backup", "verify", "--from", target, "--id", id[1])
	t.Logf("arca backup verify: %s", verify)

	// Restore the first backup into a fresh arca on PostgreSQL.
	dir := t.TempDir()
	kek, err := os.ReadFile(filepath.Join(src.DataDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kek"), kek, 0o600)
	restoreEnv := append(envWithout("ARCA_"), "ARCA_DATA_DIR="+dir, "ARCA_DATABASE_URL="+pgURL)
	took, restoreOut := arcaCmd(t, restoreEnv, "restore", "--from", target, "--id", id[1])
	t.Logf("arca restore (%s): %s", took, restoreOut)
	dst := StartServer(t, ServerOptions{DataDir: dir, DatabaseURL: pgURL})

	get := func(s *Server, userpass, path string) (int, []byte) {
		req, _ := http.NewRequest("GET", s.URL+path, nil)
		u, p, _ := strings.Cut(userpass, ":")
		req.SetBasicAuth(u, p)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for path, sum := range raw {
		if code, b := get(dst, cred, path); code != 200 || sha256Hex(b) != sum {
			t.Fatalf("%s after restore: %d, sha256 %s, want %s", path, code, sha256Hex(b), sum)
		}
	}
	for path, body := range ackedBefore {
		if code, b := get(dst, cred, path); code != 200 || string(b) != body {
			t.Fatalf("%s, acknowledged before the backup, after restore: %d %q", path, code, b)
		}
	}
	mu.Lock()
	later := 0
	for path, body := range acked { // written during the backup: either absent or whole
		if code, b := get(dst, cred, path); code == 200 && string(b) != body {
			t.Fatalf("%s after restore: %q, want %q", path, b, body)
		} else if code == 200 {
			later++
		}
	}
	t.Logf("writer: %d files acknowledged before the backup began (all restored), %d in all, %d of them restored", len(ackedBefore), len(acked), later)
	mu.Unlock()

	// OCI: the manifest by tag, its layer, its referrer.
	if code, b := get(dst, cred, "/v2/library/app/manifests/v1"); code != 200 || string(b) != manifest {
		t.Fatalf("manifest after restore: %d %s", code, b)
	}
	if code, b := get(dst, cred, "/v2/library/app/blobs/sha256:"+sha256Hex(layer)); code != 200 || !bytes.Equal(b, layer) {
		t.Fatalf("layer after restore: %d", code)
	}
	if code, b := get(dst, cred, "/v2/library/app/referrers/sha256:"+sha256Hex([]byte(manifest))); code != 200 || !strings.Contains(string(b), sha256Hex([]byte(referrer))) {
		t.Fatalf("referrers after restore: %d %s", code, b)
	}
	// PyPI: pip downloads the same wheel.
	pipDest := filepath.Join(work, "pip")
	runCmd(t, time.Minute, work, pypiEnv(filepath.Join(work, "home")), filepath.Join(venv, "bin", "python"), "-m", "pip", "--disable-pip-version-check",
		"--no-input", "--no-cache-dir", "download", "--no-deps", "--dest", pipDest, "--index-url",
		strings.Replace(dst.URL, "http://", "http://admin:"+adminPassword+"@", 1)+"/pypi/pypi-hosted/simple/", "bkdemo")
	if got, _ := sha256File(t, filepath.Join(pipDest, "bkdemo-1.0-py3-none-any.whl")); got != whlSum {
		t.Fatalf("wheel after restore: sha256 %s, want %s", got, whlSum)
	}
	// npm: the tarball.
	if code, b := get(dst, cred, "/npm/npm-hosted/bk-pkg/-/bk-pkg-1.0.0.tgz"); code != 200 || !bytes.Equal(b, tarball) {
		t.Fatalf("npm tarball after restore: %d", code)
	}
	// S3: the multipart object, with the source's S3 key (sealed under a
	// server key: the KEK came along).
	s3dst := s3EndpointOf(t, dst)
	s3dst.KeyID, s3dst.Secret = s3src.KeyID, s3src.Secret
	aws(s3dst, "s3", "cp", "s3://dvc-storage/big.bin", filepath.Join(work, "big.back"))
	if got, _ := sha256File(t, filepath.Join(work, "big.back")); got != bigSum {
		t.Fatalf("multipart object after restore: sha256 %s, want %s", got, bigSum)
	}
	// MLflow: the same experiments, runs, histories, artifacts and model.
	if got := stateLine(t, runCmd(t, 3*time.Minute, work, mlEnv(dst), mlPy, script, "read")); got != mlState {
		t.Fatalf("MLflow after restore:\n%s\nwant\n%s", got, mlState)
	}
	// Credentials: erin's password and token, and her role.
	if code, _ := get(dst, "erin:erin-e2e-Passw0rd", "/raw/files/data/000.bin"); code != 200 {
		t.Fatalf("erin's password after restore: %d", code)
	}
	if code, _ := get(dst, "erin:"+tok.Token, "/raw/files/data/000.bin"); code != 200 {
		t.Fatalf("erin's token after restore: %d", code)
	}
	// New writes: a raw file as erin (her role), a wheel, an S3 object, a run.
	wantStatus(t, curl(t, strings.NewReader("new"), "-u", "erin:"+tok.Token, "-T", "-", dst.URL+"/raw/files/after-restore.txt"), http.StatusCreated, "raw PUT after restore")
	whl2 := filepath.Join(work, "bkdemo-2.0-py3-none-any.whl")
	writeWheel(t, whl2, "bkdemo", "2.0")
	runCmd(t, time.Minute, work, pypiEnv(filepath.Join(work, "home")), twine, "upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", dst.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword, whl2)
	aws(s3dst, "s3", "cp", whl2, "s3://dvc-storage/after-restore.whl")
	if out := runCmd(t, 3*time.Minute, work, mlEnv(dst), mlPy, script, "write-more"); !strings.Contains(out, "NEWRUN ") {
		t.Fatalf("a new MLflow run after restore: %s", out)
	}
	dst.WantNoServerErrors()
}

// arcaCmd runs the arca binary and returns how long it took and its
// standard output; standard error (progress) goes to the test log.
func arcaCmd(t *testing.T, env []string, args ...string) (time.Duration, string) {
	t.Helper()
	cmd := exec.Command(arcaBin, args...)
	if env != nil {
		cmd.Env = env
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		t.Fatalf("arca %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return took, strings.TrimSpace(stdout.String())
}

func envWithout(prefix string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, prefix) {
			env = append(env, kv)
		}
	}
	return env
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stateLine(t *testing.T, out string) string {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		if s, ok := strings.CutPrefix(l, "STATE "); ok {
			return s
		}
	}
	t.Fatalf("mlflow_state.py read printed no state:\n%s", out)
	return ""
}

// writeWheel writes a minimal pure-Python wheel.
func writeWheel(t *testing.T, path, name, version string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	info := name + "-" + version + ".dist-info/"
	for _, f := range [][2]string{
		{name + "/__init__.py", "VERSION = '" + version + "'\n"},
		{info + "METADATA", "Metadata-Version: 2.1\nName: " + name + "\nVersion: " + version + "\nSummary: backup test\n"},
		{info + "WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n"},
		{info + "RECORD", ""},
	} {
		w, _ := zw.Create(f[0])
		w.Write([]byte(f[1]))
	}
	zw.Close()
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// npmTarball builds a package tarball holding package/package.json.
func npmTarball(t *testing.T, name, version string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	pj := fmt.Sprintf(`{"name":%q,"version":%q}`, name, version)
	tw.WriteHeader(&tar.Header{Name: "package/package.json", Mode: 0o644, Size: int64(len(pj)), Typeflag: tar.TypeReg})
	tw.Write([]byte(pj))
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// npmPublishDoc is the document npm publish sends for one version.
func npmPublishDoc(name, version string, tarball []byte) []byte {
	s1, s512 := sha1.Sum(tarball), sha512.Sum512(tarball)
	file := name + "-" + version + ".tgz"
	b, _ := json.Marshal(map[string]any{
		"_id": name, "name": name, "dist-tags": map[string]string{"latest": version},
		"versions": map[string]any{version: map[string]any{"name": name, "version": version,
			"dist": map[string]any{"shasum": hex.EncodeToString(s1[:]), "integrity": "sha512-" + base64.StdEncoding.EncodeToString(s512[:]),
				"tarball": "http://localhost/" + name + "/-/" + file}}},
		"_attachments": map[string]any{file: map[string]any{"content_type": "application/octet-stream",
			"data": base64.StdEncoding.EncodeToString(tarball), "length": len(tarball)}},
	})
	return b
}
