package goproxy_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/goproxy"
)

func moduleList(t *testing.T, c *client, query string) goproxy.ModuleList {
	t.Helper()
	var l goproxy.ModuleList
	if err := json.Unmarshal([]byte(c.expect(200, "listing", "GET", "@modules"+query, nil)), &l); err != nil {
		t.Fatal(err)
	}
	return l
}

func paths(l goproxy.ModuleList) string {
	var out []string
	for _, m := range l.Modules {
		var vs []string
		for _, v := range m.Versions {
			vs = append(vs, v.Version)
		}
		out = append(out, m.Path+"="+strings.Join(vs, ","))
	}
	return strings.Join(out, " ")
}

// TestModuleListing: GET /go/<repo>/@modules pages through a hosted
// repository's modules with each version's go.sum hash; a proxy has none;
// go.delete carries what the deleted version held.
func TestModuleListing(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		c := &client{t: t, s: s, repo: "go-hosted", userpass: apptest.Admin}
		hashes := map[string]string{}
		for _, mv := range []string{"a.example/x@v1.0.0", "a.example/x@v1.10.0", "a.example/x@v1.2.0", "b.example/y@v0.1.0", "c.example/Z@v2.0.0+incompatible", "d.example/w@v1.0.0"} {
			mod, v, _ := strings.Cut(mv, "@")
			files := map[string]string{"x.go": "package x\n"}
			if !strings.HasSuffix(v, "+incompatible") {
				files["go.mod"] = "module " + mod + "\n"
			}
			z, h1 := moduleZip(t, mod, v, files)
			c.expect(201, "publish "+mv, "PUT", goproxy.Escaped(mod)+"/@v/"+v+".zip", z)
			hashes[mv] = h1
		}
		all := moduleList(t, c, "")
		if got := paths(all); got != "a.example/x=v1.0.0,v1.2.0,v1.10.0 b.example/y=v0.1.0 c.example/Z=v2.0.0+incompatible d.example/w=v1.0.0" || all.Next != "" {
			t.Fatalf("listing = %s (next %q)", got, all.Next)
		}
		for _, m := range all.Modules {
			for _, v := range m.Versions {
				if v.H1 != hashes[m.Path+"@"+v.Version] || v.Size <= 0 || v.Time.IsZero() {
					t.Errorf("%s@%s = %+v, want h1 %s", m.Path, v.Version, v, hashes[m.Path+"@"+v.Version])
				}
			}
		}
		// Pages of two.
		var pages []string
		for q := "?limit=2"; ; {
			l := moduleList(t, c, q)
			pages = append(pages, paths(l))
			if l.Next == "" {
				break
			}
			q = "?limit=2&after=" + url.QueryEscape(l.Next)
		}
		if got := strings.Join(pages, " | "); got != "a.example/x=v1.0.0,v1.2.0,v1.10.0 b.example/y=v0.1.0 | c.example/Z=v2.0.0+incompatible d.example/w=v1.0.0" {
			t.Fatalf("pages = %s", got)
		}
		if got := paths(moduleList(t, c, "?module=c.example/Z")); got != "c.example/Z=v2.0.0+incompatible" {
			t.Fatalf("?module = %s", got)
		}
		if l := moduleList(t, c, "?module=none.example/q"); len(l.Modules) != 0 || l.Next != "" {
			t.Fatalf("?module of an absent module = %+v", l)
		}
		for _, bad := range []string{"?limit=0", "?limit=x", "?module=" + url.QueryEscape("not a path")} {
			c.expect(400, "bad query "+bad, "GET", "@modules"+bad, nil)
		}
		createRepo(t, s, `{"name":"go-proxy","format":"go","kind":"proxy","settings":{"upstream":{"url":"http://127.0.0.1:1"}}}`)
		(&client{t: t, s: s, repo: "go-proxy", userpass: apptest.Admin}).expect(404, "a proxy's listing", "GET", "@modules", nil)
		c.expect(405, "no writes", "PUT", "@modules", []byte("x"))

		// go.delete says what the version held.
		c.expect(204, "delete", "DELETE", "b.example/y/@v/v0.1.0", nil)
		var detail string
		if err := s.DB.QueryRowContext(context.Background(), `SELECT detail FROM audit_events WHERE action = 'go.delete'`).Scan(&detail); err != nil {
			t.Fatal(err)
		}
		var d map[string]any
		json.Unmarshal([]byte(detail), &d)
		if dg, _ := d["digest"].(string); !strings.HasPrefix(dg, "sha256:") || d["h1"] != hashes["b.example/y@v0.1.0"] || !strings.HasPrefix(fmt.Sprint(d["mod_digest"]), "sha256:") {
			t.Fatalf("go.delete detail = %s", detail)
		}
		if got := paths(moduleList(t, c, "?module=b.example/y")); got != "" {
			t.Fatalf("deleted module still listed: %s", got)
		}
	})
}
