package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/webhook"
)

// received is one verified delivery at the test receiver.
type received struct {
	path  string // which subscription: the URL's path
	ce    webhook.CloudEvent
	text  string // a Slack payload's text
	at    time.Time
	ident string // X-Arca-Delivery
}

// receiver is a webhook receiver as a user would write one: it verifies
// each delivery's signature with its subscription's secret (by URL path)
// and refuses bad ones; the test fails on any.
type receiver struct {
	t    testing.TB
	srv  *httptest.Server
	addr string

	mu      sync.Mutex
	secrets map[string][]byte
	status  int
	got     []received
	notify  chan struct{}
}

func newReceiver(t testing.TB) *receiver {
	rc := &receiver{t: t, secrets: map[string][]byte{}, status: 200, notify: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	rc.addr = rc.srv.Listener.Addr().String()
	t.Cleanup(func() { rc.srv.Close() })
	return rc
}

func (rc *receiver) url(path string) string { return "http://" + rc.addr + path }

func (rc *receiver) setSecret(path, secret string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.secrets[path] = []byte(secret)
}

func (rc *receiver) answer(status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.status = status
}

// stop closes the receiver: deliveries find nothing listening.
func (rc *receiver) stop() { rc.srv.Close() }

// restart listens again on the same address.
func (rc *receiver) restart() {
	l, err := net.Listen("tcp", rc.addr)
	if err != nil {
		rc.t.Fatalf("listening again on %s: %v", rc.addr, err)
	}
	rc.srv = &httptest.Server{Listener: l, Config: &http.Server{Handler: http.HandlerFunc(rc.serve)}}
	rc.srv.Start()
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: reading body: %v", err)
		return
	}
	rc.mu.Lock()
	secret, status := rc.secrets[r.URL.Path], rc.status
	rc.mu.Unlock()
	if err := webhook.Verify(secret, r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rc.t.Errorf("receiver %s: %v (header %q)", r.URL.Path, err, r.Header.Get(webhook.SignatureHeader))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if status != 200 {
		http.Error(w, "receiver is down for maintenance", status)
		return
	}
	got := received{path: r.URL.Path, at: time.Now(), ident: r.Header.Get(webhook.DeliveryHeader)}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/cloudevents+json") {
		if err := json.Unmarshal(body, &got.ce); err != nil {
			rc.t.Errorf("receiver: not a CloudEvent: %v: %s", err, body)
		}
		if got.ce.SpecVersion != "1.0" || got.ce.ID == "" || got.ce.Source == "" || got.ce.Type == "" || r.Header.Get(webhook.EventHeader) != got.ce.Type {
			rc.t.Errorf("receiver: CloudEvent lacks a required attribute: %s", body)
		}
	} else {
		var slack struct{ Text string }
		if err := json.Unmarshal(body, &slack); err != nil || slack.Text == "" {
			rc.t.Errorf("receiver: not a Slack payload: %s", body)
		}
		got.text = slack.Text
	}
	rc.mu.Lock()
	rc.got = append(rc.got, got)
	rc.mu.Unlock()
	select {
	case rc.notify <- struct{}{}:
	default:
	}
	w.Write([]byte("thanks"))
}

// all returns what arrived so far.
func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// wait returns the first delivery to path that ok accepts, failing the
// test after a while.
func (rc *receiver) wait(path string, ok func(received) bool, what string) received {
	rc.t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		for _, g := range rc.all() {
			if g.path == path && ok(g) {
				return g
			}
		}
		select {
		case <-rc.notify:
		case <-time.After(200 * time.Millisecond):
		case <-deadline:
			rc.t.Fatalf("no delivery of %s to %s; got %s", what, path, rc.summary())
		}
	}
}

func (rc *receiver) waitType(path, typ, subject string) received {
	rc.t.Helper()
	return rc.wait(path, func(g received) bool {
		return g.ce.Type == typ && (subject == "" || strings.Contains(g.ce.Subject, subject))
	}, typ+" "+subject)
}

func (rc *receiver) summary() string {
	var b strings.Builder
	for _, g := range rc.all() {
		fmt.Fprintf(&b, "\n  %s %s %s %s", g.path, g.ce.Type, g.ce.Subject, g.text)
	}
	return b.String()
}

// startJobs runs the server's job workers for the test.
func startJobs(t *testing.T, s *apptest.Server) {
	t.Helper()
	if err := s.Jobs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.Jobs.Stop(ctx)
	})
}

// do sends a request and checks its status.
func do(t testing.TB, s *apptest.Server, method, path, who, body string, want int, headers ...string) string {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	resp, b := s.Do(t, method, path, who, r, headers...)
	if resp.StatusCode != want {
		t.Fatalf("%s %s as %q = %d %s, want %d", method, path, who, resp.StatusCode, b, want)
	}
	return b
}

// subscribe creates a subscription at base (/api/v1/webhooks or a
// repository's) delivering to the receiver's path, and returns it with
// its secret.
func subscribe(t testing.TB, s *apptest.Server, rc *receiver, base, who, path, extra string) webhook.Subscription {
	t.Helper()
	body := `{"url":"` + rc.url(path) + `"` + extra + `}`
	var sub webhook.Subscription
	if err := json.Unmarshal([]byte(do(t, s, "POST", base, who, body, 201, "Content-Type", "application/json")), &sub); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.Secret, "whsec_") && !strings.Contains(extra, `"secret"`) {
		t.Fatalf("created subscription without its secret: %+v", sub)
	}
	rc.setSecret(path, sub.Secret)
	return sub
}

func decodeJSON(t testing.TB, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}
