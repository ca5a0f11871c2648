package mlflow_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/mlflow"
)

// admin is the admin's Basic credentials in apptest servers.
var admin = "admin:" + apptest.AdminPassword

func TestServerEndpoints(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		resp, body := s.Do(t, "GET", "/mlflow/version", "", nil)
		if resp.StatusCode != 200 || body != mlflow.CompatibleVersion {
			t.Fatalf("version: %d %q", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/mlflow/health", "", nil)
		if resp.StatusCode != 200 || body != "OK" {
			t.Fatalf("health: %d %q", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/mlflow/api/2.0/mlflow/no-such-thing", admin, nil)
		var e struct{ ErrorCode, Message string }
		json.Unmarshal([]byte(body), &struct {
			ErrorCode *string `json:"error_code"`
			Message   *string `json:"message"`
		}{&e.ErrorCode, &e.Message})
		if resp.StatusCode != http.StatusNotFound || e.ErrorCode != "ENDPOINT_NOT_FOUND" || !strings.Contains(e.Message, "no-such-thing") {
			t.Fatalf("unknown endpoint: %d %s", resp.StatusCode, body)
		}
	})
}
