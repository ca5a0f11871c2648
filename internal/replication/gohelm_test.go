package replication_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"mime/multipart"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// moduleZip builds the zip of mod@version as the go command would.
func moduleZip(t testing.TB, mod, version, note string) []byte {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"go.mod": "module " + mod + "\n\ngo 1.22\n", "greet.go": "package greet\n\n// " + note + "\nconst Hello = \"hi\"\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := modzip.CreateFromDir(&buf, module.Version{Path: mod, Version: version}, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// goPublish publishes a module version as arca go publish does.
func goPublish(t testing.TB, s *apptest.Server, repo, mod, version, note string) []byte {
	t.Helper()
	zip := moduleZip(t, mod, version, note)
	if resp, out := s.Do(t, "PUT", "/go/"+repo+"/"+mod+"/@v/"+version+".zip", admin, bytes.NewReader(zip)); resp.StatusCode != 201 {
		t.Fatalf("publish %s@%s = %d %s", mod, version, resp.StatusCode, out)
	}
	return zip
}

// goZipOf reads a version's zip through the GOPROXY protocol.
func goZipOf(t testing.TB, s *apptest.Server, repo, mod, version string) ([]byte, error) {
	resp, out := s.Do(t, "GET", "/go/"+repo+"/"+mod+"/@v/"+version+".zip", admin, nil)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s@%s = %d %s", mod, version, resp.StatusCode, out)
	}
	return []byte(out), nil
}

// goList is a module's @v/list ("" when the repository lacks it).
func goList(t testing.TB, s *apptest.Server, repo, mod string) string {
	resp, out := s.Do(t, "GET", "/go/"+repo+"/"+mod+"/@v/list", admin, nil)
	if resp.StatusCode == 404 {
		return ""
	}
	return strings.Join(strings.Fields(out), ",")
}

// TestGoPushAndPull: module versions pushed on events and in full runs
// (skipping what the replica has by go.sum hash), deletions propagated,
// pulled by filters; a version the destination has with other content
// fails without deletes and is replaced with them.
func TestGoPushAndPull(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		const mod = "example.com/greet"
		old := goPublish(t, src, "go-hosted", mod, "v1.0.0", "first")
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"go-dr","repository":"go-hosted","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"go-hosted","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		next := goPublish(t, src, "go-hosted", mod, "v1.1.0", "second")
		eventually(t, 20*time.Second, func() error {
			got, err := goZipOf(t, dst, "go-hosted", mod, "v1.1.0")
			if err == nil && !bytes.Equal(got, next) {
				err = fmt.Errorf("the replica's zip of v1.1.0 differs")
			}
			return err
		})
		if got := goList(t, dst, "go-hosted", mod); got != "v1.1.0" {
			t.Fatalf("replica's list = %q before the full run", got)
		}
		// A module path with capitals travels case-encoded (!caps).
		caps := moduleZip(t, "example.com/Caps", "v0.1.0", "capitals")
		if resp, out := src.Do(t, "PUT", "/go/go-hosted/example.com/!caps/@v/v0.1.0.zip", admin, bytes.NewReader(caps)); resp.StatusCode != 201 {
			t.Fatalf("publish example.com/Caps = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			got, err := goZipOf(t, dst, "go-hosted", "example.com/!caps", "v0.1.0")
			if err == nil && !bytes.Equal(got, caps) {
				err = fmt.Errorf("the replica's zip of example.com/Caps differs")
			}
			return err
		})
		waitRuns(t, src, p.ID, 2, 20*time.Second)
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, 3, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Copied] != 1 || got[replication.Skipped] != 2 {
			t.Fatalf("full run = %+v", run)
		}
		if got, err := goZipOf(t, dst, "go-hosted", mod, "v1.0.0"); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("the full run did not copy v1.0.0: %v", err)
		}
		if got, err := goZipOf(t, dst, "go-hosted", "example.com/!caps", "v0.1.0"); err != nil || !bytes.Equal(got, caps) {
			t.Fatalf("the full run did not copy example.com/Caps: %v", err)
		}
		// The replica answers the go command's files from the copied zip.
		if _, out := dst.Do(t, "GET", "/go/go-hosted/"+mod+"/@v/v1.0.0.mod", admin, nil); !strings.HasPrefix(out, "module "+mod) {
			t.Fatalf("replica's .mod = %q", out)
		}
		if resp, out := src.Do(t, "DELETE", "/go/go-hosted/"+mod+"/@v/v1.0.0", admin, nil); resp.StatusCode != 204 {
			t.Fatalf("delete = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			if got := goList(t, dst, "go-hosted", mod); got != "v1.1.0" {
				return fmt.Errorf("replica's list = %q", got)
			}
			return nil
		})

		// A pull of v1.* of example.com/* into a third arca, which has a
		// v1.1.0 of its own (other content) and a module the source lacks.
		third := apptest.Start(t, "", nil)
		startJobs(t, third)
		goPublish(t, src, "go-hosted", "example.com/greet/v2", "v2.0.0", "v2")
		goPublish(t, src, "go-hosted", "other.org/tool", "v1.0.0", "tool")
		goPublish(t, third, "go-hosted", mod, "v1.1.0", "a different build")
		goPublish(t, third, "go-hosted", "example.com/gone", "v1.0.0", "local only")
		pullBody := fmt.Sprintf(`{"name":"go-in","repository":"go-hosted","direction":"pull","deletes":%%s,
			"remote":{"url":%q,"repository":"go-hosted","username":"admin","password":%q},"filter":{"names":["example.com/*"],"versions":["v1.*"]}}`,
			src.URL, apptest.AdminPassword)
		pull := createPolicy(t, third, fmt.Sprintf(pullBody, "false"))
		runNow(t, third, pull.ID)
		run = waitRuns(t, third, pull.ID, 1, 20*time.Second)
		if run.State != replication.Failed || run.Failed != 1 || !strings.Contains(run.Items[0].Error, "another go.sum hash") {
			t.Fatalf("pull over another v1.1.0 without deletes = %+v", run)
		}
		// With deletes, the source wins: v1.1.0 is replaced, example.com/gone goes.
		var withDeletes replication.Policy
		decode(t, fmt.Sprintf(pullBody, "true"), &withDeletes)
		if resp, out := third.Do(t, "PUT", fmt.Sprintf("/api/v1/replication/policies/%d", pull.ID), admin, strings.NewReader(mustJSON(t, withDeletes))); resp.StatusCode != 200 {
			t.Fatalf("replace policy = %d %s", resp.StatusCode, out)
		}
		runNow(t, third, pull.ID)
		eventually(t, 30*time.Second, func() error {
			// (The failed run's retries run the changed policy too.)
			rs := runs(t, third, pull.ID)
			for _, r := range rs {
				if r.State == replication.Succeeded && r.Copied == 1 && r.Deleted == 1 {
					return nil
				}
			}
			return fmt.Errorf("no run replaced v1.1.0 and deleted example.com/gone: %+v", rs)
		})
		if got, err := goZipOf(t, third, "go-hosted", mod, "v1.1.0"); err != nil || !bytes.Equal(got, next) {
			t.Fatalf("pulled v1.1.0: %v", err)
		}
		for _, m := range []string{"example.com/greet/v2", "other.org/tool", "example.com/gone"} {
			if got := goList(t, third, "go-hosted", m); got != "" {
				t.Errorf("%s on the pulling arca: %q", m, got)
			}
		}
	})
}

// helmChart builds a chart archive as helm package does.
func helmChart(name, version, note string) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range [][2]string{
		{name + "/Chart.yaml", fmt.Sprintf("apiVersion: v2\nname: %s\nversion: %s\ndescription: %s\n", name, version, note)},
		{name + "/values.yaml", "replicas: 1\n"},
	} {
		tw.WriteHeader(&tar.Header{Name: f[0], Mode: 0o644, Size: int64(len(f[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(f[1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// helmProv is a provenance file signing file.
func helmProv(file string, tgz []byte) []byte {
	sum := sha256.Sum256(tgz)
	return []byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\napiVersion: v2\n\n...\nfiles:\n  " + file + ": sha256:" + hex.EncodeToString(sum[:]) +
		"\n-----BEGIN PGP SIGNATURE-----\n\nwsBcBAEBCgAQBQJ\n-----END PGP SIGNATURE-----\n")
}

// helmPush uploads a chart (and its provenance) as helm cm-push does.
func helmPush(t testing.TB, s *apptest.Server, repo, name, version, note string, withProv bool) (tgz, prov []byte) {
	t.Helper()
	tgz = helmChart(name, version, note)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	w, _ := mw.CreateFormFile("chart", name+"-"+version+".tgz")
	w.Write(tgz)
	if withProv {
		prov = helmProv(name+"-"+version+".tgz", tgz)
		w, _ = mw.CreateFormFile("prov", name+"-"+version+".tgz.prov")
		w.Write(prov)
	}
	mw.Close()
	if resp, out := s.Do(t, "POST", "/helm/"+repo+"/api/charts", admin, &body, "Content-Type", mw.FormDataContentType()); resp.StatusCode != 201 {
		t.Fatalf("upload %s-%s = %d %s", name, version, resp.StatusCode, out)
	}
	return tgz, prov
}

// helmFile reads charts/<file> as helm pull does.
func helmFile(t testing.TB, s *apptest.Server, repo, file string) ([]byte, error) {
	resp, out := s.Do(t, "GET", "/helm/"+repo+"/charts/"+file, admin, nil)
	if resp.StatusCode != 200 {
		return nil, fmt.Errorf("%s = %d", file, resp.StatusCode)
	}
	return []byte(out), nil
}

// TestHelmPushAndPull: chart versions with their provenance pushed on
// events and in full runs (skipping the same digest), a provenance file
// added later, deletions propagated, and a pull by filters.
func TestHelmPushAndPull(t *testing.T) {
	apptest.Each(t, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		old, _ := helmPush(t, src, "helm-hosted", "web-app", "1.0.0", "first", false)
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"charts-dr","repository":"helm-hosted","direction":"push","on_event":true,"deletes":true,
			"remote":{"url":%q,"repository":"helm-hosted","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		next, nextProv := helmPush(t, src, "helm-hosted", "web-app", "1.1.0-rc.1", "second", true)
		eventually(t, 20*time.Second, func() error {
			got, err := helmFile(t, dst, "helm-hosted", "web-app-1.1.0-rc.1.tgz")
			if err == nil && !bytes.Equal(got, next) {
				return fmt.Errorf("replica's archive differs")
			}
			if err == nil {
				var prov []byte
				if prov, err = helmFile(t, dst, "helm-hosted", "web-app-1.1.0-rc.1.tgz.prov"); err == nil && !bytes.Equal(prov, nextProv) {
					err = fmt.Errorf("replica's provenance differs")
				}
			}
			return err
		})
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, 2, 20*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Copied] != 1 || got[replication.Skipped] != 1 {
			t.Fatalf("full run = %+v", run)
		}
		if got, err := helmFile(t, dst, "helm-hosted", "web-app-1.0.0.tgz"); err != nil || !bytes.Equal(got, old) {
			t.Fatalf("the full run did not copy web-app-1.0.0: %v", err)
		}
		if _, out := dst.Do(t, "GET", "/helm/helm-hosted/index.yaml", admin, nil); !strings.Contains(out, "1.1.0-rc.1") || !strings.Contains(out, "1.0.0") {
			t.Fatalf("replica's index.yaml = %s", out)
		}
		// A provenance file added to 1.0.0 later follows it.
		oldProv := helmProv("web-app-1.0.0.tgz", old)
		if resp, out := src.Do(t, "PUT", "/helm/helm-hosted/charts/web-app-1.0.0.tgz.prov", admin, bytes.NewReader(oldProv)); resp.StatusCode != 201 {
			t.Fatalf("provenance = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			got, err := helmFile(t, dst, "helm-hosted", "web-app-1.0.0.tgz.prov")
			if err == nil && !bytes.Equal(got, oldProv) {
				err = fmt.Errorf("replica's provenance of 1.0.0 differs")
			}
			return err
		})
		if resp, out := src.Do(t, "DELETE", "/helm/helm-hosted/api/charts/web-app/1.0.0", admin, nil); resp.StatusCode != 200 {
			t.Fatalf("delete = %d %s", resp.StatusCode, out)
		}
		eventually(t, 20*time.Second, func() error {
			if _, err := helmFile(t, dst, "helm-hosted", "web-app-1.0.0.tgz"); err == nil {
				return fmt.Errorf("web-app-1.0.0 still on the replica")
			}
			return nil
		})
		if _, err := helmFile(t, dst, "helm-hosted", "web-app-1.1.0-rc.1.tgz"); err != nil {
			t.Fatalf("1.1.0-rc.1 went too: %v", err)
		}

		// A pull of web-* releases 1.x into a third arca.
		third := apptest.Start(t, "", nil)
		startJobs(t, third)
		rel, _ := helmPush(t, src, "helm-hosted", "web-app", "1.2.0", "release", false)
		helmPush(t, src, "helm-hosted", "web-app", "2.0.0", "major", false)
		helmPush(t, src, "helm-hosted", "db", "1.0.0", "other chart", false)
		pull := createPolicy(t, third, fmt.Sprintf(`{"name":"charts-in","repository":"helm-hosted","direction":"pull",
			"remote":{"url":%q,"repository":"helm-hosted","username":"admin","password":%q},"filter":{"names":["web-*"],"versions":["1.*"]}}`,
			src.URL, apptest.AdminPassword))
		runNow(t, third, pull.ID)
		run = waitRuns(t, third, pull.ID, 1, 20*time.Second)
		if run.State != replication.Succeeded || run.Copied != 2 {
			t.Fatalf("pull run = %+v", run)
		}
		if got, err := helmFile(t, third, "helm-hosted", "web-app-1.2.0.tgz"); err != nil || !bytes.Equal(got, rel) {
			t.Fatalf("pulled web-app-1.2.0: %v", err)
		}
		for _, f := range []string{"web-app-2.0.0.tgz", "db-1.0.0.tgz"} {
			if _, err := helmFile(t, third, "helm-hosted", f); err == nil {
				t.Errorf("%s was pulled; the filter leaves it out", f)
			}
		}
	})
}
