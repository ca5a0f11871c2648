package usage_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/usage"
)

// TestDownloadsBounded holds at most max keys between writes, writes
// them in one batch, and keeps the latest time of a key.
func TestDownloadsBounded(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		rp, err := s.Repos.Get(ctx, "files")
		if err != nil {
			t.Fatal(err)
		}
		d := usage.NewDownloads(s.DB, s.Log, 2)
		d.Touch(rp.ID, "a")
		d.Touch(rp.ID, "b")
		d.Touch(rp.ID, "c") // full: dropped
		d.Touch(rp.ID, "a") // known: updated
		d.Touch(999999, "ghost")
		d.Touch(rp.ID, strings.Repeat("x", 2000)) // too long: ignored
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			var n int
			s.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM cleanup_downloads WHERE repository_id = $1`, rp.ID).Scan(&n)
			return n
		}
		if n := count(); n != 2 {
			t.Fatalf("%d rows after the first flush, want 2 (a, b)", n)
		}
		var first int64
		s.DB.QueryRowContext(ctx, `SELECT last_download_at FROM cleanup_downloads WHERE item = 'a'`).Scan(&first)
		time.Sleep(3 * time.Millisecond)
		d.Touch(rp.ID, "c")
		d.Touch(rp.ID, "a")
		d.Touch(999999, "ghost") // a repository that does not exist is skipped
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		var later int64
		s.DB.QueryRowContext(ctx, `SELECT last_download_at FROM cleanup_downloads WHERE item = 'a'`).Scan(&later)
		if n := count(); n != 3 || later <= first {
			t.Fatalf("%d rows, a at %d then %d", n, first, later)
		}
		var nilTracker *usage.Downloads
		nilTracker.Touch(rp.ID, "x") // a nil tracker ignores touches
	})
}

// TestUsageMetricsAndHistory samples storage and exports the latest
// sample as arca_storage_usage_bytes.
func TestUsageMetricsAndHistory(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		do(t, s, "PUT", "/raw/files/a", admin, "twelve bytes", 201)
		if _, err := s.Usage.Sample(ctx, time.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Usage.Sample(ctx, time.Now()); err != nil { // the same day again replaces it
			t.Fatal(err)
		}
		metrics := do(t, s, "GET", "/metrics", "", "", 200)
		if !strings.Contains(metrics, `arca_storage_usage_bytes{name="files",scope="repository",share="unique"} 12`) {
			t.Errorf("no usage gauge of files in /metrics")
		}
		hist := do(t, s, "GET", "/api/v1/usage/history?scope=repository&name=files", admin, "", 200)
		if strings.Count(hist, `"day"`) != 1 || !strings.Contains(hist, `"bytes": 12`) && !strings.Contains(hist, `"bytes":12`) {
			t.Errorf("history = %s", hist)
		}
	})
}
