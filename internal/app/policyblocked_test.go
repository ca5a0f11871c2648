package app_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/repo"
)

// A download refused by the vulnerability policy reaches webhooks as
// io.arca.policy.blocked — once a minute per repository and content, not
// once per refusal: refusals of a public repository are reachable without
// credentials, and a client retrying in a loop must not queue a delivery
// per request.
func TestPolicyBlockedReachesWebhooksBounded(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		resp, body := s.Do(t, "POST", "/api/v1/webhooks", "admin:"+apptest.AdminPassword,
			strings.NewReader(`{"url":"http://127.0.0.1:9/hook","events":["io.arca.policy.blocked"]}`),
			"Content-Type", "application/json")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("creating the subscription: %d %s", resp.StatusCode, body)
		}
		r, err := s.Repos.Get(ctx, "library")
		if err != nil {
			t.Fatal(err)
		}
		gate := s.App.DownloadGateForTest()
		for range 5 {
			gate.OnBlock(ctx, r, repo.Download{Format: "oci", Name: "app", Digest: "sha256:" + strings.Repeat("a", 64)},
				map[string]any{"advisory": "GHSA-x84v-xcm2-53pg"})
		}
		gate.OnBlock(ctx, r, repo.Download{Format: "oci", Name: "app", Digest: "sha256:" + strings.Repeat("b", 64)}, nil)
		var n int
		var subjects string
		if err := s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_deliveries WHERE event_type = 'io.arca.policy.blocked'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := s.DB.QueryRowContext(ctx, `SELECT payload FROM webhook_deliveries ORDER BY id LIMIT 1`).Scan(&subjects); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Errorf("six refusals of two digests queued %d deliveries, want 2 (one per digest per minute)", n)
		}
		if !strings.Contains(subjects, "GHSA-x84v-xcm2-53pg") || !strings.Contains(subjects, "app@sha256:aaaa") {
			t.Errorf("the delivery's payload does not name the advisory and the artifact: %s", subjects)
		}
	})
}
