package cleanup_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/gc"
)

const admin = apptest.Admin

func do(t *testing.T, s *apptest.Server, method, path, who, body string, want int) string {
	t.Helper()
	resp, out := s.Do(t, method, path, who, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != want {
		t.Fatalf("%s %s as %q = %d %s, want %d", method, path, who, resp.StatusCode, out, want)
	}
	return out
}

// collect runs garbage collection with no grace window.
func collect(t *testing.T, s *apptest.Server) gc.Result {
	t.Helper()
	time.Sleep(5 * time.Millisecond) // past the last touch, to the millisecond
	c := &gc.Collector{DB: s.DB, Blobs: s.Blobs, Log: s.Log, Grace: 0, StagedMaxAge: time.Hour}
	res, err := c.Run(context.Background(), false, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

type preview struct {
	ItemCount  int   `json:"item_count"`
	ItemBytes  int64 `json:"item_bytes"`
	FreedBytes int64 `json:"freed_bytes"`
	FreedBlobs int   `json:"freed_blobs"`
	Items      []struct {
		Repository, Name, Version string
	} `json:"items"`
}

// TestPreviewMatchesGC is the acceptance test: a preview's byte
// count is exactly what the garbage collection after the run frees, and
// content another repository shares is not counted.
func TestPreviewMatchesGC(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"a","format":"raw"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"b","format":"raw"}`, 201)
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"wheels","format":"pypi"}`, 201)
		unique := strings.Repeat("u", 1000)
		unique2 := strings.Repeat("v", 333)
		shared := strings.Repeat("s", 5000)
		do(t, s, "PUT", "/raw/a/old/one.bin", admin, unique, 201)
		do(t, s, "PUT", "/raw/a/old/two.bin", admin, unique2, 201)
		do(t, s, "PUT", "/raw/a/old/three.bin", admin, unique2, 201) // the same bytes twice in one repository
		do(t, s, "PUT", "/raw/a/old/shared.bin", admin, shared, 201)
		do(t, s, "PUT", "/raw/a/keep/new.bin", admin, "keep me", 201)
		do(t, s, "PUT", "/raw/b/copy.bin", admin, shared, 201) // shared with b: must not count
		collect(t, s)                                          // nothing else is garbage from here on

		policy := `{"name":"old-files","format":"raw","repository":"a","criteria":{"name":"old/*","min_size_bytes":1}}`
		do(t, s, "POST", "/api/v1/cleanup/policies", admin, policy, 201)
		var pv preview
		if err := json.Unmarshal([]byte(do(t, s, "POST", "/api/v1/cleanup/policies/old-files/preview", admin, "", 200)), &pv); err != nil {
			t.Fatal(err)
		}
		if pv.ItemCount != 4 || pv.ItemBytes != int64(len(unique)+2*len(unique2)+len(shared)) {
			t.Fatalf("preview = %+v, want 4 items of %d bytes", pv, len(unique)+2*len(unique2)+len(shared))
		}
		if want := int64(len(unique) + len(unique2)); pv.FreedBytes != want || pv.FreedBlobs != 2 {
			t.Fatalf("preview frees %d bytes in %d blobs, want %d in 2 (shared content counted?)", pv.FreedBytes, pv.FreedBlobs, want)
		}
		// A preview deletes nothing.
		do(t, s, "GET", "/raw/a/old/one.bin", admin, "", 200)

		res, err := s.Cleanup.RunNamed(context.Background(), "old-files")
		if err != nil || res.Deleted != 4 || res.Failed != 0 {
			t.Fatalf("run = %+v, %v", res, err)
		}
		freed := collect(t, s)
		if freed.BytesFreed != pv.FreedBytes || freed.Deleted != pv.FreedBlobs {
			t.Fatalf("GC freed %d bytes in %d blobs; the preview said %d in %d", freed.BytesFreed, freed.Deleted, pv.FreedBytes, pv.FreedBlobs)
		}
		do(t, s, "GET", "/raw/a/old/one.bin", admin, "", 404)
		do(t, s, "GET", "/raw/a/keep/new.bin", admin, "", 200)
		if got := do(t, s, "GET", "/raw/b/copy.bin", admin, "", 200); got != shared {
			t.Fatal("shared content lost")
		}
		// The deletes went through the raw handler: audited as the policy.
		audit := do(t, s, "GET", "/api/v1/audit?action=raw.delete", admin, "", 200)
		if !strings.Contains(audit, "cleanup:old-files") {
			t.Fatalf("no raw.delete by the policy in the audit trail: %s", audit)
		}
	})
}

// TestKeepLastAndDownloads checks keep_last and not_downloaded_days.
func TestKeepLastAndDownloads(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"d","format":"raw"}`, 201)
		for _, f := range []string{"x/1", "x/2", "x/3"} {
			do(t, s, "PUT", "/raw/d/"+f, admin, f, 201)
			time.Sleep(3 * time.Millisecond)
		}
		// keep_last 1 per directory: x/3 stays.
		var pv preview
		json.Unmarshal([]byte(do(t, s, "POST", "/api/v1/cleanup/preview", admin,
			`{"format":"raw","repository":"d","criteria":{"keep_last":1}}`, 200)), &pv)
		if pv.ItemCount != 2 || pv.Items[0].Name != "x/2" || pv.Items[1].Name != "x/1" {
			t.Fatalf("keep_last preview = %+v", pv)
		}
		// A download is noted (in memory, written before a plan).
		do(t, s, "GET", "/raw/d/x/1", admin, "", 200)
		var at int64
		if err := s.DB.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM cleanup_downloads`).Scan(&at); err != nil || at != 0 {
			t.Fatalf("a download was written at once (%d rows, %v)", at, err)
		}
		do(t, s, "POST", "/api/v1/cleanup/preview", admin, `{"format":"raw","repository":"d","criteria":{"not_downloaded_days":1}}`, 200)
		if err := s.DB.QueryRowContext(context.Background(), `SELECT last_download_at FROM cleanup_downloads WHERE item = 'x/1'`).Scan(&at); err != nil || at == 0 {
			t.Fatalf("download of x/1 not recorded: %v", err)
		}
	})
}
