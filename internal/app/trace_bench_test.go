package app_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// BenchmarkRequestPath measures the request path of an OCI manifest GET and
// a small blob GET (4 KiB), in process, with tracing off (the default: no
// tracing wrapper is installed) and on (every request sampled, spans
// batched to an OTLP/HTTP receiver that discards them), on SQLite.
//
//	go test ./internal/app -run '^$' -bench RequestPath -benchtime 3s -count 5
func BenchmarkRequestPath(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run("tracing="+mode, func(b *testing.B) {
			if mode == "on" {
				sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
				}))
				b.Cleanup(sink.Close)
				b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", sink.URL)
				b.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
				b.Setenv("OTEL_TRACES_SAMPLER", "always_on")
			} else {
				b.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
				b.Setenv("OTEL_TRACES_EXPORTER", "")
			}
			s := apptest.Start(b, "", nil)
			if s.Tracing.Enabled() != (mode == "on") {
				b.Fatalf("tracing enabled = %v in mode %s", s.Tracing.Enabled(), mode)
			}
			layer := bytes.Repeat([]byte("arca"), 1024)
			config := []byte(`{"architecture":"amd64","os":"linux"}`)
			push := func(body []byte) string {
				d := "sha256:" + hexSum(body)
				resp, out := s.Do(b, "POST", "/v2/library/bench/blobs/uploads/?digest="+d, apptest.Admin, bytes.NewReader(body))
				if resp.StatusCode != 201 {
					b.Fatalf("blob upload = %d %s", resp.StatusCode, out)
				}
				return d
			}
			ld, cd := push(layer), push(config)
			manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
				`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
				`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, cd, len(config), ld, len(layer))
			if resp, out := s.Do(b, "PUT", "/v2/library/bench/manifests/v1", apptest.Admin, bytes.NewReader([]byte(manifest)),
				"Content-Type", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != 201 {
				b.Fatalf("manifest push = %d %s", resp.StatusCode, out)
			}
			h := s.Handler()
			for _, c := range []struct{ name, path, accept string }{
				{"manifest", "/v2/library/bench/manifests/v1", "application/vnd.oci.image.manifest.v1+json"},
				{"blob-4KiB", "/v2/library/bench/blobs/" + ld, ""},
			} {
				b.Run(c.name, func(b *testing.B) {
					req := httptest.NewRequest("GET", c.path, nil)
					req.SetBasicAuth("admin", apptest.AdminPassword)
					if c.accept != "" {
						req.Header.Set("Accept", c.accept)
					}
					req.RemoteAddr = "127.0.0.1:40000"
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						w := httptest.NewRecorder()
						h.ServeHTTP(w, req)
						if w.Code != 200 {
							b.Fatalf("GET %s = %d %s", c.path, w.Code, w.Body)
						}
					}
				})
			}
		})
	}
}

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
