package webhook_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestAccess checks every endpoint for every role: anonymous 401; reader
// and developer 403; a repository's admin manages its own repository's
// webhooks only; a global admin manages all.
func TestAccess(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		users := map[string]string{"reader": "reader", "dev": "developer", "owner": "admin"}
		for u, role := range users {
			do(t, s, "POST", "/api/v1/users", admin, `{"name":"`+u+`","password":"`+u+`-password-1"}`, 201)
			do(t, s, "PUT", "/api/v1/repositories/files/roles/"+u, admin, `{"role":"`+role+`"}`, 200)
		}
		rc := newReceiver(t)
		global := subscribe(t, s, rc, "/api/v1/webhooks", admin, "/g", "")
		other := subscribe(t, s, rc, "/api/v1/repositories/library/webhooks", admin, "/l", "")
		// The files repository's admin manages its webhooks.
		own := subscribe(t, s, rc, "/api/v1/repositories/files/webhooks", "owner:owner-password-1", "/f", "")
		do(t, s, "PUT", "/raw/files/seed.txt", admin, "x", 201) // a delivery to address (queued; no workers run)
		delivery := func(base string) int64 {
			var ds []struct{ ID int64 }
			decodeJSON(t, do(t, s, "GET", base+"/deliveries", admin, "", 200), &ds)
			if len(ds) == 0 {
				t.Fatalf("no delivery under %s", base)
			}
			return ds[0].ID
		}

		type ep struct{ method, path, body string }
		endpoints := func(base string, id, did int64) []ep {
			sub := fmt.Sprintf("%s/%d", base, id)
			return []ep{
				{"GET", base, ""},
				{"POST", base, `{"url":"` + rc.url("/x") + `"}`},
				{"GET", sub, ""},
				{"PATCH", sub, `{"description":"changed"}`},
				{"POST", sub + "/ping", ""},
				{"GET", sub + "/deliveries", ""},
				{"GET", fmt.Sprintf("%s/deliveries/%d", sub, did), ""},
				{"POST", fmt.Sprintf("%s/deliveries/%d/redeliver", sub, did), ""},
				{"DELETE", sub, ""},
			}
		}
		status := func(e ep, who string) int {
			resp, _ := s.Do(t, e.method, e.path, who, strings.NewReader(e.body), "Content-Type", "application/json")
			return resp.StatusCode
		}
		ownBase, otherBase := "/api/v1/repositories/files/webhooks", "/api/v1/repositories/library/webhooks"
		globalDelivery, ownDelivery := delivery(fmt.Sprintf("/api/v1/webhooks/%d", global.ID)), delivery(fmt.Sprintf("%s/%d", ownBase, own.ID))
		otherDelivery := ownDelivery // the library subscription has none; any ID is refused before it is looked up

		for _, c := range []struct {
			name string
			eps  []ep
			want map[string]int // by caller; success is 2xx
		}{
			{"global", endpoints("/api/v1/webhooks", global.ID, globalDelivery),
				map[string]int{"": 401, "reader:reader-password-1": 403, "dev:dev-password-1": 403, "owner:owner-password-1": 403}},
			{"own repository", endpoints(ownBase, own.ID, ownDelivery),
				map[string]int{"": 401, "reader:reader-password-1": 403, "dev:dev-password-1": 403}},
			{"other repository", endpoints(otherBase, other.ID, otherDelivery),
				map[string]int{"": 401, "reader:reader-password-1": 403, "dev:dev-password-1": 403, "owner:owner-password-1": 403}},
		} {
			for _, e := range c.eps {
				for who, want := range c.want {
					if got := status(e, who); got != want {
						t.Errorf("%s: %s %s as %q = %d, want %d", c.name, e.method, e.path, who, got, want)
					}
				}
			}
		}
		// The repository admin may do everything on its own repository's
		// webhooks (DELETE last); the global admin on the global ones.
		for _, run := range []struct {
			who string
			eps []ep
		}{
			{"owner:owner-password-1", endpoints(ownBase, own.ID, ownDelivery)},
			{admin, endpoints("/api/v1/webhooks", global.ID, globalDelivery)},
		} {
			for _, e := range run.eps {
				if got := status(e, run.who); got < 200 || got > 299 {
					t.Errorf("%s %s as %q = %d, want success", e.method, e.path, run.who, got)
				}
			}
		}
		// A global admin manages any repository's webhooks too.
		do(t, s, "PATCH", fmt.Sprintf("%s/%d", otherBase, other.ID), admin, `{"enabled":false}`, 200)
		// A subscription is found only under its own scope.
		do(t, s, "GET", fmt.Sprintf("/api/v1/webhooks/%d", other.ID), admin, "", 404)
		do(t, s, "GET", fmt.Sprintf("%s/%d", ownBase, other.ID), admin, "", 404)
		// The event list needs any authenticated caller.
		do(t, s, "GET", "/api/v1/webhooks/events", "", "", 401)
		if body := do(t, s, "GET", "/api/v1/webhooks/events", "reader:reader-password-1", "", 200); !strings.Contains(body, "io.arca.oci.manifest.pushed") {
			t.Errorf("event list = %s", body)
		}
		// The secret is answered only when set.
		if body := do(t, s, "GET", fmt.Sprintf("%s/%d", otherBase, other.ID), admin, "", 200); strings.Contains(body, "whsec_") || strings.Contains(body, `"secret"`) {
			t.Errorf("GET shows the secret: %s", body)
		}
		if body := do(t, s, "PATCH", fmt.Sprintf("%s/%d", otherBase, other.ID), admin, `{"rotate_secret":true}`, 200); !strings.Contains(body, "whsec_") {
			t.Errorf("rotating the secret does not answer it: %s", body)
		}
		// Bad input is refused, and nothing is written.
		for _, body := range []string{`{"url":"ftp://example.com/"}`, `{"url":"http://user:pw@example.com/"}`, `{"url":"/relative"}`,
			`{"url":"http://example.com/","events":["io.arca.nothing"]}`, `{"url":"http://example.com/","payload_format":"xml"}`,
			`{"url":"http://example.com/","secret":"short"}`, `{"url":"http://example.com/","bogus":1}`, `{}`} {
			do(t, s, "POST", "/api/v1/webhooks", admin, body, 400)
		}
		var subs []struct{ ID int64 }
		decodeJSON(t, do(t, s, "GET", "/api/v1/webhooks", admin, "", 200), &subs)
		if len(subs) != 1 { // the one the admin added above; the first was deleted
			t.Errorf("global subscriptions after refusals: %d, want 1", len(subs))
		}
		do(t, s, "GET", "/api/v1/repositories/nope/webhooks", admin, "", 404)
	})
}
