package ui_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// eachServer is apptest.Each with a configuration edit.
func eachServer(t *testing.T, edit func(*config.Config), fn func(t *testing.T, s *apptest.Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, apptest.Start(t, "", edit)) })
	t.Run("postgres", func(t *testing.T) { fn(t, apptest.Start(t, metatest.PostgresURL(t), edit)) })
}

// browser is a cookie-keeping HTTP client that does not follow redirects,
// as a browser's session with the UI.
type browser struct {
	t    *testing.T
	s    *apptest.Server
	c    *http.Client
	csrf string // the anti-forgery token of the last page that had one
}

func newBrowser(t *testing.T, s *apptest.Server) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, s: s, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// do sends a request with optional extra headers (name, value, ...).
func (b *browser) do(method, path string, body io.Reader, headers ...string) (*http.Response, string) {
	b.t.Helper()
	req, err := http.NewRequest(method, b.s.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	html := string(raw)
	if m := csrfRe.FindStringSubmatch(html); m != nil {
		b.csrf = m[1]
	}
	checkForms(b.t, path, html)
	return resp, html
}

// get fetches a page and fails unless it has the status.
func (b *browser) get(path string, status int) string {
	b.t.Helper()
	resp, body := b.do("GET", path, nil)
	if resp.StatusCode != status {
		b.t.Fatalf("GET %s: %d, want %d\n%s", path, resp.StatusCode, status, excerpt(body))
	}
	return body
}

// post sends a form with the current anti-forgery token (unless the form
// sets csrf itself) and returns the response.
func (b *browser) post(path string, form url.Values, headers ...string) (*http.Response, string) {
	b.t.Helper()
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	return b.do("POST", path, strings.NewReader(form.Encode()), headers...)
}

// postStatus posts and fails unless the answer has the status.
func (b *browser) postStatus(path string, form url.Values, status int) string {
	b.t.Helper()
	resp, body := b.post(path, form)
	if resp.StatusCode != status {
		b.t.Fatalf("POST %s: %d, want %d\n%s", path, resp.StatusCode, status, excerpt(body))
	}
	return body
}

// login signs in and fails unless it works.
func (b *browser) login(name, password string) {
	b.t.Helper()
	b.get("/ui/login", http.StatusOK)
	resp, body := b.post("/ui/login", url.Values{"name": {name}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		b.t.Fatalf("sign in as %s: %d\n%s", name, resp.StatusCode, excerpt(body))
	}
}

// redirectsToLogin checks that a GET is sent to the sign-in page.
func (b *browser) redirectsToLogin(path string) {
	b.t.Helper()
	resp, _ := b.do("GET", path, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login?next=") {
		b.t.Fatalf("GET %s: %d Location %q, want a redirect to sign in", path, resp.StatusCode, resp.Header.Get("Location"))
	}
}

var (
	formRe      = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	postMethod  = regexp.MustCompile(`(?i)method="post"`)
	csrfFieldRe = regexp.MustCompile(`<input type="hidden" name="csrf" value="[^"]{20,}">`)
)

// checkForms fails the test if a posting form of the page lacks the
// anti-forgery field.
func checkForms(t *testing.T, path, html string) {
	t.Helper()
	for _, m := range formRe.FindAllStringSubmatch(html, -1) {
		if postMethod.MatchString(m[1]) && !csrfFieldRe.MatchString(m[2]) {
			t.Errorf("%s: a form posting without the csrf field: <form%s>", path, m[1])
		}
	}
}

func excerpt(s string) string {
	if i := strings.Index(s, "<main"); i >= 0 {
		s = s[i:]
	}
	if len(s) > 1500 {
		s = s[:1500] + "..."
	}
	return s
}
