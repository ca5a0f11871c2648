package ui_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
)

// TestNoPageShowsASecret configures credentials in every place they can be
// given — proxy upstreams in the configuration file and through the API (in
// the URL, in the username/password fields, as an npm token), API tokens,
// robots' tokens, S3 key pairs — then walks every page of the UI reachable
// by links, signed in as the admin and anonymously, and fails if any page
// shows one of them (issue 23).
func TestNoPageShowsASecret(t *testing.T) {
	edit := func(c *config.Config) {
		c.Repositories = append(c.Repositories, config.Repository{Name: "cfg-proxy", Format: "pypi", Kind: "proxy", Visibility: "public",
			Settings: map[string]any{"upstream": map[string]any{"url": "https://cfguser-S1:cfg-pass-S1@pypi.example.com/simple/"}}})
	}
	eachServer(t, edit, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		secrets := []string{"cfg-pass-S1", "oci-pass-S2", "npm-token-S3", "npm-pass-S4", apptest.AdminPassword}
		api := func(method, path, body string) {
			t.Helper()
			resp, got := s.Do(t, method, path, apptest.Admin, strings.NewReader(body), "Content-Type", "application/json")
			if resp.StatusCode/100 != 2 {
				t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, got)
			}
		}
		api("POST", "/api/v1/repositories", `{"name":"oci-proxy","format":"oci","kind":"proxy","visibility":"public",
			"settings":{"upstream":{"url":"https://ociuser:oci-pass-S2@registry.example.com"}}}`)
		api("POST", "/api/v1/repositories", `{"name":"npm-proxy","format":"npm","kind":"proxy","visibility":"public",
			"settings":{"upstream":{"url":"https://npm.example.com/","token":"npm-token-S3"}}}`)
		api("POST", "/api/v1/repositories", `{"name":"npm-basic","format":"npm","kind":"proxy",
			"settings":{"upstream":{"url":"https://npm.example.com/","username":"npmuser","password":"npm-pass-S4"}}}`)
		tok, _, err := s.Auth.CreateToken(ctx, "admin", "ci", 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Auth.CreateRobot(ctx, "builder", ""); err != nil {
			t.Fatal(err)
		}
		robotTok, _, err := s.Auth.CreateToken(ctx, "builder", "ci", 0)
		if err != nil {
			t.Fatal(err)
		}
		_, s3Secret, err := s.Auth.CreateAccessKey(ctx, "admin", "", "", "key of the test")
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, tok, robotTok, s3Secret)

		for _, who := range []string{"admin", "anonymous"} {
			b := newBrowser(t, s)
			if who == "admin" {
				b.login("admin", apptest.AdminPassword)
			}
			pages := crawl(t, b, "/", 400)
			if len(pages) < 5 {
				t.Fatalf("%s: only %d pages reached", who, len(pages))
			}
			for path, body := range pages {
				text := html.UnescapeString(body)
				for _, secret := range secrets {
					if strings.Contains(body, secret) || strings.Contains(text, secret) {
						t.Errorf("%s sees a secret on %s", who, path)
					}
				}
			}
			t.Logf("%s: %d pages checked", who, len(pages))
		}
	})
}

var hrefRe = regexp.MustCompile(`href="(/|/ui/[^"#]*)"`)

// crawl fetches start and every page of the UI (/ and /ui/...) linked from what it fetched, up
// to max pages, and returns the bodies of those answered with 200. It does
// not follow the sign-out link.
func crawl(t *testing.T, b *browser, start string, max int) map[string]string {
	t.Helper()
	pages := map[string]string{}
	seen := map[string]bool{start: true}
	queue := []string{start}
	for len(queue) > 0 && len(seen) <= max {
		path := queue[0]
		queue = queue[1:]
		resp, body := b.do("GET", path, nil)
		if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && (loc == "/" || strings.HasPrefix(loc, "/ui/")) && !seen[loc] {
			seen[loc] = true
			queue = append(queue, loc)
		}
		if resp.StatusCode != http.StatusOK {
			continue
		}
		pages[path] = body
		for _, m := range hrefRe.FindAllStringSubmatch(body, -1) {
			next := html.UnescapeString(m[1])
			if seen[next] || strings.Contains(next, "logout") || strings.Contains(next, "/download") {
				continue
			}
			seen[next] = true
			queue = append(queue, next)
		}
	}
	return pages
}
