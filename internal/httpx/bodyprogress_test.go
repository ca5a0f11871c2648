package httpx_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// TestBodyProgress: a body that keeps delivering is read whole however long
// it takes; once read, a slow response is not cut short by the deadline;
// a body that stalls fails with RequestTimeout.
func TestBodyProgress(t *testing.T) {
	type result struct {
		n   int64
		err error
		ctx error
	}
	results := make(chan result, 1)
	srv := httptest.NewServer(httpx.BodyProgress(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err == nil && r.URL.Query().Has("slow-answer") {
			time.Sleep(1500 * time.Millisecond) // longer than the interval, after the body
		}
		results <- result{n, err, r.Context().Err()}
		w.Write([]byte("ok"))
	}), 500*time.Millisecond, 1024))
	defer srv.Close()

	// 10 KiB in 1 KiB pieces every 200 ms: slow, but progressing.
	pr, pw := io.Pipe()
	go func() {
		for range 10 {
			pw.Write(bytes.Repeat([]byte("x"), 1024))
			time.Sleep(200 * time.Millisecond)
		}
		pw.Close()
	}()
	resp, err := http.Post(srv.URL+"/?slow-answer", "application/octet-stream", pr)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if got := <-results; got.n != 10240 || got.err != nil || got.ctx != nil || string(body) != "ok" {
		t.Fatalf("progressing body: read %d, %v, context %v, answer %q", got.n, got.err, got.ctx, body)
	}

	// 2 KiB, then nothing.
	pr, pw = io.Pipe()
	go func() {
		pw.Write(make([]byte, 2048))
		time.Sleep(3 * time.Second)
		pw.Close()
	}()
	start := time.Now()
	go http.Post(srv.URL, "application/octet-stream", pr)
	got := <-results
	if got.err == nil || errs.CodeOf(got.err) != "RequestTimeout" || errs.KindOf(got.err) != errs.Invalid {
		t.Fatalf("stalled body: read %d, %v; want a RequestTimeout error", got.n, got.err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("stalled body failed only after %s", d)
	}
}
