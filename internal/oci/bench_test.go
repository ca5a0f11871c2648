package oci_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// BenchmarkManifest puts then gets small manifests through the whole
// handler (SQLite, in process, no network), for CPU profiles:
// go test ./internal/oci -run XXX -bench Manifest -cpuprofile cpu.out
func BenchmarkManifest(b *testing.B) {
	s := apptest.Start(b, "", nil)
	h := s.App.Handler()
	cfg, layer := []byte(`{}`), []byte("layer bytes")
	cd, ld := pushBlobB(b, s, "library/bench", cfg), pushBlobB(b, s, "library/bench", layer)
	do := func(method, path string, body []byte) *httptest.ResponseRecorder {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req := httptest.NewRequest(method, path, rd)
		req.SetBasicAuth("admin", apptest.AdminPassword)
		req.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		return w
	}
	put := func(i int) *httptest.ResponseRecorder {
		m := imageManifest(cd, ld, len(cfg), len(layer))
		m = append(m[:len(m)-1], []byte(fmt.Sprintf(`,"annotations":{"i":"%d"}}`, i))...)
		return do("PUT", fmt.Sprintf("/v2/library/bench/manifests/t%d", i%1000), m)
	}
	for i := range 10 {
		put(i)
	}
	b.Run("put", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if w := put(i); w.Code != http.StatusCreated {
				b.Fatalf("PUT = %d %s", w.Code, w.Body)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if w := do("GET", fmt.Sprintf("/v2/library/bench/manifests/t%d", i%10), nil); w.Code != http.StatusOK {
				b.Fatalf("GET = %d %s", w.Code, w.Body)
			}
		}
	})
}

func pushBlobB(b *testing.B, s *apptest.Server, name string, data []byte) string {
	d := sha(data)
	resp, body := s.Do(b, "POST", "/v2/"+name+"/blobs/uploads/?digest="+d, admin, bytes.NewReader(data), "Content-Type", "application/octet-stream")
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("monolithic push = %d %s", resp.StatusCode, body)
	}
	return d
}
