package scan_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/test/scanneradapter"
)

// zlibRule is what the test adapter knows of the Debian fixture's zlib1g
// (its own advisory ID, so that its findings are told from arca's).
var zlibRule = scanneradapter.Rule{Version: "1:1.2.11.dfsg-2+deb11u1", ID: "CVE-2022-37434", Severity: "Critical", Fix: "1:1.2.11.dfsg-2+deb11u2"}

// startAdapter runs the test adapter with an API key and points arca's
// adapters at the test server's registry (its URL is known only now).
func startAdapter(t *testing.T, s *apptest.Server, pending int) (*scanneradapter.Adapter, string) {
	t.Helper()
	ad := &scanneradapter.Adapter{APIKey: "adapter-key-1", Pending: pending, Rules: map[string]scanneradapter.Rule{
		"zlib1g": zlibRule,
		"musl":   {Version: "1.2.3-r0", ID: "CVE-2025-0001", Severity: "Critical", Fix: "1.2.3-r1"},
	}}
	ts := httptest.NewServer(ad)
	t.Cleanup(ts.Close)
	s.Scanner.RegistryURL = s.URL
	return ad, ts.URL
}

func register(t *testing.T, s *apptest.Server, name, url string) {
	t.Helper()
	resp, body := s.Do(t, "POST", "/api/v1/scanners", admin, strings.NewReader(fmt.Sprintf(
		`{"name":%q,"url":%q,"auth":"X-ScannerAdapter-API-Key","credential":"adapter-key-1"}`, name, url)), "Content-Type", "application/json")
	if resp.StatusCode != 201 {
		t.Fatalf("register: %d %s", resp.StatusCode, body)
	}
}

// waitScanner polls for the report of scanner on an artifact until ok
// says it is the one wanted.
func waitScanner(t *testing.T, s *apptest.Server, q, scanner string, ok func(scan.Report) bool) scan.Report {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		resp, body := s.Do(t, "GET", "/api/v1/scan/report?"+q+"&scanner="+scanner, admin, nil)
		last = fmt.Sprint(resp.StatusCode, " ", body)
		if resp.StatusCode == 200 {
			var r scan.Report
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				t.Fatal(err)
			}
			if ok(r) {
				return r
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no wanted report of %s for %s: %s", scanner, q, last)
	return scan.Report{}
}

// Registering, reading, changing and removing external scanners is for
// admins only; the credential is never returned; each change is audited.
func TestScannerRegistrationRoles(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		start(t, s)
		_, adURL := startAdapter(t, s, 0)
		users := map[string]string{"anonymous": "", "nobody": "nobody:nobody-password-1234", "reader": "reader:reader-password-1234",
			"dev": "dev:dev-password-1234", "admin": admin}
		body := func(name string) string {
			return fmt.Sprintf(`{"name":%q,"url":%q,"auth":"X-ScannerAdapter-API-Key","credential":"adapter-key-1"}`, name, adURL)
		}
		denied := map[string]int{"anonymous": 401, "nobody": 403, "reader": 403, "dev": 403}
		for _, user := range []string{"anonymous", "nobody", "reader", "dev", "admin"} {
			want := func(ok int) int {
				if user == "admin" {
					return ok
				}
				return denied[user]
			}
			name := "sc-" + user
			for _, tc := range []struct {
				method, path, body string
				ok                 int
			}{
				{"POST", "/api/v1/scanners", body(name), 201},
				{"GET", "/api/v1/scanners", "", 200},
				{"GET", "/api/v1/scanners/" + name, "", 200},
				{"PUT", "/api/v1/scanners/" + name, `{"url":"` + adURL + `","auth":"X-ScannerAdapter-API-Key","enabled":false}`, 200},
				{"DELETE", "/api/v1/scanners/" + name, "", 204},
			} {
				var rd *strings.Reader
				if tc.body != "" {
					rd = strings.NewReader(tc.body)
				}
				resp, text := s.Do(t, tc.method, tc.path, users[user], readerOrNil(rd), "Content-Type", "application/json")
				if resp.StatusCode != want(tc.ok) {
					t.Errorf("%s %s as %s: %d, want %d (%s)", tc.method, tc.path, user, resp.StatusCode, want(tc.ok), text)
				}
				if user != "admin" && (strings.Contains(text, "sc-") || strings.Contains(text, adURL)) {
					t.Errorf("%s %s as %s leaks registrations: %s", tc.method, tc.path, user, text)
				}
				if strings.Contains(text, "adapter-key-1") {
					t.Errorf("%s %s returns the credential: %s", tc.method, tc.path, text)
				}
			}
		}
		// Bad registrations: a wrong key (the metadata is refused), a bad
		// URL, a duplicate.
		resp, text := s.Do(t, "POST", "/api/v1/scanners", admin, strings.NewReader(fmt.Sprintf(`{"name":"bad","url":%q,"auth":"X-ScannerAdapter-API-Key","credential":"wrong"}`, adURL)), "Content-Type", "application/json")
		if resp.StatusCode != 400 || !strings.Contains(text, "401") {
			t.Errorf("wrong key: %d %s", resp.StatusCode, text)
		}
		resp, text = s.Do(t, "POST", "/api/v1/scanners", admin, strings.NewReader(`{"name":"bad","url":"ftp://x"}`), "Content-Type", "application/json")
		if resp.StatusCode != 400 {
			t.Errorf("bad url: %d %s", resp.StatusCode, text)
		}
		register(t, s, "dup", adURL)
		resp, _ = s.Do(t, "POST", "/api/v1/scanners", admin, strings.NewReader(body("dup")), "Content-Type", "application/json")
		if resp.StatusCode != 409 {
			t.Errorf("duplicate: %d", resp.StatusCode)
		}
		resp, text = s.Do(t, "GET", "/api/v1/scanners/dup", admin, nil)
		if !strings.Contains(text, `"has_credential": true`) || !strings.Contains(text, `"TestScanner"`) {
			t.Errorf("registration: %s", text)
		}
		resp, text = s.Do(t, "GET", "/api/v1/audit?limit=100", admin, nil)
		for _, action := range []string{"scanner.create", "scanner.update", "scanner.delete"} {
			if !strings.Contains(text, action) {
				t.Errorf("audit has no %s: %.500s", action, text)
			}
		}
	})
}

// A push is scanned by arca and by the registered adapter, which pulls
// the image with the token arca gave it (polled through 302 and
// Refresh-After); both reports are served, the adapter's by its name and
// in Harbor's format; the token pulls that repository only and pushes
// nothing; the download policy judges by every scanner's findings.
func TestAdapterScanOnPush(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ad, adURL := startAdapter(t, s, 2)
		start(t, s)
		register(t, s, "test", adURL)
		other := pushImage(t, s, "other", "1", tgz(t, "etc/hostname", "x\n"))
		img := debianImage(t, s, "app", 5)
		q := "repository=library&name=app&ref=" + img.digest

		own := waitReport(t, s, q)
		rep := waitScanner(t, s, q, "test", func(r scan.Report) bool { return r.Status == scan.StatusOK })
		if rep.Scanner != "test" || own.Scanner != "arca" || rep.Digest != img.digest {
			t.Fatalf("scanners: %q %q %s", own.Scanner, rep.Scanner, rep.Digest)
		}
		if got := advisories(rep); got != "CVE-2022-37434@zlib1g=1:1.2.11.dfsg-2+deb11u1>1:1.2.11.dfsg-2+deb11u2" || rep.Counts["Critical"] != 1 {
			t.Fatalf("adapter findings: %s %v", got, rep.Counts)
		}
		if strings.Contains(advisories(own), "CVE-2022-37434") {
			t.Fatalf("arca's own report has the adapter's finding: %s", advisories(own))
		}
		if ad.Polls() < 2 {
			t.Fatalf("the report was polled %d times through 302", ad.Polls())
		}
		// By report ID with ?scanner=, and in Harbor's format.
		resp, body := s.Do(t, "GET", fmt.Sprintf("/api/v1/scan/reports/%d?scanner=test", own.ID), "reader:reader-password-1234", nil, "Accept", scan.HarborReportType)
		body = compact(body)
		if resp.StatusCode != 200 || !strings.Contains(body, `"name":"TestScanner"`) || !strings.Contains(body, `"id":"CVE-2022-37434"`) {
			t.Fatalf("harbor report of the adapter: %d %s", resp.StatusCode, body)
		}
		resp, _ = s.Do(t, "GET", fmt.Sprintf("/api/v1/scan/reports/%d?scanner=test", own.ID), "nobody:nobody-password-1234", nil)
		if resp.StatusCode != 404 {
			t.Fatalf("adapter report for a user without roles: %d", resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", "/api/v1/scan/reports?scanner=test", "reader:reader-password-1234", nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"scanner": "test"`) {
			t.Fatalf("list of the adapter's reports: %d %s", resp.StatusCode, body)
		}

		// The request the adapter got, and what its token allows.
		var req *scanneradapter.ScanRequest
		for _, r := range ad.Requests() {
			if r.Artifact.Digest == img.digest {
				req = &r
			}
		}
		if req == nil || req.Registry.URL != s.URL || req.Artifact.Repository != "library/app" ||
			req.Artifact.MimeType != "application/vnd.oci.image.manifest.v1+json" || !strings.HasPrefix(req.Registry.Authorization, "Bearer ") {
			t.Fatalf("scan request: %+v", req)
		}
		ctx := context.Background()
		authz := req.Registry.Authorization
		try := func(method, path string, want ...int) {
			t.Helper()
			resp, err := scanneradapter.Get(ctx, method, s.URL+path, authz, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			for _, w := range want {
				if resp.StatusCode == w {
					return
				}
			}
			t.Errorf("%s %s with the adapter's token: %d, want %v", method, path, resp.StatusCode, want)
		}
		try("GET", "/v2/library/app/manifests/"+img.digest, 200)
		try("GET", "/v2/library/other/manifests/"+other.digest, 401, 403, 404)
		try("GET", "/v2/library/other/tags/list", 401, 403, 404)
		try("POST", "/v2/library/app/blobs/uploads/", 401, 403)
		try("PUT", "/v2/library/app/manifests/evil", 401, 403)
		try("DELETE", "/v2/library/app/manifests/"+img.digest, 401, 403)
		try("GET", "/v2/_catalog", 401, 403)
		try("GET", "/api/v1/repositories", 401, 403)
		try("GET", "/api/v1/users", 401, 403)

		// The policy counts the adapter's findings: musl is clean for arca
		// and Critical for the adapter.
		alp := pushImage(t, s, "alpine", "3.16", tgz(t, "etc/os-release", "ID=alpine\nVERSION_ID=3.16.2\n", "lib/apk/db/installed", "P:musl\nV:1.2.3-r0\n\n"))
		aq := "repository=library&name=alpine&ref=" + alp.digest
		if r := waitReport(t, s, aq); len(r.Findings) != 0 {
			t.Fatalf("arca's findings on musl: %s", advisories(r))
		}
		waitScanner(t, s, aq, "test", func(r scan.Report) bool { return r.Status == scan.StatusOK && r.Counts["Critical"] == 1 })
		resp, body = s.Do(t, "PATCH", "/api/v1/repositories/library", admin, strings.NewReader(`{"settings":{"scan_policy":{"block_severity":"critical"}}}`), "Content-Type", "application/json")
		if resp.StatusCode != 200 {
			t.Fatalf("policy: %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/v2/library/alpine/manifests/"+alp.digest, "reader:reader-password-1234", nil, "Accept", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != 403 || !strings.Contains(body, "CVE-2025-0001") {
			t.Fatalf("pull of an image the adapter found critical: %d %s", resp.StatusCode, body)
		}

		// The report page shows both scanners.
		b := signIn(t, s, "reader", "reader-password-1234")
		code, page := b.get(fmt.Sprintf("/ui/security/reports/%d", own.ID))
		if code != 200 || !strings.Contains(page, "CVE-2022-37434") || !strings.Contains(page, "test") {
			t.Fatalf("report page: %d %s", code, grep(page, "CVE"))
		}
	})
}

// An adapter that is down gets a failed report saying so; the job
// runner retries it, and once the adapter is back the report is done.
func TestAdapterDownIsRetried(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ad, adURL := startAdapter(t, s, 0)
		start(t, s)
		register(t, s, "test", adURL)
		ad.Down.Store(true)
		img := debianImage(t, s, "app", 1)
		q := "repository=library&name=app&ref=" + img.digest
		failed := waitScanner(t, s, q, "test", func(r scan.Report) bool { return r.Status == scan.StatusFailed })
		if !strings.Contains(failed.Error, "adapter is down") || !strings.Contains(failed.Error, "503") {
			t.Fatalf("failed report: %+v", failed)
		}
		ad.Down.Store(false)
		rep := waitScanner(t, s, q, "test", func(r scan.Report) bool { return r.Status == scan.StatusOK })
		if rep.Counts["Critical"] != 1 || rep.Error != "" {
			t.Fatalf("report after the retry: %+v", rep)
		}
		resp, body := s.Do(t, "GET", "/api/v1/jobs?kind=scan_adapter", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"attempt": 2`) && !strings.Contains(body, `"attempt": 3`) {
			t.Fatalf("jobs: %d %.2000s", resp.StatusCode, body)
		}
	})
}

// The adapter's report is untrusted input.
func FuzzParseAdapterReport(f *testing.F) {
	f.Add([]byte(`{"vulnerabilities":[{"id":"CVE-1","package":"zlib","version":"1","fix_version":"2","severity":"Negligible","cve3_score":"7.5"}]}`))
	f.Add([]byte(`{"vulnerabilities":[{"id":"CVE-2","package":"p","severity":"High","preferred_cvss":{"score_v3":9.8},"vendor_attributes":{"aliases":["GHSA-x"],"ecosystem":"npm"}}]}`))
	f.Add([]byte(`{"vulnerabilities":[{"id":"","package":"p"},{"id":"x","package":"y","severity":"bogus","cve3_score":11}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fs, err := scan.ParseAdapterReport(b)
		if err != nil {
			return
		}
		for _, f := range fs {
			if f.Advisory == "" || f.Component.Name == "" || f.Severity.String() == "" || f.Score < 0 || f.Score > 10 || len(f.Summary) > 2000 {
				t.Fatalf("finding out of bounds: %+v", f)
			}
		}
	})
}

var _ http.Handler = (*scanneradapter.Adapter)(nil)

// The external scanners page: admins register, disable and delete
// adapters; nobody else sees it.
func TestScannersPage(t *testing.T) {
	s := apptest.Start(t, "", nil)
	start(t, s)
	_, adURL := startAdapter(t, s, 0)
	for _, user := range []string{"reader", "dev"} {
		b := signIn(t, s, user, user+"-password-1234")
		if code, page := b.get("/ui/admin/scanners"); code != 403 || strings.Contains(page, "Register scanner") {
			t.Errorf("%s: %d", user, code)
		}
	}
	b := signIn(t, s, "admin", apptest.AdminPassword)
	code, page := b.get("/ui/admin/scanners")
	if code != 200 || !strings.Contains(page, "No external scanners") {
		t.Fatalf("page: %d %.300s", code, page)
	}
	code, page = b.post("/ui/admin/scanners", page, url.Values{"name": {"trivy"}, "url": {adURL}, "auth": {"X-ScannerAdapter-API-Key"}, "credential": {"adapter-key-1"}})
	if code != 200 || !strings.Contains(page, "TestScanner 1.0 by arca tests") || strings.Contains(page, "adapter-key-1") {
		t.Fatalf("after registering: %d %s", code, grep(page, "trivy"))
	}
	code, page = b.post("/ui/admin/scanners/trivy/disable", page, url.Values{})
	if code != 200 || !strings.Contains(page, "/ui/admin/scanners/trivy/enable") {
		t.Fatalf("after disabling: %d %s", code, grep(page, "trivy"))
	}
	if a, err := s.Scanner.Adapter(context.Background(), "trivy"); err != nil || a.Enabled || !a.HasCredential {
		t.Fatalf("disabled registration: %+v %v", a, err)
	}
	code, page = b.post("/ui/admin/scanners/trivy/delete", page, url.Values{})
	if code != 200 || !strings.Contains(page, "No external scanners") {
		t.Fatalf("after deleting: %d %s", code, grep(page, "trivy"))
	}
}
