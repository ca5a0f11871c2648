package httpx

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arcaproject/arca/internal/errs"
)

// TestSurfaceRecoversPanic: a panicking handler is answered in its
// surface's own error format (not Instrument's JSON), and the panic is
// logged once, with its stack.
func TestSurfaceRecoversPanic(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := Surface{Name: "xml", Log: log, WriteError: func(w http.ResponseWriter, r *http.Request, err error) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(Status(err))
		io.WriteString(w, "<Error><Code>"+errs.KindOf(err).String()+"</Code></Error>")
	}}
	h := Instrument(s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		var a []int
		_ = a[len(a)-1] // index out of range [-1]
		return nil
	}), log, NewMetrics(prometheus.NewRegistry()))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || resp.Header.Get("Content-Type") != "application/xml" || !strings.HasPrefix(string(body), "<Error>") {
		t.Fatalf("answer %d %s %q, want the surface's 500 XML", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if n := strings.Count(logs.String(), "msg=panic"); n != 1 {
		t.Fatalf("panic logged %d times:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "recover_test.go") || !strings.Contains(logs.String(), "index out of range") {
		t.Fatalf("panic log lacks the stack or value:\n%s", logs.String())
	}
}

// TestSurfacePanicAfterHeaders: once the response has begun, a panic
// aborts the connection instead of appending an error document.
func TestSurfacePanicAfterHeaders(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	s := Surface{Name: "json", Log: log, WriteError: WriteJSONError}
	h := Instrument(s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		w.Header().Set("Content-Length", "100")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "partial")
		panic("boom")
	}), log, NewMetrics(prometheus.NewRegistry()))
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/x")
	if err != nil {
		return // aborted before the client saw headers: fine
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil {
		t.Fatalf("read a whole body %q after a panic, want a broken connection", body)
	}
	if strings.Contains(string(body), "error") {
		t.Fatalf("error document appended to a begun response: %q", body)
	}
}
