// Package apptest runs a whole arca in process, over httptest, for tests of
// its surfaces with real HTTP: once on SQLite and once on PostgreSQL.
package apptest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// AdminPassword is the admin's password in every test server.
const AdminPassword = "admin-test-password"

// Server is a running arca.
type Server struct {
	*app.App
	URL   string
	Close func() // stops serving (the test's cleanup also does)
}

// Each runs fn once against a server on SQLite and once on PostgreSQL.
func Each(t *testing.T, fn func(t *testing.T, s *Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, Start(t, "", nil)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Start(t, metatest.PostgresURL(t), nil)) })
}

// EachWith is Each with the configuration changed by edit.
func EachWith(t *testing.T, edit func(*config.Config), fn func(t *testing.T, s *Server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, Start(t, "", edit)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Start(t, metatest.PostgresURL(t), edit)) })
}

// Start runs a server on databaseURL ("" for SQLite) with the default
// configuration, changed by edit when it is not nil.
func Start(t testing.TB, databaseURL string, edit func(*config.Config)) *Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.DatabaseURL = databaseURL
	cfg.AdminPassword = AdminPassword
	if edit != nil {
		edit(&cfg)
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("ARCA_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := app.NewLogger(config.Log{Level: "debug", Format: "text"}, logOut)
	a, err := app.Open(context.Background(), cfg, log)
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if _, err := a.Bootstrap(context.Background()); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	ts := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		ts.Close()
		a.Close()
	})
	return &Server{App: a, URL: ts.URL, Close: ts.Close}
}

// Do sends a request with optional Basic credentials ("user:password") and
// returns the response with its body read.
func (s *Server) Do(t testing.TB, method, path, userpass string, body io.Reader, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if userpass != "" {
		u, p, _ := strings.Cut(userpass, ":")
		req.SetBasicAuth(u, p)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return resp, string(b)
}

// Admin is the admin's Basic credentials for Do.
const Admin = "admin:" + AdminPassword

// S3Blobs starts a second arca and returns a configuration edit that makes
// a server keep its blobs in a bucket of that arca's S3 API (the S3 blob
// driver, as in a scale-out deployment), under its own prefix.
func S3Blobs(t testing.TB) func(*config.Config) {
	t.Helper()
	up := Start(t, "", nil)
	ts := httptest.NewServer(up.S3Handler())
	t.Cleanup(ts.Close)
	ctx := context.Background()
	k, secret, err := up.Auth.CreateAccessKey(ctx, "admin", "", "", "blob driver of a test server")
	if err != nil {
		t.Fatal(err)
	}
	// The bucket is created through the admin API's repository model.
	if resp, body := up.Do(t, "POST", "/api/v1/repositories", Admin,
		strings.NewReader(`{"name":"arca-blobs","format":"s3","kind":"hosted"}`), "Content-Type", "application/json"); resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating the blob bucket = %d %s", resp.StatusCode, body)
	}
	return func(c *config.Config) {
		c.Blob.Driver = "s3"
		c.Blob.S3 = config.BlobS3{Endpoint: ts.URL, Bucket: "arca-blobs", Region: "us-east-1", AccessKey: k.ID, SecretKey: secret,
			PathStyle: true, PartSize: 5 << 20, Prefix: strings.ReplaceAll(t.Name(), "/", "-")}
	}
}
