package app_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
)

func TestListenURL(t *testing.T) {
	for _, c := range []struct {
		addr, url string
		all       bool
	}{
		{"[::]:8080", "http://localhost:8080", true},
		{"0.0.0.0:9000", "http://localhost:9000", true},
		{":8080", "http://localhost:8080", true},
		{"127.0.0.1:8080", "http://127.0.0.1:8080", false},
		{"[::1]:8080", "http://[::1]:8080", false},
		{"192.0.2.7:80", "http://192.0.2.7:80", false},
	} {
		if got := app.ListenURL(c.addr); got != c.url {
			t.Errorf("ListenURL(%q) = %q, want %q", c.addr, got, c.url)
		}
		if got := app.AllInterfaces(c.addr); got != c.all {
			t.Errorf("AllInterfaces(%q) = %v, want %v", c.addr, got, c.all)
		}
	}
}

// TestAdminPasswordMismatchWarns: a data directory whose admin was created
// with one password, started again with ARCA_ADMIN_PASSWORD set to
// another, keeps the stored password and says so in the log.
func TestAdminPasswordMismatchWarns(t *testing.T) {
	dir := t.TempDir()
	start := func(pw string) string {
		t.Helper()
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.AdminPassword = pw
		var log bytes.Buffer
		a, err := app.Open(context.Background(), cfg, app.NewLogger(cfg.Log, &log))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		if _, err := a.Bootstrap(context.Background()); err != nil {
			t.Fatal(err)
		}
		ok, err := a.Auth.HasPassword(context.Background(), "admin", "first-password-1")
		if err != nil || !ok {
			t.Fatalf("the admin's password is not the first one any more (%v, %v)", ok, err)
		}
		return log.String()
	}
	const warning = "differs from the stored password of the user admin"
	if log := start("first-password-1"); strings.Contains(log, warning) {
		t.Fatalf("first start warned:\n%s", log)
	}
	if log := start("first-password-1"); strings.Contains(log, warning) {
		t.Fatalf("a start with the same password warned:\n%s", log)
	}
	if log := start(""); strings.Contains(log, warning) {
		t.Fatalf("a start without ARCA_ADMIN_PASSWORD warned:\n%s", log)
	}
	log := start("change-me-now")
	if !strings.Contains(log, warning) || !strings.Contains(log, "level=WARN") || !strings.Contains(log, "arca admin user passwd admin") {
		t.Fatalf("a start with another ARCA_ADMIN_PASSWORD did not warn naming `arca admin user passwd admin`:\n%s", log)
	}
}
