package importer

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/inproc"
)

// Target is arca as the destination of the OCI, npm and Nexus sources:
// its main handler, called in process (internal/inproc) as an admin
// principal named import:<source> (the actor in the audit trail), so
// that imported content takes the same path as uploaded content.
type Target struct {
	// Handler is arca's main HTTP handler.
	Handler http.Handler
	// Fetch is the client sources are reached with (nil:
	// http.DefaultClient).
	Fetch *http.Client
}

// localURL is the base of in-process requests; the host never resolves.
var localURL = &url.URL{Scheme: "http", Host: "arca.local"}

// local returns a client of arca in process, acting as import:<source>,
// that counts the request bytes it sends into moved.
func (t Target) local(source string, moved *atomic.Int64) *http.Client {
	as := auth.Principal{UserID: -1, Name: "import:" + source, Kind: auth.KindRobot, Role: auth.Admin}
	var rt http.RoundTripper = inproc.Transport{Handler: t.Handler, As: as}
	if moved != nil {
		rt = inproc.Counting{Next: rt, N: moved}
	}
	return &http.Client{Transport: rt}
}

func (t Target) fetch() *http.Client {
	if t.Fetch != nil {
		return t.Fetch
	}
	return http.DefaultClient
}

// statusError is an unexpected answer.
type statusError struct {
	method, url string
	code        int
	body        string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.code, strings.TrimSpace(e.body))
}

// statusOf returns the HTTP status of a statusError, or 0.
func statusOf(err error) int {
	if se, ok := err.(*statusError); ok {
		return se.code
	}
	return 0
}

// do sends a request and returns the response when its status is 2xx;
// any other status is a *statusError with the start of the body.
func do(ctx context.Context, c *http.Client, method, u string, body io.Reader, hdr http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return nil, err
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, &statusError{method: method, url: u, code: resp.StatusCode, body: string(b)}
	}
	return resp, nil
}

// getJSON decodes a JSON answer (at most limit bytes) into v.
func getJSON(ctx context.Context, c *http.Client, u string, hdr http.Header, limit int64, v any) error {
	resp, err := do(ctx, c, http.MethodGet, u, nil, hdr)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return err
	}
	if int64(len(b)) > limit {
		return fmt.Errorf("GET %s: answer over %d bytes", u, limit)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

// ensureRepository makes sure arca has a repository of format named name:
// it creates a private hosted one when there is none (reported as a
// "repository" item), and fails when one of another format is there.
func ensureRepository(ctx context.Context, local *http.Client, name, format string, opts Options, r *Report) error {
	var have struct {
		Format string `json:"format"`
		Kind   string `json:"kind"`
	}
	err := getJSON(ctx, local, localURL.String()+"/api/v1/repositories/"+url.PathEscape(name), nil, 1<<20, &have)
	switch {
	case err == nil && have.Format != format:
		return fmt.Errorf("arca repository %s is of format %s, not %s", name, have.Format, format)
	case err == nil && have.Kind != "hosted":
		return fmt.Errorf("arca repository %s is a %s repository; imports go into hosted ones", name, have.Kind)
	case err == nil:
		return nil
	case statusOf(err) != http.StatusNotFound:
		return err
	case opts.DryRun:
		r.Planned("repository", name, 0)
		return nil
	}
	body, _ := json.Marshal(map[string]string{"name": name, "format": format, "kind": "hosted"})
	resp, err := do(ctx, local, http.MethodPost, localURL.String()+"/api/v1/repositories", bytes.NewReader(body),
		http.Header{"Content-Type": {"application/json"}})
	if statusOf(err) == http.StatusConflict { // created meanwhile
		return nil
	}
	if err != nil {
		return err
	}
	resp.Body.Close()
	r.Imported("repository", name, 0)
	return nil
}
