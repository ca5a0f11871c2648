package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// The rolling-upgrade rule (docs/operations.md, "Upgrades with several
// replicas"): a release's migrations keep the previous release working,
// because during a rolling update old and new replicas share one database.
// TestRollingUpgrade enforces it: it builds the previous release
// (compatBase), lets the current binary migrate a fresh
// PostgreSQL schema, then runs both side by side on it and one blob store
// and sends each format's writes to one and reads to the other, both ways.
// A migration that drops or renames what the previous release reads, or
// adds a NOT NULL column it does not fill, fails here.
func TestRollingUpgrade(t *testing.T) {
	needTool(t, "git")
	pgURL := metatest.PostgresURL(t)
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	base := compatBase(t, root)
	oldBin := buildArcaAt(t, root, base)

	var kek [32]byte
	rand.Read(kek[:])
	blobs := t.TempDir()
	env := []string{"ARCA_BLOB_DIR=" + blobs, "ARCA_KEK=" + base64.StdEncoding.EncodeToString(kek[:])}
	newer := StartServer(t, ServerOptions{DatabaseURL: pgURL, Env: env})
	older := StartServer(t, ServerOptions{DatabaseURL: pgURL, Env: env, Binary: oldBin})
	c := &cluster{t: t, cred: "admin:" + adminPassword, reps: []*Server{newer, older}}
	pairs := [][2]*Server{{newer, older}, {older, newer}}

	// Raw files and OCI images (a chunked upload started on one, continued
	// on the other) written by each, read by the other.
	for i, p := range pairs {
		w, r := p[0], p[1]
		path := "upgrade/file-" + string(rune('a'+i)) + ".bin"
		data := randomBytes(64<<10 + i)
		c.must(w, http.StatusCreated, "PUT", "/raw/files/"+path, data)
		if got, _ := c.must(r, http.StatusOK, "GET", "/raw/files/"+path, nil); sha256Hex(got) != sha256Hex(data) {
			t.Errorf("%s written by %s reads back different from %s", path, w.URL, r.URL)
		}
		img := newSplitImage("upgrade-"+string(rune('a'+i)), "v1", 1<<20)
		loc := c.startChunked(w, img, len(img.layer)/2)
		loc = c.patchChunk(r, loc, img.layer[len(img.layer)/2:], len(img.layer)/2)
		c.finishImage(w, loc, img)
		c.checkImage(r, img)
	}
	// PyPI and npm: a version uploaded through each, both visible on both
	// (their cached pages revalidate against the shared database).
	for i, p := range pairs {
		body, ct := pypiUpload("upgrade-demo", "1."+string(rune('0'+i)))
		c.must(p[0], http.StatusOK, "POST", "/pypi/pypi-hosted/", body, "Content-Type", ct)
		c.must(p[0], http.StatusCreated, "PUT", "/npm/npm-hosted/upgrade-pkg", npmPublish("upgrade-pkg", "1."+string(rune('0'+i))+".0"), "Content-Type", "application/json")
	}
	for _, s := range c.reps {
		if v := c.pypiVersions(s, "upgrade-demo"); !slices.Equal(v, []string{"1.0", "1.1"}) {
			t.Errorf("%s: pypi versions %v, want [1.0 1.1]", s.URL, v)
		}
		if v, latest := c.npmVersions(s, "upgrade-pkg"); len(v) != 2 || latest != "1.1.0" {
			t.Errorf("%s: npm versions %v, latest %q", s.URL, v, latest)
		}
	}
	// MLflow: an experiment made by the new release, a run in it by the
	// old one, metrics logged by both, read by both.
	const ml = "/mlflow/api/2.0/mlflow"
	var exp struct {
		ID string `json:"experiment_id"`
	}
	c.mustJSON(newer, 200, "POST", ml+"/experiments/create", map[string]any{"name": "upgrade"}, &exp)
	var run struct {
		Run struct {
			Info struct {
				ID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	c.mustJSON(older, 200, "POST", ml+"/runs/create", map[string]any{"experiment_id": exp.ID, "start_time": 1000}, &run)
	for step, s := range []*Server{newer, older, newer} {
		c.mustJSON(s, 200, "POST", ml+"/runs/log-batch", map[string]any{"run_id": run.Run.Info.ID,
			"metrics": []any{map[string]any{"key": "loss", "value": 1.0 / float64(step+1), "timestamp": 2000 + step, "step": step}}}, nil)
	}
	for _, s := range c.reps {
		var hist struct {
			Metrics []struct {
				Step int `json:"step"`
			} `json:"metrics"`
		}
		c.mustJSON(s, 200, "GET", ml+"/metrics/get-history?run_id="+run.Run.Info.ID+"&metric_key=loss", nil, &hist)
		if len(hist.Metrics) != 3 {
			t.Errorf("%s: loss history has %d points, want 3", s.URL, len(hist.Metrics))
		}
	}
	for _, s := range c.reps {
		s.WantNoServerErrors()
	}
}

// compatBase is the commit the previous release is built from: the
// ARCA_COMPAT_BASE environment variable, or else the commit recorded in
// testdata/previous-release (the last landed release; updated when one is
// cut).
func compatBase(t *testing.T, root string) string {
	t.Helper()
	if b := os.Getenv("ARCA_COMPAT_BASE"); b != "" {
		return b
	}
	b, err := os.ReadFile(filepath.Join("testdata", "previous-release"))
	if err != nil {
		t.Fatal(err)
	}
	var rev string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rev = line
		}
	}
	if out, err := exec.Command("git", "-C", root, "cat-file", "-e", rev+"^{commit}").CombinedOutput(); err != nil {
		if shallow, _ := exec.Command("git", "-C", root, "rev-parse", "--is-shallow-repository").Output(); strings.TrimSpace(string(shallow)) == "true" {
			t.Skipf("skipping: this clone is shallow and lacks the previous release %s; set ARCA_COMPAT_BASE or clone with history", rev)
		}
		t.Fatalf("the previous release %s is not in this repository: %v %s", rev, err, out)
	}
	t.Logf("previous release: %s", rev)
	return rev
}

// buildArcaAt builds cmd/arca from commit rev of the repository at root
// (git archive into a temporary directory, then go build there).
func buildArcaAt(t *testing.T, root, rev string) string {
	t.Helper()
	src := t.TempDir()
	archive := exec.Command("git", "-C", root, "archive", "--format=tar", rev)
	untar := exec.Command("tar", "-x", "-C", src)
	pipe, err := archive.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	untar.Stdin = pipe
	var archErr strings.Builder
	archive.Stderr = &archErr
	if err := untar.Start(); err != nil {
		t.Fatal(err)
	}
	if err := archive.Run(); err != nil {
		t.Fatalf("git archive %s: %v %s", rev, err, archErr.String())
	}
	if err := untar.Wait(); err != nil {
		t.Fatalf("untar %s: %v", rev, err)
	}
	bin := filepath.Join(t.TempDir(), "arca-"+rev[:min(12, len(rev))])
	start := time.Now()
	build := exec.Command(goTool(), "build", "-o", bin, "./cmd/arca")
	build.Dir = src
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building arca at %s: %v\n%s", rev, err, out)
	}
	t.Logf("built arca at %s in %v", rev, time.Since(start).Round(time.Millisecond))
	return bin
}
