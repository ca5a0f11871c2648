package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestWebhookClients: the real clients (crane, twine, npm) push to the
// built binary, and a receiver verifying signatures as docs/webhooks.md
// shows gets a CloudEvent for each.
func TestWebhookClients(t *testing.T) {
	tools := needOCITools(t, "crane")
	venv := os.Getenv("ARCA_TEST_VENV")
	if venv == "" {
		missing(t, "ARCA_TEST_VENV (a Python virtualenv with twine) is not set")
	}
	twine := filepath.Join(venv, "bin", "twine")
	npm := newNPMClient(t)
	s := StartServer(t, ServerOptions{})

	const secret = "e2e-webhook-secret-0123456789"
	type event struct {
		Type    string `json:"type"`
		Subject string `json:"subject"`
		Data    struct {
			Repository string `json:"repository"`
			Actor      string `json:"actor"`
		} `json:"data"`
	}
	var mu sync.Mutex
	var got []event
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !verifySignature([]byte(secret), r.Header.Get("X-Arca-Signature"), body, 5*time.Minute) {
			t.Errorf("bad signature %q on %s", r.Header.Get("X-Arca-Signature"), body)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var e event
		if err := json.Unmarshal(body, &e); err != nil {
			t.Errorf("not JSON: %s", body)
		}
		mu.Lock()
		got = append(got, e)
		mu.Unlock()
	}))
	defer rcv.Close()
	npmAPI(t, s, "POST", "/api/v1/webhooks", `{"url":"`+rcv.URL+`/hook","secret":"`+secret+`"}`, 201)
	wait := func(typ, subject string) event {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			mu.Lock()
			for _, e := range got {
				if e.Type == typ && strings.Contains(e.Subject, subject) {
					mu.Unlock()
					return e
				}
			}
			n := len(got)
			mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("no %s of %s among %d events", typ, subject, n)
			}
		}
	}

	// crane
	oc := newOCIClient(t, s, tools)
	oc.loginAdmin(s)
	layer := filepath.Join(oc.dir, "hook.tar")
	writeLayerTar(t, layer, map[string][]byte{"hook.txt": randomBytes(1024)})
	oc.crane("append", "--oci-empty-base", "-f", layer, "-t", oc.ref("library/hooked:1"))
	d := oc.digest(oc.ref("library/hooked:1"))
	if e := wait("io.arca.oci.manifest.pushed", "hooked@"+d); e.Data.Repository != "library" || e.Data.Actor != "admin" {
		t.Errorf("crane push event = %+v", e)
	}

	// twine
	whl := filepath.Join(t.TempDir(), "hooked-1.0-py3-none-any.whl")
	writeWheel(t, whl, "hooked", "1.0")
	runCmd(t, pypiTimeout, t.TempDir(), pypiEnv(t.TempDir()), twine, "upload", "--non-interactive", "--disable-progress-bar",
		"--repository-url", s.URL+"/pypi/pypi-hosted/", "-u", "admin", "-p", adminPassword, whl)
	wait("io.arca.pypi.file.uploaded", "hooked/hooked-1.0-py3-none-any.whl")

	// npm
	var tok struct {
		Token string `json:"token"`
	}
	json.Unmarshal(npmAPI(t, s, "POST", "/api/v1/users/admin/tokens", `{"name":"npm-webhook-e2e"}`, 201), &tok)
	registry := s.URL + "/npm/npm-hosted/"
	npm.setToken(registry, tok.Token)
	npm.run(npmPackage(t, "e2e-hooked", "1.0.0", nil, "module.exports = 1;\n"), "publish", "--registry", registry)
	wait("io.arca.npm.version.published", "e2e-hooked@1.0.0")
	npm.run(npm.home, "dist-tag", "add", "e2e-hooked@1.0.0", "stable", "--registry", registry)
	wait("io.arca.npm.dist_tags.changed", "e2e-hooked")
}

// verifySignature is the Go recipe of docs/webhooks.md.
func verifySignature(secret []byte, header string, body []byte, tolerance time.Duration) bool {
	var ts int64
	var sig []byte
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts, _ = strconv.ParseInt(v, 10, 64)
		case "v1":
			sig, _ = hex.DecodeString(v)
		}
	}
	if d := time.Since(time.Unix(ts, 0)); d > tolerance || d < -tolerance {
		return false
	}
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%d.", ts)
	m.Write(body)
	return hmac.Equal(m.Sum(nil), sig)
}
