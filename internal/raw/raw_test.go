package raw_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/repo"
)

const admin = apptest.Admin

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type listing struct {
	Path    string `json:"path"`
	Entries []struct {
		Name, Path, Type, Digest string
		Size                     int64
	} `json:"entries"`
	Next string `json:"next"`
}

func TestUploadDownload(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		content := make([]byte, 300_000)
		rand.Read(content)
		resp, body := s.Do(t, "PUT", "/raw/files/models/v1/model.bin", admin, bytes.NewReader(content))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("PUT = %d %s", resp.StatusCode, body)
		}
		var put struct {
			Digest string
			Size   int64
		}
		json.Unmarshal([]byte(body), &put)
		if put.Digest != "sha256:"+sha(content) || put.Size != int64(len(content)) {
			t.Fatalf("PUT answered %s", body)
		}

		resp, body = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil)
		if resp.StatusCode != 200 || body != string(content) {
			t.Fatalf("GET = %d, %d bytes", resp.StatusCode, len(body))
		}
		etag := resp.Header.Get("ETag")
		if etag != `"`+sha(content)+`"` || resp.Header.Get("X-Checksum-Sha256") != sha(content) {
			t.Fatalf("ETag %q, X-Checksum-Sha256 %q", etag, resp.Header.Get("X-Checksum-Sha256"))
		}
		if resp.Header.Get("Last-Modified") == "" {
			t.Fatal("no Last-Modified")
		}

		// HEAD: size and headers, no body.
		resp, body = s.Do(t, "HEAD", "/raw/files/models/v1/model.bin", admin, nil)
		if resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len(content)) || resp.Header.Get("ETag") != etag {
			t.Fatalf("HEAD = %d, length %d, etag %q", resp.StatusCode, resp.ContentLength, resp.Header.Get("ETag"))
		}

		// Ranges.
		resp, body = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "Range", "bytes=100-199")
		if resp.StatusCode != http.StatusPartialContent || body != string(content[100:200]) {
			t.Fatalf("Range = %d, %d bytes", resp.StatusCode, len(body))
		}
		if got := resp.Header.Get("Content-Range"); got != fmt.Sprintf("bytes 100-199/%d", len(content)) {
			t.Fatalf("Content-Range = %q", got)
		}
		resp, body = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "Range", "bytes=-10")
		if resp.StatusCode != http.StatusPartialContent || body != string(content[len(content)-10:]) {
			t.Fatalf("suffix Range = %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "Range", "bytes=400000-")
		if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("unsatisfiable Range = %d", resp.StatusCode)
		}

		// Conditional requests.
		resp, _ = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "If-None-Match", etag)
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-None-Match = %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "If-Match", `"nope"`)
		if resp.StatusCode != http.StatusPreconditionFailed {
			t.Fatalf("If-Match mismatch = %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "If-Modified-Since", "Sat, 01 Jan 2100 00:00:00 GMT")
		if resp.StatusCode != http.StatusNotModified {
			t.Fatalf("If-Modified-Since future = %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "GET", "/raw/files/models/v1/model.bin", admin, nil, "If-Unmodified-Since", "Sat, 01 Jan 2000 00:00:00 GMT")
		if resp.StatusCode != http.StatusPreconditionFailed {
			t.Fatalf("If-Unmodified-Since past = %d", resp.StatusCode)
		}

		// POST with chunked encoding, as DVC sends it; content type from extension.
		req, _ := http.NewRequest("POST", s.URL+"/raw/files/data/a.json", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)))
		req.SetBasicAuth("admin", apptest.AdminPassword)
		req.ContentLength = -1
		r2, err := http.DefaultClient.Do(req)
		if err != nil || r2.StatusCode != http.StatusCreated || len(r2.TransferEncoding) != 0 && false {
			t.Fatalf("chunked POST = %v, %v", r2, err)
		}
		r2.Body.Close()
		resp, body = s.Do(t, "GET", "/raw/files/data/a.json", admin, nil)
		if body != `{"a":1}` || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("chunked upload read back %q as %q", body, resp.Header.Get("Content-Type"))
		}

		// An empty file.
		resp, _ = s.Do(t, "PUT", "/raw/files/empty", admin, strings.NewReader(""))
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("empty PUT = %d", resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", "/raw/files/empty", admin, nil)
		if resp.StatusCode != 200 || body != "" {
			t.Fatalf("empty GET = %d %q", resp.StatusCode, body)
		}

		// Replace: same path, new content; the admin may.
		resp, _ = s.Do(t, "PUT", "/raw/files/empty", admin, strings.NewReader("now full"))
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("replacing PUT = %d", resp.StatusCode)
		}
		if _, body = s.Do(t, "GET", "/raw/files/empty", admin, nil); body != "now full" {
			t.Fatalf("after replace: %q", body)
		}
		// If-None-Match: * refuses to replace.
		resp, _ = s.Do(t, "PUT", "/raw/files/empty", admin, strings.NewReader("x"), "If-None-Match", "*")
		if resp.StatusCode != http.StatusPreconditionFailed {
			t.Fatalf("If-None-Match * on existing = %d", resp.StatusCode)
		}

		// Delete.
		resp, _ = s.Do(t, "DELETE", "/raw/files/empty", admin, nil)
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("DELETE = %d", resp.StatusCode)
		}
		for _, m := range []string{"GET", "DELETE"} {
			if resp, _ = s.Do(t, m, "/raw/files/empty", admin, nil); resp.StatusCode != 404 {
				t.Fatalf("%s after delete = %d", m, resp.StatusCode)
			}
		}

		// Dedup: the same bytes under another path reuse the blob.
		s.Do(t, "PUT", "/raw/files/copy.bin", admin, bytes.NewReader(content))
		var blobs int
		s.DB.QueryRow(`SELECT COUNT(*) FROM blobs WHERE digest = $1`, "sha256:"+sha(content)).Scan(&blobs)
		if blobs != 1 {
			t.Fatalf("%d blob rows for one content", blobs)
		}

		// The audit trail saw the uploads and the delete.
		events, err := s.Audit.List(context.Background(), 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		for _, e := range events {
			seen[e.Action]++
			if strings.HasPrefix(e.Action, "raw.") && (e.Actor != "admin" || e.Repository != "files" || e.RequestID == "") {
				t.Fatalf("audit event %+v lacks actor, repository or request ID", e)
			}
		}
		if seen["raw.upload"] != 4 || seen["raw.replace"] != 1 || seen["raw.delete"] != 1 {
			t.Fatalf("audit actions = %v", seen)
		}
	})
}

func TestDeclaredDigestsAndLength(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		content := []byte("hello, arca\n")
		md5sum := md5.Sum(content)
		sha256sum := sha256.Sum256(content)
		good := [][]string{
			{"X-Checksum-Sha256", sha(content)},
			{"X-Checksum-Sha256", strings.ToUpper(sha(content))},
			{"Content-Digest", "sha-256=:" + base64.StdEncoding.EncodeToString(sha256sum[:]) + ":"},
			{"Content-MD5", base64.StdEncoding.EncodeToString(md5sum[:])},
			{"X-Checksum-Md5", hex.EncodeToString(md5sum[:])},
		}
		for i, h := range good {
			resp, body := s.Do(t, "PUT", fmt.Sprintf("/raw/files/good%d", i), admin, bytes.NewReader(content), h...)
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("PUT with correct %s = %d %s", h[0], resp.StatusCode, body)
			}
		}
		other := []byte("something else")
		otherMD5 := md5.Sum(other)
		bad := [][]string{
			{"X-Checksum-Sha256", sha(other)},
			{"X-Checksum-Sha256", "not-hex"},
			{"Content-Digest", "sha-256=:" + base64.StdEncoding.EncodeToString(otherMD5[:]) + ":"},
			{"Content-MD5", base64.StdEncoding.EncodeToString(otherMD5[:])},
			{"X-Checksum-Sha1", strings.Repeat("0", 40)},
		}
		for i, h := range bad {
			path := fmt.Sprintf("/raw/files/bad%d", i)
			resp, body := s.Do(t, "PUT", path, admin, bytes.NewReader(content), h...)
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, `"message"`) {
				t.Fatalf("PUT with wrong %s = %d %s", h[0], resp.StatusCode, body)
			}
			if resp, _ := s.Do(t, "GET", path, admin, nil); resp.StatusCode != 404 {
				t.Fatalf("file stored despite wrong %s", h[0])
			}
		}
		// A body shorter than its Content-Length.
		req, _ := http.NewRequest("PUT", s.URL+"/raw/files/short", &shortBody{data: content})
		req.SetBasicAuth("admin", apptest.AdminPassword)
		req.ContentLength = int64(len(content) + 100)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode < 400 {
				t.Fatalf("short body = %d", resp.StatusCode)
			}
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/short", admin, nil); resp.StatusCode != 404 {
			t.Fatal("file stored despite a short body")
		}
	})
}

type shortBody struct{ data []byte }

func (b *shortBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

func TestUploadLimit(t *testing.T) {
	s := apptest.Start(t, "", func(c *config.Config) { c.Limits.MaxUploadBytes = 1000 })
	if resp, _ := s.Do(t, "PUT", "/raw/files/ok", admin, bytes.NewReader(make([]byte, 1000))); resp.StatusCode != http.StatusCreated {
		t.Fatalf("PUT at the limit = %d", resp.StatusCode)
	}
	resp, body := s.Do(t, "PUT", "/raw/files/big", admin, bytes.NewReader(make([]byte, 1001)))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT over the limit = %d %s", resp.StatusCode, body)
	}
	// Chunked, so the length is unknown until the body is read.
	req, _ := http.NewRequest("PUT", s.URL+"/raw/files/big", io.MultiReader(bytes.NewReader(make([]byte, 600)), bytes.NewReader(make([]byte, 600))))
	req.SetBasicAuth("admin", apptest.AdminPassword)
	req.ContentLength = -1
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked PUT over the limit = %d", r2.StatusCode)
	}
	if resp, _ := s.Do(t, "GET", "/raw/files/big", admin, nil); resp.StatusCode != 404 {
		t.Fatal("oversized file stored")
	}
}

func TestListing(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		for _, p := range []string{"a.txt", "b/1", "b/2", "b/c/3", "b0", "c/x", "d.txt", "b-/y"} {
			if resp, body := s.Do(t, "PUT", "/raw/files/"+p, admin, strings.NewReader(p)); resp.StatusCode != 201 {
				t.Fatalf("PUT %s = %d %s", p, resp.StatusCode, body)
			}
		}
		list := func(path string) listing {
			t.Helper()
			resp, body := s.Do(t, "GET", "/raw/files/"+path, admin, nil)
			if resp.StatusCode != 200 {
				t.Fatalf("GET %s = %d %s", path, resp.StatusCode, body)
			}
			var l listing
			if err := json.Unmarshal([]byte(body), &l); err != nil {
				t.Fatal(err)
			}
			return l
		}
		names := func(l listing) string {
			var n []string
			for _, e := range l.Entries {
				n = append(n, e.Name+map[string]string{"directory": "/"}[e.Type])
			}
			return strings.Join(n, " ")
		}
		if got := names(list("")); got != "a.txt b-/ b/ b0 c/ d.txt" {
			t.Fatalf("root listing = %q", got)
		}
		if got := names(list("b/")); got != "1 2 c/" {
			t.Fatalf("b/ listing = %q", got)
		}
		l := list("b/c/")
		if len(l.Entries) != 1 || l.Entries[0].Path != "b/c/3" || l.Entries[0].Size != 5 || l.Entries[0].Digest != "sha256:"+sha([]byte("b/c/3")) {
			t.Fatalf("b/c/ listing = %+v", l)
		}
		// Pages.
		var all []string
		after := ""
		for i := 0; i < 10; i++ {
			l := list("?limit=2&after=" + after)
			all = append(all, names(l))
			if l.Next == "" {
				break
			}
			after = l.Next
		}
		if got := strings.Join(all, " "); got != "a.txt b-/ b/ b0 c/ d.txt" {
			t.Fatalf("paged root listing = %q", got)
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/nope/", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("missing directory = %d", resp.StatusCode)
		}
		// Browsers get HTML.
		resp, body := s.Do(t, "GET", "/raw/files/b/", admin, nil, "Accept", "text/html,application/xhtml+xml")
		if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, `href="/raw/files/b/c/"`) {
			t.Fatalf("HTML listing: %s", body)
		}
		// /raw/files redirects to the root listing.
		req, _ := http.NewRequest("GET", s.URL+"/raw/files", nil)
		req.SetBasicAuth("admin", apptest.AdminPassword)
		r, err := http.DefaultTransport.RoundTrip(req)
		if err != nil || r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/raw/files/" {
			t.Fatalf("GET /raw/files = %v %v", r, err)
		}
	})
}

func TestBadInput(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		for _, p := range []string{
			"/raw/files/../etc/passwd", "/raw/files/a/../../x", "/raw/files/%2e%2e/x", "/raw/files/a%2Fb",
			"/raw/files/a%5Cb", "/raw/files//abs", "/raw/files/a//b", "/raw/files/./a", "/raw/files/a%00b",
		} {
			req, _ := http.NewRequest("PUT", s.URL+"/raw/files/x", strings.NewReader("x"))
			req.URL.RawPath, req.URL.Path = "", ""
			req.URL.Opaque = p // sent as is
			req.SetBasicAuth("admin", apptest.AdminPassword)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatalf("%s: %v", p, err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"error"`) {
				t.Errorf("PUT %s = %d %s, want 400 JSON", p, resp.StatusCode, body)
			}
		}
		resp, body := s.Do(t, "GET", "/raw/nope/x", admin, nil)
		if resp.StatusCode != 404 || !strings.Contains(body, "REPOSITORY_UNKNOWN") {
			t.Fatalf("unknown repository = %d %s", resp.StatusCode, body)
		}
		resp, _ = s.Do(t, "GET", "/raw/files/x", "admin:wrong-password", nil)
		if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic") {
			t.Fatalf("wrong password = %d, WWW-Authenticate %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp, _ = s.Do(t, "PUT", "/raw/files/dir/", admin, strings.NewReader("x"))
		if resp.StatusCode != 400 {
			t.Fatalf("PUT to a directory path = %d", resp.StatusCode)
		}
	})
}

func TestPermissions(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		if _, err := s.Auth.CreateUser(ctx, "dev", "dev-password", "", auth.NoRole); err != nil {
			t.Fatal(err)
		}
		files, _ := s.Repos.Get(ctx, "files")
		pub := &repo.Repository{Name: "pub", Format: "raw", Visibility: repo.Public}
		if err := s.Repos.Create(ctx, pub); err != nil {
			t.Fatal(err)
		}
		s.Do(t, "PUT", "/raw/files/f", admin, strings.NewReader("private"))
		s.Do(t, "PUT", "/raw/pub/f", admin, strings.NewReader("public"))

		// Anonymous: public reads only; private asks for credentials.
		if resp, body := s.Do(t, "GET", "/raw/pub/f", "", nil); resp.StatusCode != 200 || body != "public" {
			t.Fatalf("anonymous public read = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/f", "", nil); resp.StatusCode != 401 {
			t.Fatalf("anonymous private read = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PUT", "/raw/pub/g", "", strings.NewReader("x")); resp.StatusCode != 401 {
			t.Fatalf("anonymous public write = %d", resp.StatusCode)
		}
		// A user without a role.
		if resp, _ := s.Do(t, "GET", "/raw/files/f", "dev:dev-password", nil); resp.StatusCode != 403 {
			t.Fatalf("roleless private read = %d", resp.StatusCode)
		}
		// Developer: read and upload, but not replace or delete.
		s.Auth.Grant(ctx, "dev", files.ID, auth.Developer)
		if resp, _ := s.Do(t, "GET", "/raw/files/f", "dev:dev-password", nil); resp.StatusCode != 200 {
			t.Fatalf("developer read = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PUT", "/raw/files/new", "dev:dev-password", strings.NewReader("x")); resp.StatusCode != 201 {
			t.Fatalf("developer upload = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "PUT", "/raw/files/f", "dev:dev-password", strings.NewReader("overwrite")); resp.StatusCode != 403 {
			t.Fatalf("developer overwrite = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/raw/files/f", "dev:dev-password", nil); resp.StatusCode != 403 {
			t.Fatalf("developer delete = %d", resp.StatusCode)
		}
		if _, body := s.Do(t, "GET", "/raw/files/f", admin, nil); body != "private" {
			t.Fatalf("refused overwrite changed the file to %q", body)
		}
		// Maintainer: may replace and delete.
		s.Auth.Grant(ctx, "dev", files.ID, auth.Maintainer)
		if resp, _ := s.Do(t, "PUT", "/raw/files/f", "dev:dev-password", strings.NewReader("v2")); resp.StatusCode != 200 {
			t.Fatalf("maintainer overwrite = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/raw/files/f", "dev:dev-password", nil); resp.StatusCode != 204 {
			t.Fatalf("maintainer delete = %d", resp.StatusCode)
		}
		// Tokens work as Bearer and as Basic password.
		secret, _, _ := s.Auth.CreateToken(ctx, "dev", "t", 0)
		if resp, _ := s.Do(t, "GET", "/raw/files/new", "", nil, "Authorization", "Bearer "+secret); resp.StatusCode != 200 {
			t.Fatalf("Bearer token read = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/raw/files/new", "__token__:"+secret, nil); resp.StatusCode != 200 {
			t.Fatalf("Basic token read = %d", resp.StatusCode)
		}
	})
}
