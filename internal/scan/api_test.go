package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/scan"
)

// Every scanning endpoint for every role: anonymous, a user without
// roles, a reader, a developer and an admin.
func TestScanAPIRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		uploadWheel(t, s)
		rep := waitReport(t, s, "repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl")
		users := map[string]string{"anonymous": "", "nobody": "nobody:nobody-password-1234", "reader": "reader:reader-password-1234",
			"dev": "dev:dev-password-1234", "admin": admin}
		for _, tc := range []struct {
			method, path, body string
			want               map[string]int
		}{
			{"GET", "/api/v1/vulndb", "", map[string]int{"anonymous": 401, "nobody": 200, "reader": 200, "dev": 200, "admin": 200}},
			{"GET", "/api/v1/scan/reports", "", map[string]int{"anonymous": 401, "nobody": 200, "reader": 200, "dev": 200, "admin": 200}},
			{"GET", "/api/v1/scan/reports?repository=pypi-hosted", "", map[string]int{"anonymous": 401, "nobody": 403, "reader": 200, "dev": 200, "admin": 200}},
			{"GET", fmt.Sprintf("/api/v1/scan/reports/%d", rep.ID), "", map[string]int{"anonymous": 401, "nobody": 404, "reader": 200, "dev": 200, "admin": 200}},
			{"GET", "/api/v1/scan/report?repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl", "",
				map[string]int{"anonymous": 401, "nobody": 403, "reader": 200, "dev": 200, "admin": 200}},
			{"POST", "/api/v1/scan", `{"repository":"pypi-hosted","name":"requests","ref":"requests-2.19.1-py2.py3-none-any.whl"}`,
				map[string]int{"anonymous": 401, "nobody": 403, "reader": 403, "dev": 202, "admin": 202}},
			{"POST", "/api/v1/scan", `{"repository":"pypi-hosted"}`, map[string]int{"anonymous": 401, "nobody": 403, "reader": 403, "dev": 202, "admin": 202}},
			{"POST", "/api/v1/scan", `{}`, map[string]int{"anonymous": 401, "nobody": 403, "reader": 403, "dev": 403, "admin": 202}},
		} {
			for user, want := range tc.want {
				var body *strings.Reader
				if tc.body != "" {
					body = strings.NewReader(tc.body)
				}
				var resp, text = s.Do(t, tc.method, tc.path, users[user], readerOrNil(body), "Content-Type", "application/json")
				if resp.StatusCode != want {
					t.Errorf("%s %s as %s: %d, want %d (%s)", tc.method, tc.path, user, resp.StatusCode, want, text)
				}
			}
		}
	})
}

// An on-demand scan of a repository queues each of its artifacts, and
// new vulnerability data rescans what was reported (from the stored
// components): an Alpine image's zlib is found only after the import.
func TestOnDemandScanAndRescan(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if err := s.Jobs.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Jobs.Stop(context.Background()) })
		img := pushImage(t, s, "alpine", "3.16", tgz(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.16.2\n",
			"lib/apk/db/installed", "P:musl\nV:1.2.3-r0\n\nP:zlib\nV:1.2.12-r1\no:zlib\n"))
		resp, body := s.Do(t, "POST", "/api/v1/scan", admin, strings.NewReader(`{"repository":"library"}`), "Content-Type", "application/json")
		if resp.StatusCode != 202 || !strings.Contains(body, `"queued": 1`) {
			t.Fatalf("scan: %d %s", resp.StatusCode, body)
		}
		r := waitReport(t, s, "repository=library&name=alpine&ref="+img.digest)
		if len(r.Findings) != 0 || len(r.Components) != 2 || r.Components[1].Ecosystem != "Alpine:v3.16" {
			t.Fatalf("before the data: %+v", r)
		}
		z := vulndbtestZip(t, "Alpine")
		dir := t.TempDir()
		writeFile(t, dir+"/Alpine/all.zip", z)
		if _, err := s.ImportVulnDB(ctx, dir); err != nil {
			t.Fatal(err)
		}
		for i := 0; ; i++ {
			r = waitReport(t, s, "repository=library&name=alpine&ref="+img.digest)
			if advisories(r) == "ALPINE-CVE-2022-37434@zlib=1.2.12-r1>1.2.12-r2" {
				break
			}
			if i > 300 {
				t.Fatalf("after the import: %s", advisories(r))
			}
			sleep()
		}
		var list []scan.Report
		_, body = s.Do(t, "GET", "/api/v1/scan/reports?repository=library", admin, nil)
		json.Unmarshal([]byte(body), &list)
		if len(list) != 1 || list[0].Counts["Unknown"] != 1 {
			t.Fatalf("reports: %s", body)
		}
	})
}

// browser signs in to the UI as a browser does, keeping cookies.
type browser struct {
	t *testing.T
	c *http.Client
	s *apptest.Server
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func signIn(t *testing.T, s *apptest.Server, name, password string) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, c: &http.Client{Jar: jar}, s: s}
	_, page := b.get("/ui/login")
	b.post("/ui/login", page, url.Values{"name": {name}, "password": {password}})
	return b
}

func (b *browser) get(path string) (int, string) {
	resp, err := b.c.Get(b.s.URL + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// post submits a form of page (its anti-forgery token) with values.
func (b *browser) post(path, page string, v url.Values) (int, string) {
	m := csrfRE.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form on the page: %.300s", page)
	}
	v.Set("csrf", html.UnescapeString(m[1]))
	req, _ := http.NewRequest("POST", b.s.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.s.URL)
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// The security pages: the dashboard lists what the user may read, a
// report shows its findings, and the scan button queues scans for those
// who may write.
func TestSecurityPages(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		uploadWheel(t, s)
		rep := waitReport(t, s, "repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl")
		for _, user := range []string{"reader", "dev"} {
			b := signIn(t, s, user, user+"-password-1234")
			code, body := b.get("/ui/security")
			if code != 200 || !strings.Contains(body, "GHSA-x84v-xcm2-53pg") {
				t.Fatalf("security page as %s: %d %.300s", user, code, body)
			}
			code, body = b.get(fmt.Sprintf("/ui/security/reports/%d", rep.ID))
			if code != 200 || !strings.Contains(body, "CVE-2018-18074") || !strings.Contains(body, "2.20.0") {
				t.Fatalf("report page as %s: %d %.300s", user, code, body)
			}
			if has := strings.Contains(body, "Scan again"); has != (user == "dev") {
				t.Fatalf("scan button shown to %s: %v", user, has)
			}
			if user == "dev" {
				code, body = b.post("/ui/security/scan", body, url.Values{"repository": {"pypi-hosted"}, "name": {"requests"},
					"ref": {"requests-2.19.1-py2.py3-none-any.whl"}, "report": {strconv.FormatInt(rep.ID, 10)}})
				// The button returns to the artifact's current report, whose id a
				// rescan replaces (the old id's page was a 404 under load).
				if code != 200 || !strings.Contains(body, "1 scans queued") || !strings.Contains(body, "CVE-2018-18074") {
					t.Fatalf("scan button: %d %.500s", code, body)
				}
			}
		}
		b := signIn(t, s, "nobody", "nobody-password-1234")
		code, body := b.get("/ui/security")
		if code != 200 || strings.Contains(body, "GHSA-x84v-xcm2-53pg") {
			t.Fatalf("security page of a user without roles: %d", code)
		}
		if code, _ := b.get(fmt.Sprintf("/ui/security/reports/%d", rep.ID)); code != 404 {
			t.Fatalf("report page of a user without roles: %d", code)
		}
		artifact := "/ui/security/report?repository=pypi-hosted&name=requests&ref=requests-2.19.1-py2.py3-none-any.whl"
		if code, page := b.get(artifact); code != 404 || strings.Contains(page, "CVE-2018-18074") {
			t.Fatalf("artifact's report page of a user without roles: %d", code)
		}
		if code, _ := b.post("/ui/security/scan", body, url.Values{"repository": {"pypi-hosted"}}); code != 403 {
			t.Fatalf("scan button of a user without roles: %d", code)
		}
	})
}
