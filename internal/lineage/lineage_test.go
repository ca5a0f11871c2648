package lineage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/meta"
)

// Users of the tests: a reader and a writer (developer) of the raw
// repository "open", and a user with no role anywhere. "secret" is a raw
// repository only the admin reads.
const (
	reader = "rita:rita-Passw0rd-long"
	writer = "walt:walt-Passw0rd-long"
	other  = "otto:otto-Passw0rd-long"
)

func do(t *testing.T, s *apptest.Server, method, path, cred, body string, want int) string {
	t.Helper()
	var resp *http.Response
	var out string
	if body == "" {
		resp, out = s.Do(t, method, path, cred, nil)
	} else {
		resp, out = s.Do(t, method, path, cred, strings.NewReader(body), "Content-Type", "application/json")
	}
	if resp.StatusCode != want {
		t.Fatalf("%s %s as %q = %d %s, want %d", method, path, strings.Split(cred, ":")[0], resp.StatusCode, out, want)
	}
	return out
}

func setup(t *testing.T, s *apptest.Server) {
	t.Helper()
	for _, r := range []string{"open", "secret"} {
		do(t, s, "POST", "/api/v1/repositories", apptest.Admin, fmt.Sprintf(`{"name":%q,"format":"raw"}`, r), http.StatusCreated)
	}
	for _, u := range []string{reader, writer, other} {
		name, pw, _ := strings.Cut(u, ":")
		do(t, s, "POST", "/api/v1/users", apptest.Admin, fmt.Sprintf(`{"name":%q,"password":%q}`, name, pw), http.StatusCreated)
	}
	do(t, s, "PUT", "/api/v1/repositories/open/roles/rita", apptest.Admin, `{"role":"reader"}`, http.StatusOK)
	do(t, s, "PUT", "/api/v1/repositories/open/roles/walt", apptest.Admin, `{"role":"developer"}`, http.StatusOK)
}

func link(t *testing.T, s *apptest.Server, cred, from, to string, want int) {
	t.Helper()
	do(t, s, "POST", "/api/v1/lineage/links", cred, fmt.Sprintf(`{"from":%q,"to":%q}`, from, to), want)
}

type graph struct {
	Root      string   `json:"root"`
	Depth     int      `json:"depth"`
	Truncated bool     `json:"truncated"`
	Notes     []string `json:"notes"`
	Nodes     []map[string]any
	Edges     []struct{ From, To, Relation string }
}

func walk(t *testing.T, s *apptest.Server, cred, ref string, depth int, dir string, want int) (graph, string) {
	t.Helper()
	body := do(t, s, "GET", fmt.Sprintf("/api/v1/lineage?artifact=%s&depth=%d&direction=%s", url.QueryEscape(ref), depth, dir), cred, "", want)
	var g graph
	if want == http.StatusOK {
		if err := json.Unmarshal([]byte(body), &g); err != nil {
			t.Fatalf("lineage answer %s: %v", body, err)
		}
	}
	return g, body
}

// ids returns the graph's node IDs, hidden ones as "hidden".
func ids(g graph) map[string]bool {
	out := map[string]bool{}
	for _, n := range g.Nodes {
		id := n["id"].(string)
		if n["hidden"] == true {
			id = "hidden"
		}
		out[id] = true
	}
	return out
}

func edges(g graph) map[string]bool {
	out := map[string]bool{}
	for _, e := range g.Edges {
		out[e.From+">"+e.To] = true
	}
	return out
}

// TestWalk: a chain through a repository the reader may not read, with a
// cycle back to its start; depth limits; the node limit.
func TestWalk(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		setup(t, s)
		a, b, c, d := "raw:open/a.csv", "raw:open/b.csv", "raw:secret/c.bin", "raw:open/d.pkl"
		link(t, s, apptest.Admin, a, b, http.StatusCreated)
		link(t, s, apptest.Admin, b, c, http.StatusCreated)
		link(t, s, apptest.Admin, c, d, http.StatusCreated)
		link(t, s, apptest.Admin, d, a, http.StatusCreated) // a cycle
		link(t, s, apptest.Admin, d, a, http.StatusOK)      // recorded once

		// The admin sees everything; the cycle ends the walk.
		g, _ := walk(t, s, apptest.Admin, a, 10, "down", http.StatusOK)
		if want := map[string]bool{a: true, b: true, c: true, d: true}; fmt.Sprint(ids(g)) != fmt.Sprint(want) || len(g.Edges) != 4 || g.Truncated {
			t.Errorf("admin's walk down from a = %v, %d edges, truncated %v; want a, b, c, d and 4 edges", ids(g), len(g.Edges), g.Truncated)
		}
		// Depth 1 each way.
		g, _ = walk(t, s, apptest.Admin, b, 1, "both", http.StatusOK)
		if want := map[string]bool{a: true, b: true, c: true}; fmt.Sprint(ids(g)) != fmt.Sprint(want) {
			t.Errorf("depth 1 both ways from b = %v, want %v", ids(g), want)
		}
		g, _ = walk(t, s, apptest.Admin, b, 2, "up", http.StatusOK)
		if want := map[string]bool{a: true, b: true, d: true}; fmt.Sprint(ids(g)) != fmt.Sprint(want) || !edges(g)[d+">"+a] {
			t.Errorf("depth 2 up from b = %v %v, want %v with d→a", ids(g), g.Edges, want)
		}
		g, _ = walk(t, s, apptest.Admin, b, 0, "both", http.StatusOK)
		if len(g.Nodes) != 1 || len(g.Edges) != 0 {
			t.Errorf("depth 0 = %+v, want the root alone", g)
		}

		// The reader sees c as a hidden node, never its name.
		g, body := walk(t, s, reader, b, 10, "down", http.StatusOK)
		if want := map[string]bool{a: true, b: true, "hidden": true, d: true}; fmt.Sprint(ids(g)) != fmt.Sprint(want) {
			t.Errorf("reader's walk = %v, want %v", ids(g), want)
		}
		if strings.Contains(body, "secret") || strings.Contains(body, "c.bin") {
			t.Errorf("the reader's walk names the hidden node: %s", body)
		}
		for _, n := range g.Nodes {
			if n["hidden"] == true && (len(n) != 2 || !strings.HasPrefix(n["id"].(string), "hidden-")) {
				t.Errorf("hidden node %v carries more than its id", n)
			}
		}
		var hidden string
		for _, n := range g.Nodes {
			if n["hidden"] == true {
				hidden = n["id"].(string)
			}
		}
		if !edges(g)[b+">"+hidden] || !edges(g)[hidden+">"+d] {
			t.Errorf("reader's edges %v do not pass through %s", g.Edges, hidden)
		}

		// Roots one may not read are not found (anonymous: sign in).
		walk(t, s, reader, c, 3, "both", http.StatusNotFound)
		walk(t, s, reader, "raw:nowhere/x", 3, "both", http.StatusNotFound)
		walk(t, s, other, a, 3, "both", http.StatusNotFound)
		walk(t, s, "", a, 3, "both", http.StatusUnauthorized)
		walk(t, s, reader, "nope:x", 3, "both", http.StatusBadRequest)
		walk(t, s, reader, a, 3, "sideways", http.StatusBadRequest)
		do(t, s, "GET", "/api/v1/lineage?artifact="+url.QueryEscape(a)+"&depth=-1", reader, "", http.StatusBadRequest)
		do(t, s, "GET", "/api/v1/lineage", reader, "", http.StatusBadRequest)

		// Depth past the limit is cut to it, and said.
		g, _ = walk(t, s, reader, a, 50, "both", http.StatusOK)
		if g.Depth != 10 || !g.Truncated || len(g.Notes) == 0 {
			t.Errorf("depth 50 = depth %d, truncated %v, notes %v; want 10, true and a note", g.Depth, g.Truncated, g.Notes)
		}

		// The node limit: a hub with 600 links.
		for i := 0; i < 600; i++ {
			if _, err := s.DB.ExecContext(context.Background(), `INSERT INTO lineage_links (from_ref, to_ref, relation, origin, created_by, created_at)
				VALUES ($1, $2, 'derived', 'api', 'admin', $3)`, "raw:open/hub", fmt.Sprintf("raw:open/n%03d", i), meta.Now()); err != nil {
				t.Fatal(err)
			}
		}
		g, _ = walk(t, s, reader, "raw:open/hub", 2, "down", http.StatusOK)
		if len(g.Nodes) != 500 || !g.Truncated || len(g.Notes) == 0 {
			t.Errorf("walk from the hub = %d nodes, truncated %v, notes %v; want 500, true and a note", len(g.Nodes), g.Truncated, g.Notes)
		}
	})
}

// TestLinksAPI: who may add links (writer on both ends), and bad input.
func TestLinksAPI(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		setup(t, s)
		a, b, c := "raw:open/a", "raw:open/b", "raw:secret/c"
		link(t, s, "", a, b, http.StatusUnauthorized)
		link(t, s, reader, a, b, http.StatusForbidden) // reads both, writes neither
		link(t, s, other, a, b, http.StatusNotFound)   // reads neither: as if they did not exist
		link(t, s, writer, a, c, http.StatusNotFound)  // writes a, cannot read c
		link(t, s, writer, c, a, http.StatusNotFound)
		link(t, s, writer, a, b, http.StatusCreated)
		link(t, s, writer, a, b, http.StatusOK)
		link(t, s, apptest.Admin, b, c, http.StatusCreated)
		link(t, s, writer, a, a, http.StatusBadRequest)
		link(t, s, writer, "raw:open/../x", b, http.StatusBadRequest)
		link(t, s, writer, "oci:library/app:missing", b, http.StatusNotFound)
		do(t, s, "POST", "/api/v1/lineage/links", writer, `{"from":"raw:open/a","to":"raw:open/c","relation":"Not Valid"}`, http.StatusBadRequest)
		do(t, s, "POST", "/api/v1/lineage/links", writer, `{"from":`, http.StatusBadRequest)
		out := do(t, s, "POST", "/api/v1/lineage/links", writer, `{"from":"raw:open/a","to":"raw:open/c","relation":"trained_on"}`, http.StatusCreated)
		var created struct{ Relation string }
		if json.Unmarshal([]byte(out), &created) != nil || created.Relation != "trained_on" {
			t.Errorf("created link = %s", out)
		}
		g, _ := walk(t, s, writer, a, 1, "down", http.StatusOK)
		if want := map[string]bool{a: true, b: true, "raw:open/c": true}; fmt.Sprint(ids(g)) != fmt.Sprint(want) {
			t.Errorf("links of a = %v, want %v", ids(g), want)
		}
		events, _ := s.Audit.List(context.Background(), 0, 100)
		n := 0
		for _, e := range events {
			if e.Action == "lineage.link.create" {
				n++
			}
		}
		if n != 3 {
			t.Errorf("%d lineage.link.create events, want 3 (one per new link)", n)
		}
	})
}
