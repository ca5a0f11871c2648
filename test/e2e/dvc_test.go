package e2e

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// dvcTimeout bounds each dvc command; dvc pushes and pulls a few MB here.
const dvcTimeout = 3 * time.Minute

// TestDVCHTTPRemote uses a raw repository as a DVC HTTP remote with the real
// dvc: push a tracked directory (a 5 MB file, an empty file, a file in a
// subdirectory) with Basic authentication, check where the objects landed
// through the listing API, check `dvc status -c`, then drop the cache and
// the data and pull everything back, byte for byte.
func TestDVCHTTPRemote(t *testing.T) {
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with dvc) is not set")
	}
	dvcBin := filepath.Join(venv, "bin", "dvc")
	if _, err := os.Stat(dvcBin); err != nil {
		missing(t, "no dvc in ARCA_TEST_VENV=%s: %v", venv, err)
	}
	gitBin := needTool(t, "git")

	srv := StartServer(t, ServerOptions{})
	home := t.TempDir()
	proj := filepath.Join(t.TempDir(), "project")
	if err := os.Mkdir(proj, 0o755); err != nil {
		t.Fatal(err)
	}
	env := dvcEnv(home)
	dvc := func(args ...string) string {
		t.Helper()
		start := time.Now()
		out := runCmd(t, dvcTimeout, proj, env, dvcBin, args...)
		t.Logf("dvc %s (%s):\n%s", strings.Join(args, " "), time.Since(start).Round(time.Millisecond), indent(out))
		return out
	}
	git := func(args ...string) { t.Helper(); runCmd(t, time.Minute, proj, env, gitBin, args...) }

	t.Logf("dvc version %s", strings.TrimSpace(runCmd(t, dvcTimeout, proj, env, dvcBin, "--version")))
	git("init", "-q")
	git("config", "user.name", "arca e2e")
	git("config", "user.email", "e2e@arca.invalid")
	dvc("init", "-q")
	dvc("config", "core.analytics", "false")

	// The data: a 5 MB random file, an empty file, a file in a subdirectory.
	data := filepath.Join(proj, "data")
	if err := os.MkdirAll(filepath.Join(data, "sub", "deeper"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeRandomFile(t, filepath.Join(data, "big.bin"), 5<<20)
	mustWrite(t, filepath.Join(data, "empty.txt"), "")
	mustWrite(t, filepath.Join(data, "sub", "nested.txt"), "hello from a subdirectory\n")
	mustWrite(t, filepath.Join(data, "sub", "deeper", "labels.csv"), "id,label\n1,cat\n2,dog\n")
	want := treeDigests(t, data)

	dvc("add", "data")
	dirMD5 := dirHash(t, filepath.Join(proj, "data.dvc"))

	remote := srv.URL + "/raw/files/dvcstore"
	dvc("remote", "add", "-d", "arca", remote)
	dvc("remote", "modify", "arca", "auth", "basic")
	dvc("remote", "modify", "--local", "arca", "user", "admin")
	dvc("remote", "modify", "--local", "arca", "password", adminPassword)

	// Before the push the remote lacks everything: status -c says so (this
	// also proves that status -c asks the server).
	if out := dvc("status", "-c"); !strings.Contains(out, "new:") {
		t.Fatalf("dvc status -c before the push does not report new objects:\n%s", out)
	}

	dvc("push")
	if out := dvc("status", "-c"); !strings.Contains(out, "in sync") {
		t.Fatalf("dvc status -c after the push does not report the cache and remote in sync:\n%s", out)
	}

	// The objects are in dvcstore/files/md5/<2 hex>/<30 hex>, one per
	// distinct content, plus the directory's .dir manifest.
	objects := map[string]int64{dirMD5: -1} // md5 (or md5.dir) → size
	for _, f := range want {
		objects[f.md5] = f.size
	}
	var prefixes []string
	for o := range objects {
		prefixes = append(prefixes, o[:2])
	}
	sort.Strings(prefixes)
	prefixes = slices.Compact(prefixes)

	top := list(t, srv, "files", "dvcstore/")
	if len(top.Entries) != 1 || top.Entries[0].Name != "files" || top.Entries[0].Type != "directory" {
		t.Errorf("listing of dvcstore/ = %+v, want only the directory files/", top.Entries)
	}
	md5Dir := list(t, srv, "files", "dvcstore/files/md5/")
	var gotPrefixes []string
	for _, e := range md5Dir.Entries {
		if e.Type != "directory" {
			t.Errorf("unexpected file %s in dvcstore/files/md5/", e.Path)
		}
		gotPrefixes = append(gotPrefixes, e.Name)
	}
	if !slices.Equal(gotPrefixes, prefixes) {
		t.Errorf("dvcstore/files/md5/ holds %v, want %v", gotPrefixes, prefixes)
	}
	for o, size := range objects {
		p := "dvcstore/files/md5/" + o[:2] + "/" + o[2:]
		l := list(t, srv, "files", "dvcstore/files/md5/"+o[:2]+"/")
		found := false
		for _, e := range l.Entries {
			if e.Path == p {
				found = true
				if size >= 0 && e.Size != size {
					t.Errorf("%s is %d bytes, want %d", p, e.Size, size)
				}
			}
		}
		if !found {
			t.Errorf("object %s not listed in %s: %+v", p, l.Path, l.Entries)
			continue
		}
		// Its content is what DVC addresses it by.
		r := curl(t, nil, "-u", srv.Cred(), srv.URL+"/raw/files/"+p)
		wantStatus(t, r, http.StatusOK, "GET "+p)
		body := r.Body(t)
		sum := md5.Sum(body)
		if size >= 0 && hex.EncodeToString(sum[:]) != o {
			t.Errorf("%s has md5 %x, want %s", p, sum, o)
		}
		if size < 0 { // the .dir manifest: a JSON list of the files
			var manifest []struct {
				MD5     string `json:"md5"`
				RelPath string `json:"relpath"`
			}
			if err := json.Unmarshal(body, &manifest); err != nil {
				t.Errorf("%s is not a DVC directory manifest: %v: %s", p, err, truncate(body, 300))
			}
			var rels []string
			for _, m := range manifest {
				rels = append(rels, m.RelPath)
				if f, ok := want[m.RelPath]; !ok || f.md5 != m.MD5 {
					t.Errorf("manifest entry %+v does not match the data", m)
				}
			}
			if len(manifest) != len(want) {
				t.Errorf("manifest lists %v, want the %d files", rels, len(want))
			}
		}
	}

	// Lose the cache and the data, and pull them back from arca.
	for _, p := range []string{filepath.Join(proj, ".dvc", "cache"), data} {
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
	}
	dvc("pull")
	got := treeDigests(t, data)
	for rel, f := range want {
		if g, ok := got[rel]; !ok {
			t.Errorf("after dvc pull %s is missing", rel)
		} else if g != f {
			t.Errorf("after dvc pull %s is %d bytes, md5 %s; want %d bytes, md5 %s", rel, g.size, g.md5, f.size, f.md5)
		}
	}
	for rel := range got {
		if _, ok := want[rel]; !ok {
			t.Errorf("after dvc pull there is an unexpected file %s", rel)
		}
	}
	if out := dvc("status", "-c"); !strings.Contains(out, "in sync") {
		t.Errorf("dvc status -c after the pull does not report in sync:\n%s", out)
	}
	srv.WantNoServerErrors()
}

// dvcEnv is the environment for git and dvc: the test's, with a private
// home and caches, no analytics, and a git identity.
func dvcEnv(home string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "ARCA_"), strings.HasPrefix(k, "GIT_"), strings.HasPrefix(k, "DVC_"),
			strings.HasPrefix(k, "XDG_"), k == "HOME":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"),
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"),
		"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"DVC_SITE_CACHE_DIR="+filepath.Join(home, "dvc-site-cache"),
		"DVC_NO_ANALYTICS=1",
		"ITERATIVE_DO_NOT_TRACK=1",
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=arca e2e", "GIT_AUTHOR_EMAIL=e2e@arca.invalid",
		"GIT_COMMITTER_NAME=arca e2e", "GIT_COMMITTER_EMAIL=e2e@arca.invalid",
	)
}

type fileDigest struct {
	md5  string
	size int64
}

// treeDigests returns the md5 and size of every file below root, by
// slash-separated relative path.
func treeDigests(t *testing.T, root string) map[string]fileDigest {
	t.Helper()
	out := map[string]fileDigest{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		sum := md5.Sum(b)
		out[filepath.ToSlash(rel)] = fileDigest{hex.EncodeToString(sum[:]), int64(len(b))}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var dirMD5Re = regexp.MustCompile(`(?m)^\s*-?\s*md5:\s*([0-9a-f]{32}\.dir)\s*$`)

// dirHash reads the directory hash ("<md5>.dir") from a .dvc file.
func dirHash(t *testing.T, dvcFile string) string {
	t.Helper()
	b, err := os.ReadFile(dvcFile)
	if err != nil {
		t.Fatal(err)
	}
	m := dirMD5Re.FindSubmatch(b)
	if m == nil {
		t.Fatalf("no directory md5 in %s:\n%s", dvcFile, b)
	}
	return string(m[1])
}

func mustWrite(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func indent(s string) string {
	s = strings.TrimRight(s, "\n")
	if s == "" {
		return "    (no output)"
	}
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
