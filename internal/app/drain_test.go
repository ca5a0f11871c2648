package app_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
)

// TestShutdownFailsReadinessFirst: after the stop signal, /readyz answers
// 503 for http.drain_delay while requests are still served; then the
// listeners close.
func TestShutdownFailsReadinessFirst(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr, cfg.S3Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminPassword = "admin-test-password"
	cfg.HTTP.DrainDelay = config.Duration(2 * time.Second)
	a, err := app.Open(context.Background(), cfg, app.NewLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 2)
	done := make(chan error, 1)
	go func() {
		done <- a.Serve(ctx, func(surface, a string) {
			if surface == "http" {
				addr <- a
			}
		})
	}()
	base := "http://" + <-addr
	get := func(path string) (int, string, error) {
		resp, err := http.Get(base + path)
		if err != nil {
			return 0, "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), nil
	}
	if status, body, err := get("/readyz"); err != nil || status != 200 || !strings.Contains(body, `"serving": "ok"`) {
		t.Fatalf("readyz before shutdown = %d %q %v", status, body, err)
	}
	stopped := time.Now()
	cancel()
	time.Sleep(300 * time.Millisecond)
	if status, body, err := get("/readyz"); err != nil || status != 503 || !strings.Contains(body, `"serving": "failing"`) {
		t.Fatalf("readyz while draining = %d %q %v, want 503 naming serving", status, body, err)
	}
	if status, _, err := get("/healthz"); err != nil || status != 200 {
		t.Fatalf("healthz while draining = %d %v, want still served", status, err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(40 * time.Second):
		t.Fatal("Serve did not return")
	}
	if d := time.Since(stopped); d < 2*time.Second {
		t.Errorf("Serve returned %v after the stop signal, before the 2s drain delay", d)
	}
	if _, _, err := get("/healthz"); err == nil {
		t.Error("the listener still accepts after Serve returned")
	}
}
