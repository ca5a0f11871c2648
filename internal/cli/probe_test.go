package cli

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestProbe(t *testing.T) {
	var ready atomic.Bool
	ready.Store(true)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer ts.Close()
	r := run{dir: t.TempDir(), t: t}
	if code, out, errOut := r.arca("", "probe", "--url", ts.URL+"/readyz"); code != 0 {
		t.Fatalf("probe of a ready server = %d %s%s", code, out, errOut)
	}
	ready.Store(false)
	if code, _, errOut := r.arca("", "probe", "--url", ts.URL+"/readyz"); code != 1 || !strings.Contains(errOut, "503") {
		t.Fatalf("probe of an unready server = %d %q, want 1 naming the 503", code, errOut)
	}
	// The configured address, on the loopback: nothing listens there.
	if code, _, _ := r.arca("", "probe", "--addr", "127.0.0.1:1"); code != 1 {
		t.Fatalf("probe of a closed port = %d, want 1", code)
	}
}
