package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestWebhookPages: a global admin adds a global webhook and sees its
// secret once; a repository's admin manages that repository's webhooks
// and not the global ones; a developer manages none; a failed delivery
// is sent again by the Redeliver button.
func TestWebhookPages(t *testing.T) {
	eachServer(t, nil, func(t *testing.T, s *apptest.Server) {
		var hits atomic.Int32
		var down atomic.Bool
		down.Store(true)
		rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if down.Load() {
				http.Error(w, "gone", http.StatusGone) // not retried
				return
			}
			hits.Add(1)
		}))
		t.Cleanup(rcv.Close)
		for u, role := range map[string]string{"owner": "admin", "dev": "developer"} {
			if resp, body := s.Do(t, "POST", "/api/v1/users", apptest.Admin, strings.NewReader(`{"name":"`+u+`","password":"`+u+`-password-1"}`)); resp.StatusCode != 201 {
				t.Fatalf("create %s: %d %s", u, resp.StatusCode, body)
			}
			if resp, body := s.Do(t, "PUT", "/api/v1/repositories/files/roles/"+u, apptest.Admin, strings.NewReader(`{"role":"`+role+`"}`)); resp.StatusCode != 200 {
				t.Fatalf("grant %s: %d %s", u, resp.StatusCode, body)
			}
		}

		admin := newBrowser(t, s)
		admin.login("admin", apptest.AdminPassword)
		if page := admin.get("/ui/admin", 200); !strings.Contains(page, `href="/ui/admin/webhooks"`) {
			t.Error("administration page does not link the webhooks")
		}
		admin.get("/ui/admin/webhooks", 200)
		page := admin.postStatus("/ui/webhooks", url.Values{"url": {rcv.URL + "/global"}, "events": {"io.arca.raw.*"}, "payload_format": {"cloudevents"}}, 201)
		if !regexp.MustCompile(`whsec_[A-Za-z0-9_-]{40,}`).MatchString(page) || !strings.Contains(page, rcv.URL+"/global") {
			t.Fatalf("created page lacks the secret or the URL:\n%s", page)
		}
		if page := admin.get("/ui/admin/webhooks", 200); strings.Contains(page, "whsec_") {
			t.Error("the secret is shown again")
		}
		admin.postStatus("/ui/webhooks", url.Values{"url": {"ftp://nowhere"}}, 400)

		owner := newBrowser(t, s)
		owner.login("owner", "owner-password-1")
		if page := owner.get("/ui/repositories/files", 200); !strings.Contains(page, `/ui/repositories/files/webhooks`) {
			t.Error("the repository page does not link its webhooks for its admin")
		}
		owner.get("/ui/repositories/files/webhooks", 200)
		owner.postStatus("/ui/webhooks", url.Values{"repository": {"files"}, "url": {rcv.URL + "/files"}, "payload_format": {"slack"}}, 201)
		owner.get("/ui/admin/webhooks", 403)
		owner.get("/ui/repositories/library/webhooks", 403)
		owner.postStatus("/ui/webhooks", url.Values{"url": {rcv.URL + "/x"}}, 403) // a global one

		dev := newBrowser(t, s)
		dev.login("dev", "dev-password-1")
		if page := dev.get("/ui/repositories/files", 200); strings.Contains(page, `/ui/repositories/files/webhooks`) {
			t.Error("a developer is shown the webhooks link")
		}
		dev.get("/ui/repositories/files/webhooks", 403)
		dev.postStatus("/ui/webhooks", url.Values{"repository": {"files"}, "url": {rcv.URL + "/d"}}, 403)
		newBrowser(t, s).redirectsToLogin("/ui/repositories/files/webhooks")

		// A delivery fails (410), shows in the log, and is redelivered by
		// its button once the receiver is back.
		if err := s.Jobs.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			s.Jobs.Stop(ctx)
		})
		if resp, _ := s.Do(t, "PUT", "/raw/files/ui-hook.txt", apptest.Admin, strings.NewReader("x")); resp.StatusCode != 201 {
			t.Fatal("upload failed")
		}
		redeliver := regexp.MustCompile(`action="/ui/webhooks/(\d+)/redeliver">.*?name="delivery" value="(\d+)"`)
		var m []string
		for deadline := time.Now().Add(30 * time.Second); ; {
			page := owner.get("/ui/repositories/files/webhooks", 200)
			if strings.Contains(page, "failed") && strings.Contains(page, "io.arca.raw.file.uploaded") {
				m = redeliver.FindStringSubmatch(page)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no failed delivery on the page:\n%s", page)
			}
			time.Sleep(200 * time.Millisecond)
		}
		if m == nil {
			t.Fatal("no redeliver button")
		}
		down.Store(false)
		resp, _ := owner.post("/ui/webhooks/"+m[1]+"/redeliver", url.Values{"repository": {"files"}, "delivery": {m[2]}})
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("redeliver = %d", resp.StatusCode)
		}
		for deadline := time.Now().Add(30 * time.Second); hits.Load() == 0; {
			if time.Now().After(deadline) {
				t.Fatal("the redelivery did not arrive")
			}
			time.Sleep(100 * time.Millisecond)
		}
		if page := owner.get("/ui/repositories/files/webhooks", 200); !strings.Contains(page, "again of "+m[2]) || !strings.Contains(page, "delivered") {
			t.Errorf("the log does not show the redelivery")
		}
	})
}
