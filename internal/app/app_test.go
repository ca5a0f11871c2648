package app_test

import (
	"context"
	"io"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// TestConcurrentFirstStart starts several arca processes at once on one
// empty PostgreSQL database (as a Deployment with several replicas does):
// every one migrates, bootstraps and serves; exactly one creates the admin's
// password and S3 key.
func TestConcurrentFirstStart(t *testing.T) {
	url := metatest.PostgresURL(t)
	dataDir := t.TempDir() // shared, like a shared blob volume
	const n = 6
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		passwords int
		keys      int
		apps      []*app.App
	)
	errc := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := config.Default()
			cfg.DataDir = dataDir
			cfg.DatabaseURL = url
			a, err := app.Open(context.Background(), cfg, app.NewLogger(cfg.Log, io.Discard))
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			apps = append(apps, a)
			mu.Unlock()
			pw, err := a.Bootstrap(context.Background())
			if err != nil {
				errc <- err
				return
			}
			id, _, err := a.BootstrapS3(context.Background())
			if err != nil {
				errc <- err
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if pw != "" {
				passwords++
			}
			if id != "" {
				keys++
			}
		}()
	}
	wg.Wait()
	close(errc)
	t.Cleanup(func() {
		for _, a := range apps {
			a.Close()
		}
	})
	for err := range errc {
		t.Errorf("concurrent first start: %v", err)
	}
	if t.Failed() {
		return
	}
	if passwords != 1 || keys != 1 {
		t.Errorf("%d processes generated an admin password and %d an S3 key, want 1 each", passwords, keys)
	}
	ks, err := apps[0].Auth.ListAccessKeys(context.Background(), "admin")
	if err != nil || len(ks) != 1 {
		t.Errorf("admin has %d S3 keys (%v), want 1", len(ks), err)
	}
}
