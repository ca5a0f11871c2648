package api_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestUpstreamCredentialsNeverLeak configures proxy credentials in every
// place they can be given — in upstream.url, in username/password, as an
// npm token, through the API (create and update) and through the
// configuration file — and scans every answer of the admin API for them.
// The database holds them only sealed, and the proxies still use them.
func TestUpstreamCredentialsNeverLeak(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { testUpstreamCredentials(t, engine) })
	}
}

func testUpstreamCredentials(t *testing.T, engine string) {
	var mu sync.Mutex
	seen := map[string]bool{} // Authorization headers the upstream received
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")] = true
		mu.Unlock()
		if strings.HasPrefix(r.URL.Path, "/npm/") {
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"name":"left-pad","dist-tags":{},"versions":{}}`))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!DOCTYPE html><html><body></body></html>`))
	}))
	defer upstream.Close()
	host := strings.TrimPrefix(upstream.URL, "http://")

	secrets := []string{
		"ociuser-U1", "oci-pass-A1", // in the URL, API create
		"pypiuser-U2", "pypi-pass-B2", // in the URL, API create (used upstream)
		"npm-token-C3",              // token field (used upstream)
		"npmuser-U4", "npm-pass-D4", // username/password fields
		"cfguser-U5", "cfg-pass-E5", // in the URL, configuration file
		"patchuser-U6", "patch-pass-F6", // in the URL, API update
	}
	dbURL := ""
	if engine == "postgres" {
		dbURL = metatest.PostgresURL(t)
	}
	s := apptest.Start(t, dbURL, func(c *config.Config) {
		c.Repositories = append(c.Repositories, config.Repository{Name: "cfg-proxy", Format: "oci", Kind: "proxy", Visibility: "public",
			Settings: map[string]any{"upstream": map[string]any{"url": "https://cfguser-U5:cfg-pass-E5@registry.example.com"}}})
	})

	var answers []string
	do := func(method, path, user, body string, want int) string {
		t.Helper()
		var rd *strings.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		var resp *http.Response
		var got string
		if rd != nil {
			resp, got = s.Do(t, method, path, user, rd, "Content-Type", "application/json")
		} else {
			resp, got = s.Do(t, method, path, user, nil)
		}
		if resp.StatusCode != want {
			t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, got)
		}
		answers = append(answers, method+" "+path+": "+got)
		return got
	}
	do("POST", "/api/v1/repositories", admin, `{"name":"oci-proxy","format":"oci","kind":"proxy","visibility":"public",
		"settings":{"upstream":{"url":"https://ociuser-U1:oci-pass-A1@registry.example.com"}}}`, 201)
	do("POST", "/api/v1/repositories", admin, `{"name":"pypi-proxy","format":"pypi","kind":"proxy","visibility":"public",
		"settings":{"upstream":{"url":"http://pypiuser-U2:pypi-pass-B2@`+host+`/simple/"}}}`, 201)
	do("POST", "/api/v1/repositories", admin, `{"name":"npm-proxy","format":"npm","kind":"proxy","visibility":"public",
		"settings":{"upstream":{"url":"http://`+host+`/npm/","token":"npm-token-C3"}}}`, 201)
	do("POST", "/api/v1/repositories", admin, `{"name":"npm-basic","format":"npm","kind":"proxy",
		"settings":{"upstream":{"url":"http://`+host+`/npm/","username":"npmuser-U4","password":"npm-pass-D4"}}}`, 201)
	do("POST", "/api/v1/repositories", admin, `{"name":"oci-patched","format":"oci","kind":"proxy",
		"settings":{"upstream":{"url":"https://registry.example.com"}}}`, 201)
	do("PATCH", "/api/v1/repositories/oci-patched", admin, `{"settings":{"upstream":{"url":"https://patchuser-U6:patch-pass-F6@registry.example.com"}}}`, 200)
	// Sending back what GET showed (masked) changes nothing.
	shown := do("GET", "/api/v1/repositories/npm-basic", admin, "", 200)
	var shownRepo struct {
		Settings json.RawMessage `json:"settings"`
	}
	decode(t, shown, &shownRepo)
	do("PATCH", "/api/v1/repositories/npm-basic", admin, `{"description":"edited","settings":`+string(shownRepo.Settings)+`}`, 200)

	names := []string{"oci-proxy", "pypi-proxy", "npm-proxy", "npm-basic", "oci-patched", "cfg-proxy"}
	for _, user := range []string{admin, ""} {
		do("GET", "/api/v1/repositories", user, "", 200)
		do("GET", "/api/v1/repositories?kind=proxy", user, "", 200)
	}
	for _, n := range names {
		want := 200
		if n == "npm-basic" || n == "oci-patched" {
			do("GET", "/api/v1/repositories/"+n, "", "", 401) // private: anonymous callers are challenged
		} else {
			do("GET", "/api/v1/repositories/"+n, "", "", want)
		}
		do("GET", "/api/v1/repositories/"+n, admin, "", want)
		do("GET", "/api/v1/repositories/"+n+"/roles", admin, "", 200)
	}
	for _, n := range []string{"oci-proxy", "pypi-proxy", "npm-proxy", "cfg-proxy"} {
		page := do("GET", "/ui/repositories/"+n, "", "", 200) // the UI page of a public proxy shows its upstream
		if !strings.Contains(page, "example.com") && !strings.Contains(page, host) {
			t.Errorf("the UI page of %s does not show its upstream", n)
		}
	}
	do("GET", "/api/v1/audit", admin, "", 200)
	do("GET", "/api/v1/users", admin, "", 200)
	do("GET", "/api/v1/users/admin", admin, "", 200)
	do("GET", "/api/v1/whoami", admin, "", 200)

	for _, a := range answers {
		for _, secret := range secrets {
			if strings.Contains(a, secret) {
				t.Errorf("an answer shows %q:\n%s", secret, a)
			}
		}
	}
	if !strings.Contains(strings.Join(answers, "\n"), `"https://registry.example.com"`) {
		t.Errorf("the upstream URLs are not shown without their credentials")
	}

	rows, err := s.DB.Query(`SELECT name, config FROM repositories`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name, cfg string
		rows.Scan(&name, &cfg)
		for _, secret := range secrets {
			if strings.Contains(cfg, secret) {
				t.Errorf("repository %s is stored with %q in the clear: %s", name, secret, cfg)
			}
		}
	}
	rows.Close()

	// The proxies still authenticate upstream with the sealed credentials,
	// including those an update sent back masked.
	s.Do(t, "GET", "/pypi/pypi-proxy/simple/demo/", "", nil)
	s.Do(t, "GET", "/npm/npm-proxy/left-pad", "", nil)
	s.Do(t, "GET", "/npm/npm-basic/left-pad", admin, nil)
	mu.Lock()
	defer mu.Unlock()
	for _, want := range []string{"Basic cHlwaXVzZXItVTI6cHlwaS1wYXNzLUIy", "Bearer npm-token-C3", "Basic bnBtdXNlci1VNDpucG0tcGFzcy1ENA=="} {
		if !seen[want] {
			t.Errorf("the upstream never saw %q; it saw %v", want, seen)
		}
	}
}
