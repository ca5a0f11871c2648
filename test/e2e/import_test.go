package e2e

// End-to-end tests of `arca import oci` and `arca import npm` against real
// source systems started by the test: Debian's docker-registry
// (distribution 2.8, no Referrers API) holding a multi-platform index and
// a referrer pushed with crane and oras; Verdaccio with scoped and
// unscoped packages published by the real npm client.

import (
	"bytes"
	"context"
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

// importReport is the part of `arca import --report` the tests read.
type importReport struct {
	Started, Finished time.Time
	Totals            map[string]struct {
		Items int   `json:"items"`
		Bytes int64 `json:"bytes"`
	} `json:"totals"`
	Items []struct {
		Kind, Name, Outcome, Reason string
		Bytes                       int64
	} `json:"items"`
}

// arcaImport runs `arca import args...` against s's data (beside the
// running server) with stdin, and returns its report.
func arcaImport(t *testing.T, s *Server, stdin string, args ...string) importReport {
	t.Helper()
	rep, out, err := arcaImportErr(t, s, stdin, args...)
	if err != nil {
		t.Fatalf("arca import %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return rep
}

func arcaImportErr(t *testing.T, s *Server, stdin string, args ...string) (importReport, string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, arcaBin, append(append([]string{"import"}, args...), "--report", path)...)
	cmd.Env, cmd.Dir = s.Env(), s.DataDir()
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var rep importReport
	if b, rerr := os.ReadFile(path); rerr == nil {
		mustUnmarshal(t, string(b), &rep)
	} else if err == nil {
		t.Fatalf("arca import wrote no report: %v\n%s", rerr, out.String())
	}
	return rep, out.String(), err
}

func (r importReport) count(outcome string) int { return r.Totals[outcome].Items }

// dockerRegistry starts Debian's docker-registry on a free port with its
// storage in a temporary directory, and returns host:port.
func dockerRegistry(t *testing.T) string {
	t.Helper()
	bin := needTool(t, "docker-registry")
	addr := "127.0.0.1:" + freePort(t)
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	mustWriteFile(t, config, []byte(fmt.Sprintf("version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n",
		filepath.Join(dir, "data"), addr)))
	cmd := exec.Command(bin, "serve", config)
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitHTTP(t, "http://"+addr+"/v2/", 200)
	return addr
}

// waitHTTP waits until url answers status.
func waitHTTP(t *testing.T, url string, status int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == status {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer %d within 60s (last: %v)", url, status, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestImportOCIFromDistribution: docker-registry holds a two-platform
// index (crane), a referrer of it (oras attach, kept under the tag schema
// sha256-<hex> since distribution 2.8 has no Referrers API), a one-segment
// image and a 48 MiB image; a dry run writes nothing; the import brings
// everything with the same digests (timed: MB/s in the log); a second run
// skips everything.
func TestImportOCIFromDistribution(t *testing.T) {
	tools := needOCITools(t, "crane", "oras")
	addr := dockerRegistry(t)
	reg := newOCIClient(t, &Server{URL: "http://" + addr}, tools)
	idx := reg.buildIndex("project/multi", "1", false)
	sigFile := filepath.Join(reg.dir, "sig.json")
	mustWriteFile(t, sigFile, []byte(`{"signed":"project/multi:1"}`))
	sig := reg.orasDesc("attach", "--artifact-type", "application/vnd.example.signature", reg.ref("project/multi:1"), "sig.json:application/json")
	single := filepath.Join(reg.dir, "single.tar")
	writeLayerTar(t, single, map[string][]byte{"hello.txt": []byte("one segment\n")})
	reg.crane("append", "-f", single, "-t", reg.ref("single:1"), "--oci-empty-base")
	var layers []string
	for i := range 3 {
		p := filepath.Join(reg.dir, fmt.Sprintf("big%d.tar", i))
		writeLayerTar(t, p, map[string][]byte{fmt.Sprintf("big%d.bin", i): randomBytes(16 << 20)})
		layers = append(layers, "-f", p)
	}
	reg.crane(append(append([]string{"append"}, layers...), "-t", reg.ref("perf/big:1"), "--oci-empty-base")...)
	want := map[string]string{
		"project/multi:1": idx.digest, "library/single:1": reg.digest(reg.ref("single:1")), "perf/big:1": reg.digest(reg.ref("perf/big:1")),
		"project/multi@" + sig.Digest: sig.Digest,
	}
	for _, img := range idx.images {
		want["project/multi@"+img.digest] = img.digest
	}

	s := StartServer(t, ServerOptions{})
	arca := newOCIClient(t, s, tools)
	arca.loginAdmin(s)

	dry := arcaImport(t, s, "", "oci", "--url", "http://"+addr, "--dry-run")
	if dry.count("would-import") == 0 || dry.count("imported") != 0 {
		t.Fatalf("dry run: %+v", dry.Totals)
	}
	if _, err := arca.craneErr("digest", arca.ref("project/multi:1")); err == nil {
		t.Fatal("the dry run imported project/multi:1")
	}

	rep := arcaImport(t, s, "", "oci", "--url", "http://"+addr)
	if rep.count("failed") != 0 || rep.count("imported") == 0 {
		t.Fatalf("import: %+v", rep.Items)
	}
	for ref, d := range want {
		if got := arca.digest(arca.ref(ref)); got != d {
			t.Errorf("%s in arca is %s, in docker-registry %s", ref, got, d)
		}
	}
	arca.checkExport(arca.ref("project/multi:1"), ociPlatformARM64, idx.images[ociPlatformARM64].files)
	var refs struct {
		Referrers []ociDescriptor `json:"referrers"`
	}
	mustUnmarshal(t, arca.oras("discover", "--distribution-spec", "v1.1-referrers-api", "--format", "json", arca.ref("project/multi:1")), &refs)
	if len(refs.Referrers) != 1 || refs.Referrers[0].Digest != sig.Digest {
		t.Fatalf("referrers of project/multi:1 in arca: %+v", refs.Referrers)
	}
	secs := rep.Finished.Sub(rep.Started).Seconds()
	mb := float64(rep.Totals["imported"].Bytes) / (1 << 20)
	up, _ := exec.Command("uptime").Output()
	t.Logf("FIGURES oci import from docker-registry: %.1f MiB in %.2fs = %.1f MiB/s (%d items); uptime: %s",
		mb, secs, mb/secs, rep.count("imported"), strings.TrimSpace(string(up)))

	again := arcaImport(t, s, "", "oci", "--url", "http://"+addr)
	if again.count("imported") != 0 || again.count("failed") != 0 || again.count("skipped") == 0 {
		t.Fatalf("second run: %+v", again.Totals)
	}
	s.WantNoServerErrors()
}

// verdaccio is a running Verdaccio.
type verdaccio struct {
	url, storage string
}

// startVerdaccio starts Verdaccio ($ARCA_TEST_VERDACCIO, which
// scripts/test.sh installs) on a free port, with a configuration in a
// temporary directory: htpasswd users, no uplinks, storage there too.
func startVerdaccio(t *testing.T) *verdaccio {
	t.Helper()
	bin := os.Getenv("ARCA_TEST_VERDACCIO")
	if bin == "" {
		missing(t, "ARCA_TEST_VERDACCIO (the verdaccio command) is not set")
	}
	needTool(t, "node")
	dir := t.TempDir()
	v := &verdaccio{url: "http://127.0.0.1:" + freePort(t), storage: filepath.Join(dir, "storage")}
	config := filepath.Join(dir, "config.yaml")
	mustWriteFile(t, config, []byte(fmt.Sprintf(`storage: %s
auth:
  htpasswd:
    file: %s
    max_users: 10
uplinks: {}
packages:
  '@*/*':
    access: $authenticated
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $authenticated
    publish: $authenticated
    unpublish: $authenticated
log: { type: stdout, format: pretty, level: warn }
`, v.storage, filepath.Join(dir, "htpasswd"))))
	cmd := exec.Command(bin, "--config", config, "--listen", strings.TrimPrefix(v.url, "http://"))
	cmd.Dir = dir
	logFile, err := os.Create(filepath.Join(dir, "verdaccio.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logFile.Name())
			t.Logf("verdaccio log:\n%s", b)
		}
	})
	waitHTTP(t, v.url+"/-/ping", 200)
	return v
}

// addUser creates a Verdaccio user (as npm adduser does) and returns its
// token.
func (v *verdaccio) addUser(t *testing.T, name, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"_id": "org.couchdb.user:" + name, "name": name, "password": password, "type": "user"})
	req, _ := http.NewRequest(http.MethodPut, v.url+"/-/user/org.couchdb.user:"+name, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out struct {
		Token string `json:"token"`
	}
	json.Unmarshal(b, &out)
	if resp.StatusCode != 201 || out.Token == "" {
		t.Fatalf("adding Verdaccio user %s: %d %s", name, resp.StatusCode, b)
	}
	return out.Token
}

// packument fetches a package's document from Verdaccio.
func (v *verdaccio) packument(t *testing.T, token, name string) npmDocument {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, v.url+"/"+strings.Replace(name, "/", "%2f", 1), nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d npmDocument
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s from Verdaccio: %d %v", name, resp.StatusCode, err)
	}
	return d
}

type npmDocument struct {
	DistTags map[string]string `json:"dist-tags"`
	Versions map[string]struct {
		Deprecated string `json:"deprecated"`
		Dist       struct {
			Integrity string `json:"integrity"`
			Shasum    string `json:"shasum"`
		} `json:"dist"`
	} `json:"versions"`
}

// TestImportNPMFromVerdaccio: the npm client publishes an unscoped package
// (two versions, one deprecated, an extra dist-tag) and a scoped one to
// Verdaccio; a dry run writes nothing; `arca import npm --url` brings
// them into arca with the same integrity, and `npm install` from arca
// installs them with it; a second run skips everything; the storage
// directory path (--verdaccio-storage) brings the same into another
// repository.
func TestImportNPMFromVerdaccio(t *testing.T) {
	v := startVerdaccio(t)
	c := newNPMClient(t)
	token := v.addUser(t, "alice", "alice-Passw0rd")
	c.setToken(v.url+"/", token)
	lib := npmPackage(t, "@demo/lib", "1.0.0", nil, "module.exports = 'lib';\n")
	c.run(lib, "publish", "--registry", v.url+"/")
	for _, ver := range []string{"1.0.0", "1.1.0"} {
		app := npmPackage(t, "demo-app", ver, map[string]string{"@demo/lib": "^1.0.0"}, "module.exports = '"+ver+"';\n")
		c.run(app, "publish", "--registry", v.url+"/")
	}
	c.run(c.home, "deprecate", "demo-app@1.0.0", "use 1.1", "--registry", v.url+"/")
	c.run(c.home, "dist-tag", "add", "demo-app@1.0.0", "stable", "--registry", v.url+"/")
	srcApp, srcLib := v.packument(t, token, "demo-app"), v.packument(t, token, "@demo/lib")

	s := StartServer(t, ServerOptions{})
	dry := arcaImport(t, s, token+"\n", "npm", "--url", v.url, "--packages", "demo-app,@demo/lib", "--token-stdin", "--repo", "npm-imported", "--dry-run")
	if dry.count("would-import") != 4 || dry.count("imported") != 0 { // the repository, three versions
		t.Fatalf("dry run: %+v", dry.Items)
	}
	if r := curl(t, nil, "-u", s.Cred(), s.URL+"/api/v1/repositories/npm-imported"); r.Status != 404 {
		t.Fatalf("the dry run created the repository: %d", r.Status)
	}

	rep := arcaImport(t, s, token+"\n", "npm", "--url", v.url, "--packages", "demo-app,@demo/lib", "--token-stdin", "--repo", "npm-imported")
	if rep.count("failed") != 0 || rep.count("imported") != 4 {
		t.Fatalf("import: %+v", rep.Items)
	}
	arcaReg := s.URL + "/npm/npm-imported/"
	c.login(arcaReg, "admin", adminPassword)
	var got npmDocument
	if out := c.run(c.home, "view", "demo-app@1.0.0", "deprecated", "--registry", arcaReg); !strings.Contains(out, "use 1.1") {
		t.Fatalf("npm view demo-app@1.0.0 deprecated: %s", out)
	}
	b := npmAPI(t, s, "GET", "/npm/npm-imported/demo-app", "", 200)
	mustUnmarshal(t, string(b), &got)
	if got.DistTags["latest"] != "1.1.0" || got.DistTags["stable"] != "1.0.0" || got.Versions["1.0.0"].Deprecated != "use 1.1" {
		t.Fatalf("demo-app in arca: %+v", got)
	}
	for ver, sv := range srcApp.Versions {
		if got.Versions[ver].Dist.Integrity != sv.Dist.Integrity || got.Versions[ver].Dist.Shasum != sv.Dist.Shasum {
			t.Errorf("demo-app@%s: arca %+v, Verdaccio %+v", ver, got.Versions[ver].Dist, sv.Dist)
		}
	}

	project := t.TempDir()
	mustWriteNPM(t, filepath.Join(project, "package.json"), []byte(`{"name":"consumer","version":"1.0.0","private":true,"dependencies":{"demo-app":"1.1.0"}}`))
	c.run(project, "install", "--registry", arcaReg)
	lock := npmLock(t, project)
	if lock["node_modules/demo-app"].Integrity != srcApp.Versions["1.1.0"].Dist.Integrity ||
		lock["node_modules/@demo/lib"].Integrity != srcLib.Versions["1.0.0"].Dist.Integrity {
		t.Fatalf("package-lock.json integrity: %+v; Verdaccio: %s, %s", lock, srcApp.Versions["1.1.0"].Dist.Integrity, srcLib.Versions["1.0.0"].Dist.Integrity)
	}
	if !strings.HasPrefix(lock["node_modules/demo-app"].Resolved, arcaReg) {
		t.Fatalf("demo-app resolved from %s", lock["node_modules/demo-app"].Resolved)
	}

	again := arcaImport(t, s, token+"\n", "npm", "--url", v.url, "--packages", "demo-app,@demo/lib", "--token-stdin", "--repo", "npm-imported")
	if again.count("imported") != 0 || again.count("skipped") != 3 || again.count("failed") != 0 {
		t.Fatalf("second run: %+v", again.Items)
	}

	// Verdaccio's storage directory, read from disk.
	st := arcaImport(t, s, "", "npm", "--verdaccio-storage", v.storage, "--repo", "npm-storage")
	if st.count("failed") != 0 || st.count("imported") != 4 {
		t.Fatalf("storage import: %+v", st.Items)
	}
	b = npmAPI(t, s, "GET", "/npm/npm-storage/@demo%2flib", "", 200)
	mustUnmarshal(t, string(b), &got)
	if got.Versions["1.0.0"].Dist.Integrity != srcLib.Versions["1.0.0"].Dist.Integrity {
		t.Fatalf("@demo/lib from the storage directory: %+v", got)
	}
	s.WantNoServerErrors()
}
