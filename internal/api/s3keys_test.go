package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func TestS3Keys(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		resp, body := s.Do(t, "POST", "/api/v1/users/admin/s3keys", apptest.Admin, strings.NewReader(`{"description": "ci"}`))
		if resp.StatusCode != 201 {
			t.Fatalf("create: %s %s", resp.Status, body)
		}
		var created struct {
			ID     string `json:"access_key_id"`
			Secret string `json:"secret_access_key"`
		}
		json.Unmarshal([]byte(body), &created)
		if created.ID == "" || len(created.Secret) < 20 {
			t.Fatalf("create returned %s", body)
		}
		// Secrets are sealed at rest.
		var stored string
		if err := s.DB.QueryRow(`SELECT secret FROM access_keys WHERE access_key_id = $1`, created.ID).Scan(&stored); err != nil || strings.Contains(stored, created.Secret) {
			t.Fatalf("stored secret: %v", err)
		}
		resp, body = s.Do(t, "GET", "/api/v1/users/admin/s3keys", apptest.Admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, created.ID) || strings.Contains(body, created.Secret) {
			t.Fatalf("list: %s %s", resp.Status, body)
		}
		resp, body = s.Do(t, "POST", "/api/v1/users/admin/s3keys", apptest.Admin,
			strings.NewReader(`{"access_key_id": "`+created.ID+`"}`))
		if resp.StatusCode != 409 {
			t.Fatalf("duplicate key ID: %s %s", resp.Status, body)
		}
		if resp, body = s.Do(t, "GET", "/api/v1/users/admin/s3keys", "", nil); resp.StatusCode != 401 {
			t.Fatalf("anonymous list: %s %s", resp.Status, body)
		}
		if resp, body = s.Do(t, "DELETE", "/api/v1/users/admin/s3keys/"+created.ID, apptest.Admin, nil); resp.StatusCode != 204 {
			t.Fatalf("revoke: %s %s", resp.Status, body)
		}
		if resp, body = s.Do(t, "DELETE", "/api/v1/users/admin/s3keys/"+created.ID, apptest.Admin, nil); resp.StatusCode != 404 {
			t.Fatalf("second revoke: %s %s", resp.Status, body)
		}
	})
}
