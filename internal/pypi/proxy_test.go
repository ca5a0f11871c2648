package pypi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func createRepo(t testing.TB, s *apptest.Server, js string) {
	t.Helper()
	if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(js)); resp.StatusCode != 201 {
		t.Fatalf("create repository = %d %s", resp.StatusCode, body)
	}
}

func setSettings(t testing.TB, s *apptest.Server, repo, js string) {
	t.Helper()
	if resp, body := s.Do(t, "PATCH", "/api/v1/repositories/"+repo, admin, strings.NewReader(`{"settings":`+js+`}`)); resp.StatusCode != 200 {
		t.Fatalf("PATCH %s = %d %s", repo, resp.StatusCode, body)
	}
}

func TestProxyAndGroup(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// The upstream: a second arca with demo 1.0 (a wheel and an sdist).
		up := apptest.Start(t, "", nil)
		w1, s1 := wheel(t, "demo", "1.0"), sdist(t, "demo", "1.0")
		mustUpload(t, up, "pypi-hosted", w1)
		mustUpload(t, up, "pypi-hosted", s1)
		upstream := func(maxAge string) string {
			return fmt.Sprintf(`{"upstream":{"url":%q,"username":"admin","password":%q,"metadata_max_age":%q,"negative_cache_ttl":"1h","offline_retry":"1h"}}`,
				up.URL+"/pypi/pypi-hosted/simple/", apptest.AdminPassword, maxAge)
		}
		createRepo(t, s, `{"name":"pypi-proxy","format":"pypi","kind":"proxy","settings":`+upstream("1h")+`}`)
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"bad","format":"pypi","kind":"proxy","settings":{"upstream":{"url":"ftp://x/"}}}`)); resp.StatusCode != 400 {
			t.Errorf("proxy with an ftp upstream = %d %s", resp.StatusCode, body)
		}

		// The proxy's page points at arca and keeps the upstream's hashes.
		p := jsonPage(t, s, "/pypi/pypi-proxy/simple/demo/")
		if len(p.Files) != 2 || p.Files[0].URL != "../../files/demo/"+w1.filename || p.Files[0].Hashes["sha256"] != hexSum(w1.data) ||
			p.Files[0].CoreMetadata == nil || p.Meta["api-version"] != "1.1" {
			t.Fatalf("proxy page: %+v", p)
		}
		_, html := s.Do(t, "GET", "/pypi/pypi-proxy/simple/demo/", admin, nil)
		if !strings.Contains(html, `href="../../files/demo/`+w1.filename+`#sha256=`+hexSum(w1.data)+`"`) {
			t.Errorf("proxy HTML page:\n%s", html)
		}
		// Eight clients fetch the wheel at once; all get it.
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", s.URL+"/pypi/pypi-proxy/files/demo/"+w1.filename, nil)
				req.SetBasicAuth("admin", apptest.AdminPassword)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				io.Copy(io.Discard, resp.Body)
				if resp.StatusCode != 200 {
					t.Errorf("proxied wheel = %d", resp.StatusCode)
				}
			}()
		}
		wg.Wait()
		if _, body := s.Do(t, "GET", "/pypi/pypi-proxy/files/demo/"+w1.filename, admin, nil); body != string(w1.data) {
			t.Fatal("proxied wheel differs from the upstream's")
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-proxy/files/demo/"+w1.filename+".metadata", admin, nil); resp.StatusCode != 200 || body != string(w1.metadata) {
			t.Fatalf("proxied metadata = %d %q", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-proxy/files/demo/demo-9.tar.gz", admin, nil); resp.StatusCode != 404 {
			t.Errorf("file not in the page = %d", resp.StatusCode)
		}
		_, idx := s.Do(t, "GET", "/pypi/pypi-proxy/simple/", admin, nil)
		if !strings.Contains(idx, `href="demo/"`) {
			t.Errorf("proxy index lacks its cached project: %s", idx)
		}

		// Within metadata_max_age the cached page is served; an upstream 404
		// is remembered for negative_cache_ttl.
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-proxy/simple/other/", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("missing project = %d", resp.StatusCode)
		}
		w2 := wheel(t, "demo", "2.0")
		mustUpload(t, up, "pypi-hosted", w2)
		mustUpload(t, up, "pypi-hosted", wheel(t, "other", "1.0"))
		if p := jsonPage(t, s, "/pypi/pypi-proxy/simple/demo/"); len(p.Files) != 2 {
			t.Errorf("fresh cached page changed: %d files", len(p.Files))
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-proxy/simple/other/", admin, nil); resp.StatusCode != 404 {
			t.Errorf("negative cache: other = %d", resp.StatusCode)
		}
		// After metadata_max_age the page is checked again.
		setSettings(t, s, "pypi-proxy", upstream("1ms"))
		if p := jsonPage(t, s, "/pypi/pypi-proxy/simple/demo/"); len(p.Files) != 3 {
			t.Errorf("revalidated page has %d files, want 3", len(p.Files))
		}

		// Groups: hosted members first; the same file name in two members
		// comes from the first. The local pypi-hosted has its own demo 1.0
		// wheel (other bytes, same name) and demo 3.0.
		local := wheel(t, "demo", "1.0")
		local.data = append(local.data, 0)
		mustUpload(t, s, "pypi-hosted", local)
		mustUpload(t, s, "pypi-hosted", wheel(t, "demo", "3.0"))
		createRepo(t, s, `{"name":"pypi-all","format":"pypi","kind":"group","settings":{"members":["pypi-proxy","pypi-hosted"]}}`)
		g := jsonPage(t, s, "/pypi/pypi-all/simple/demo/")
		names := map[string]string{}
		for _, f := range g.Files {
			names[f.Filename] = f.Hashes["sha256"]
		}
		if len(g.Files) != 4 || names[w1.filename] != hexSum(local.data) || names[w2.filename] != hexSum(w2.data) || names[s1.filename] == "" {
			t.Errorf("group page: %+v", g.Files)
		}
		if _, body := s.Do(t, "GET", "/pypi/pypi-all/files/demo/"+w1.filename, admin, nil); body != string(local.data) {
			t.Error("group served the proxy's file, not the hosted member's")
		}
		if _, body := s.Do(t, "GET", "/pypi/pypi-all/files/demo/"+w2.filename, admin, nil); body != string(w2.data) {
			t.Error("group did not serve the proxy's 2.0")
		}
		_, idx = s.Do(t, "GET", "/pypi/pypi-all/simple/", admin, nil, "Accept", "application/vnd.pypi.simple.v1+json")
		if !strings.Contains(idx, `{"name":"demo"}`) {
			t.Errorf("group index: %s", idx)
		}
		// merge: first — the hosted project shadows the proxy's entirely.
		createRepo(t, s, `{"name":"pypi-first","format":"pypi","kind":"group","settings":{"members":["pypi-proxy","pypi-hosted"],"merge":"first"}}`)
		if g := jsonPage(t, s, "/pypi/pypi-first/simple/demo/"); len(g.Files) != 2 {
			t.Errorf("merge first: %+v", g.Files)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-first/files/demo/"+w2.filename, admin, nil); resp.StatusCode != 404 {
			t.Errorf("merge first served a shadowed file: %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-first/files/demo/"+w1.filename+".metadata", admin, nil); resp.StatusCode != 200 {
			t.Errorf("merge first metadata = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-all/pypi/demo/json", admin, nil); resp.StatusCode != 200 || !strings.Contains(body, `"version": "3.0"`) {
			t.Errorf("group JSON API = %d %s", resp.StatusCode, body)
		}

		// The upstream goes away: cached pages and files are still served,
		// files never fetched are 503 with a clear message, and the group
		// answers from its other members.
		up.Close()
		if p := jsonPage(t, s, "/pypi/pypi-proxy/simple/demo/"); len(p.Files) != 3 {
			t.Errorf("stale page has %d files", len(p.Files))
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-proxy/files/demo/"+w1.filename, admin, nil); resp.StatusCode != 200 || body != string(w1.data) {
			t.Errorf("cached file while offline = %d", resp.StatusCode)
		}
		resp, body := s.Do(t, "GET", "/pypi/pypi-proxy/files/demo/"+s1.filename, admin, nil)
		if resp.StatusCode != 503 || !strings.Contains(body, "unavailable") {
			t.Errorf("uncached file while offline = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/pypi/pypi-all/simple/demo/", admin, nil); resp.StatusCode != 200 {
			t.Errorf("group page while the upstream is offline = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/pypi/pypi-proxy/simple/never-seen/", admin, nil); resp.StatusCode != 503 {
			t.Errorf("uncached page while offline = %d %s", resp.StatusCode, body)
		}
	})
}
