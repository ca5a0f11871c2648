package app_test

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/config"
)

// TestDownloadMissingBlob deletes a file's blob behind arca's back: every
// download path answers a whole error (500), not the file's headers with a
// truncated body, and not 404 (the file exists; its content is lost).
func TestDownloadMissingBlob(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) {
		for i := range c.Repositories {
			if c.Repositories[i].Name == "files" {
				c.Repositories[i].Visibility = "public"
			}
		}
	})
	content := strings.Repeat("lost content ", 1000)
	if resp, body := s.Do(t, "PUT", "/raw/files/dir/lost.txt", apptest.Admin, strings.NewReader(content)); resp.StatusCode/100 != 2 {
		t.Fatalf("PUT: %s %s", resp.Status, body)
	}
	sum := sha256.Sum256([]byte(content))
	if err := s.Blobs.Delete(context.Background(), blob.FromSum(sum[:])); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/raw/files/dir/lost.txt", "/ui/repositories/files/download?path=dir/lost.txt"} {
		for _, rng := range []string{"", "bytes=5-50"} {
			req, _ := http.NewRequest("GET", s.URL+path, nil)
			if rng != "" {
				req.Header.Set("Range", rng)
			}
			resp, body := doRead(t, req)
			if resp.StatusCode != http.StatusInternalServerError {
				t.Errorf("GET %s (range %q): %s, want 500", path, rng, resp.Status)
			}
			if cl := resp.Header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(body)) {
				t.Errorf("GET %s: Content-Length %s for a %d-byte error", path, cl, len(body))
			}
		}
	}
}

func doRead(t *testing.T, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return resp, b
}
