package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
)

// TestMetricsAuth (issue 22 item 12): /metrics answers anyone by default,
// and only authenticated users, or only administrators, when metrics.auth
// says so; the probes never need credentials.
func TestMetricsAuth(t *testing.T) {
	for _, c := range []struct {
		mode            string
		anon, user, adm int
	}{
		{"none", 200, 200, 200},
		{"user", 401, 200, 200},
		{"admin", 401, 403, 200},
	} {
		t.Run(c.mode, func(t *testing.T) {
			s := apptest.Start(t, "", func(cfg *config.Config) { cfg.Metrics.Auth = c.mode })
			if _, err := s.Auth.CreateUser(t.Context(), "gina", "gina-password", "", ""); err != nil {
				t.Fatal(err)
			}
			for who, want := range map[string]int{"": c.anon, "gina:gina-password": c.user, admin: c.adm} {
				resp, body := s.Do(t, "GET", "/metrics", who, nil)
				if resp.StatusCode != want {
					t.Errorf("metrics.auth %s, %q: %d, want %d", c.mode, who, resp.StatusCode, want)
				}
				if want == 200 && !strings.Contains(body, "go_goroutines") {
					t.Errorf("metrics.auth %s, %q: body lacks metrics", c.mode, who)
				}
				if want == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("metrics.auth %s: 401 without a challenge", c.mode)
				}
			}
			for _, probe := range []string{"/healthz", "/readyz"} {
				if resp, _ := s.Do(t, "GET", probe, "", nil); resp.StatusCode != 200 {
					t.Errorf("%s with metrics.auth %s = %d", probe, c.mode, resp.StatusCode)
				}
			}
		})
	}
	if err := (&config.Config{}).Validate(); err == nil || !strings.Contains(fmt.Sprint(err), "metrics.auth") {
		t.Errorf("an empty metrics.auth validates: %v", err)
	}
}

// TestLoginLockoutPerClientOverHTTP (issue 11): behind a trusted proxy,
// an attacker who locks a name out locks only its own address; a client
// that is not a trusted proxy cannot pick its address with
// X-Forwarded-For; and unknown names answer as known ones do.
func TestLoginLockoutPerClientOverHTTP(t *testing.T) {
	// A first lock of a minute, not the default second: on a loaded
	// machine six password checks can outlast one second, and the sixth
	// request would find the lock already lifted.
	longLock := func(c *config.Config) { c.Auth.LoginLockout = config.Duration(time.Minute) }
	apptest.EachWith(t, longLock, func(t *testing.T, s *apptest.Server) {
		if _, err := s.Auth.CreateUser(t.Context(), "hank", "hank-password", "", ""); err != nil {
			t.Fatal(err)
		}
		statuses := func(name, xff string) string {
			var out []string
			for i := range 6 {
				resp, _ := s.Do(t, "GET", "/api/v1/whoami", fmt.Sprintf("%s:guess-%d", name, i), nil, "X-Forwarded-For", xff)
				out = append(out, fmt.Sprint(resp.StatusCode))
			}
			return strings.Join(out, ",")
		}
		// The test server trusts no proxy: X-Forwarded-For is ignored, so
		// every request is 127.0.0.1, whatever it claims.
		known, unknown := statuses("hank", "203.0.113.1"), statuses("nobody", "203.0.113.2")
		if want := "401,401,401,401,401,429"; known != want || unknown != want {
			t.Fatalf("known name %s, unknown name %s; want %s for both", known, unknown, want)
		}
		if resp, _ := s.Do(t, "GET", "/api/v1/whoami", "hank:hank-password", nil, "X-Forwarded-For", "198.51.100.9"); resp.StatusCode != 429 {
			t.Fatalf("an untrusted X-Forwarded-For escaped the lock: %d", resp.StatusCode)
		}
	})
	s := apptest.Start(t, "", func(c *config.Config) {
		longLock(c)
		c.Auth.TrustedProxies = []string{"127.0.0.0/8", "::1"}
	})
	if _, err := s.Auth.CreateUser(t.Context(), "hank", "hank-password", "", ""); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		s.Do(t, "GET", "/api/v1/whoami", fmt.Sprintf("hank:guess-%d", i), nil, "X-Forwarded-For", "203.0.113.1")
	}
	if resp, _ := s.Do(t, "GET", "/api/v1/whoami", "hank:hank-password", nil, "X-Forwarded-For", "203.0.113.1"); resp.StatusCode != 429 {
		t.Fatalf("the attacker's address is not locked: %d", resp.StatusCode)
	}
	if resp, body := s.Do(t, "GET", "/api/v1/whoami", "hank:hank-password", nil, "X-Forwarded-For", "198.51.100.9"); resp.StatusCode != 200 {
		t.Fatalf("hank from another address behind the proxy = %d %s", resp.StatusCode, body)
	}
}
