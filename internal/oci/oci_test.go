package oci_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
	"github.com/arcaproject/arca/internal/repo"
)

const admin = apptest.Admin

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func errCode(t *testing.T, body string) string {
	t.Helper()
	var e struct{ Errors []struct{ Code string } }
	if err := json.Unmarshal([]byte(body), &e); err != nil || len(e.Errors) == 0 {
		t.Fatalf("not an OCI error body: %q", body)
	}
	return e.Errors[0].Code
}

// pushBlob uploads b monolithically to name.
func pushBlob(t *testing.T, s *apptest.Server, name string, b []byte) string {
	t.Helper()
	d := sha(b)
	resp, body := s.Do(t, "POST", "/v2/"+name+"/blobs/uploads/?digest="+d, admin, bytes.NewReader(b), "Content-Type", "application/octet-stream")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("monolithic push = %d %s", resp.StatusCode, body)
	}
	return d
}

func imageManifest(config, layer string, cfgSize, layerSize int) []byte {
	return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":%d}]}`, config, cfgSize, layer, layerSize))
}

func TestPushPull(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		cfg, layer := []byte(`{}`), []byte("layer bytes")
		cd, ld := pushBlob(t, s, "library/app", cfg), pushBlob(t, s, "library/app", layer)
		m := imageManifest(cd, ld, len(cfg), len(layer))
		resp, body := s.Do(t, "PUT", "/v2/library/app/manifests/v1", admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Docker-Content-Digest") != sha(m) || resp.Header.Get("Location") != "/v2/library/app/manifests/"+sha(m) {
			t.Fatalf("manifest PUT = %d %v %s", resp.StatusCode, resp.Header, body)
		}
		for _, ref := range []string{"v1", sha(m)} {
			resp, body = s.Do(t, "GET", "/v2/library/app/manifests/"+ref, admin, nil)
			if resp.StatusCode != 200 || body != string(m) || resp.Header.Get("Content-Type") != "application/vnd.oci.image.manifest.v1+json" || resp.Header.Get("Docker-Content-Digest") != sha(m) {
				t.Fatalf("GET manifest %s = %d %q", ref, resp.StatusCode, resp.Header)
			}
		}
		resp, _ = s.Do(t, "HEAD", "/v2/library/app/blobs/"+ld, admin, nil)
		if resp.StatusCode != 200 || resp.ContentLength != int64(len(layer)) || resp.Header.Get("Docker-Content-Digest") != ld {
			t.Fatalf("HEAD blob = %d %v", resp.StatusCode, resp.Header)
		}
		resp, body = s.Do(t, "GET", "/v2/library/app/blobs/"+ld, admin, nil, "Range", "bytes=0-4")
		if resp.StatusCode != http.StatusPartialContent || body != "layer" {
			t.Fatalf("ranged blob GET = %d %q", resp.StatusCode, body)
		}
		// A blob pushed to one image is unknown to another, until mounted.
		resp, body = s.Do(t, "GET", "/v2/library/other/blobs/"+ld, admin, nil)
		if resp.StatusCode != 404 || errCode(t, body) != "BLOB_UNKNOWN" {
			t.Fatalf("unlinked blob = %d %s", resp.StatusCode, body)
		}
		resp, _ = s.Do(t, "POST", "/v2/library/other/blobs/uploads/?mount="+ld+"&from=library/app", admin, nil)
		if resp.StatusCode != http.StatusCreated || resp.Header.Get("Location") != "/v2/library/other/blobs/"+ld {
			t.Fatalf("mount = %d %v", resp.StatusCode, resp.Header)
		}
		// Automatic mount, without from.
		resp, _ = s.Do(t, "POST", "/v2/library/third/blobs/uploads/?mount="+cd, admin, nil)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("automatic mount = %d", resp.StatusCode)
		}
		// A mount of an unknown blob starts an upload instead.
		resp, _ = s.Do(t, "POST", "/v2/library/third/blobs/uploads/?mount="+sha([]byte("nope"))+"&from=library/app", admin, nil)
		if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Location") == "" {
			t.Fatalf("impossible mount = %d", resp.StatusCode)
		}
		// Tags, paged.
		for _, tag := range []string{"a", "b", "c"} {
			s.Do(t, "PUT", "/v2/library/app/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		}
		resp, body = s.Do(t, "GET", "/v2/library/app/tags/list?n=2", admin, nil)
		if body != "{\n  \"name\": \"library/app\",\n  \"tags\": [\n    \"a\",\n    \"b\"\n  ]\n}\n" || resp.Header.Get("Link") != `</v2/library/app/tags/list?n=2&last=b>; rel="next"` {
			t.Fatalf("tags page 1 = %q, Link %q", body, resp.Header.Get("Link"))
		}
		_, body = s.Do(t, "GET", "/v2/library/app/tags/list?n=2&last=b", admin, nil)
		if !strings.Contains(body, `"c"`) || !strings.Contains(body, `"v1"`) {
			t.Fatalf("tags page 2 = %q", body)
		}
		_, body = s.Do(t, "GET", "/v2/_catalog", admin, nil)
		if !strings.Contains(body, `"library/app"`) {
			t.Fatalf("catalog = %s", body)
		}
		// Deleting a tag keeps the manifest; deleting the manifest removes its tags.
		if resp, _ = s.Do(t, "DELETE", "/v2/library/app/manifests/a", admin, nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("tag delete = %d", resp.StatusCode)
		}
		if resp, _ = s.Do(t, "GET", "/v2/library/app/manifests/a", admin, nil); resp.StatusCode != 404 {
			t.Fatalf("deleted tag = %d", resp.StatusCode)
		}
		if resp, _ = s.Do(t, "DELETE", "/v2/library/app/manifests/"+sha(m), admin, nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("manifest delete = %d", resp.StatusCode)
		}
		resp, body = s.Do(t, "GET", "/v2/library/app/manifests/v1", admin, nil)
		if resp.StatusCode != 404 || errCode(t, body) != "MANIFEST_UNKNOWN" {
			t.Fatalf("tag of deleted manifest = %d %s", resp.StatusCode, body)
		}
		if resp, _ = s.Do(t, "DELETE", "/v2/library/app/blobs/"+ld, admin, nil); resp.StatusCode != http.StatusAccepted {
			t.Fatalf("blob delete = %d", resp.StatusCode)
		}
		if resp, _ = s.Do(t, "GET", "/v2/library/app/blobs/"+ld, admin, nil); resp.StatusCode != 404 {
			t.Fatalf("deleted blob = %d", resp.StatusCode)
		}
	})
}

// TestChunkedUploadAcrossProcesses sends the chunks of one upload to two
// arca processes sharing a database and a blob store.
func TestChunkedUploadAcrossProcesses(t *testing.T) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			dir := t.TempDir()
			dbURL := ""
			if engine == "postgres" {
				dbURL = metatest.PostgresURL(t)
			}
			shared := func(c *config.Config) { c.DataDir = dir }
			a, b := apptest.Start(t, dbURL, shared), apptest.Start(t, dbURL, shared)
			data := bytes.Repeat([]byte("0123456789"), 100_000)
			resp, _ := a.Do(t, "POST", "/v2/library/big/blobs/uploads/", admin, nil)
			if resp.StatusCode != http.StatusAccepted {
				t.Fatalf("POST = %d", resp.StatusCode)
			}
			loc := resp.Header.Get("Location")
			chunks := [][]byte{data[:300_000], data[300_000:700_000], data[700_000:]}
			servers := []*apptest.Server{b, a}
			off := 0
			for i, c := range chunks[:2] {
				resp, body := servers[i].Do(t, "PATCH", loc, admin, bytes.NewReader(c),
					"Content-Type", "application/octet-stream", "Content-Range", fmt.Sprintf("%d-%d", off, off+len(c)-1))
				if resp.StatusCode != http.StatusAccepted || resp.Header.Get("Range") != fmt.Sprintf("0-%d", off+len(c)-1) {
					t.Fatalf("PATCH %d = %d %s %v", i, resp.StatusCode, body, resp.Header)
				}
				off += len(c)
				loc = resp.Header.Get("Location")
			}
			// Out of order: 416, and the session is unchanged.
			resp, _ = b.Do(t, "PATCH", loc, admin, bytes.NewReader([]byte("x")), "Content-Range", "5-5")
			if resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
				t.Fatalf("out-of-order PATCH = %d", resp.StatusCode)
			}
			resp, _ = b.Do(t, "GET", loc, admin, nil)
			if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Range") != fmt.Sprintf("0-%d", off-1) {
				t.Fatalf("status = %d %v", resp.StatusCode, resp.Header)
			}
			resp, body := b.Do(t, "PUT", loc+"?digest="+url.QueryEscape(sha(data)), admin, bytes.NewReader(chunks[2]))
			if resp.StatusCode != http.StatusCreated {
				t.Fatalf("final PUT = %d %s", resp.StatusCode, body)
			}
			_, got := a.Do(t, "GET", "/v2/library/big/blobs/"+sha(data), admin, nil)
			if got != string(data) {
				t.Fatalf("blob read back %d bytes, want %d", len(got), len(data))
			}
			if resp, _ := a.Do(t, "GET", loc, admin, nil); resp.StatusCode != 404 {
				t.Fatalf("finished session still answers %d", resp.StatusCode)
			}
		})
	}
}

func TestBadInput(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// Wrong digest on a monolithic push: nothing stored.
		resp, body := s.Do(t, "POST", "/v2/library/app/blobs/uploads/?digest="+sha([]byte("other")), admin, strings.NewReader("data"))
		if resp.StatusCode != 400 || errCode(t, body) != "DIGEST_INVALID" {
			t.Fatalf("wrong digest = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "HEAD", "/v2/library/app/blobs/"+sha([]byte("data")), admin, nil); resp.StatusCode != 404 {
			t.Fatalf("blob visible after a failed push: %d", resp.StatusCode)
		}
		for _, c := range []struct{ method, path, code string }{
			{"GET", "/v2/library/app/blobs/sha256:nothex", "DIGEST_INVALID"},
			{"GET", "/v2/Library/app/tags/list", "NAME_INVALID"},
			{"GET", "/v2/nope/app/tags/list", "NAME_UNKNOWN"},
			{"GET", "/v2/files/app/tags/list", "NAME_UNKNOWN"}, // a raw repository
			{"GET", "/v2/library/app/manifests/" + sha([]byte("x")), "MANIFEST_UNKNOWN"},
			{"GET", "/v2/library/app/blobs/uploads/nosuchupload", "BLOB_UPLOAD_UNKNOWN"},
			{"PUT", "/v2/library/app/manifests/bad:tag:x", "DIGEST_INVALID"},
		} {
			resp, body := s.Do(t, c.method, c.path, admin, nil)
			if got := errCode(t, body); got != c.code || resp.StatusCode < 400 {
				t.Errorf("%s %s = %d %s, want %s", c.method, c.path, resp.StatusCode, got, c.code)
			}
		}
		// A manifest whose layer the image lacks.
		cd := pushBlob(t, s, "library/app", []byte(`{}`))
		m := imageManifest(cd, sha([]byte("missing")), 2, 7)
		resp, body = s.Do(t, "PUT", "/v2/library/app/manifests/v1", admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != 400 || errCode(t, body) != "MANIFEST_BLOB_UNKNOWN" {
			t.Fatalf("manifest with missing layer = %d %s", resp.StatusCode, body)
		}
		// A manifest pushed by a digest it does not have.
		m = []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`)
		resp, body = s.Do(t, "PUT", "/v2/library/app/manifests/"+sha([]byte("x")), admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.index.v1+json")
		if resp.StatusCode != 400 || errCode(t, body) != "DIGEST_INVALID" {
			t.Fatalf("manifest under the wrong digest = %d %s", resp.StatusCode, body)
		}
		// Too large.
		big := append([]byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","annotations":{"x":"`), bytes.Repeat([]byte("a"), 4<<20)...)
		resp, _ = s.Do(t, "PUT", "/v2/library/app/manifests/big", admin, bytes.NewReader(big), "Content-Type", "application/vnd.oci.image.index.v1+json")
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized manifest = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "GET", "/v2/library/app/manifests/big", admin, nil); resp.StatusCode != 404 {
			t.Fatal("oversized manifest stored")
		}
		// Invalid tag.
		resp, body = s.Do(t, "PUT", "/v2/library/app/manifests/-bad", admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.index.v1+json")
		if resp.StatusCode != 400 || errCode(t, body) != "MANIFEST_INVALID" {
			t.Fatalf("invalid tag = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "PATCH", "/v2/library/app/tags/list", admin, nil); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("wrong method = %d", resp.StatusCode)
		}
	})
}

func TestReferrersAndSHA512(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		cd := pushBlob(t, s, "library/app", []byte(`{}`))
		subject := imageManifest(cd, cd, 2, 2)
		s.Do(t, "PUT", "/v2/library/app/manifests/v1", admin, bytes.NewReader(subject), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		sig := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","artifactType":"application/vnd.example.sig",`+
			`"config":{"mediaType":"application/vnd.oci.empty.v1+json","digest":%q,"size":2},"layers":[],`+
			`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d},"annotations":{"k":"v"}}`, cd, sha(subject), len(subject)))
		resp, _ := s.Do(t, "PUT", "/v2/library/app/manifests/"+sha(sig), admin, bytes.NewReader(sig), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != 201 || resp.Header.Get("OCI-Subject") != sha(subject) {
			t.Fatalf("referrer PUT = %d %v", resp.StatusCode, resp.Header)
		}
		resp, body := s.Do(t, "GET", "/v2/library/app/referrers/"+sha(subject), admin, nil)
		var idx struct {
			Manifests []struct {
				Digest, ArtifactType string
				Annotations          map[string]string
			}
		}
		json.Unmarshal([]byte(body), &idx)
		if resp.Header.Get("Content-Type") != "application/vnd.oci.image.index.v1+json" || len(idx.Manifests) != 1 ||
			idx.Manifests[0].Digest != sha(sig) || idx.Manifests[0].ArtifactType != "application/vnd.example.sig" || idx.Manifests[0].Annotations["k"] != "v" {
			t.Fatalf("referrers = %s", body)
		}
		resp, body = s.Do(t, "GET", "/v2/library/app/referrers/"+sha(subject)+"?artifactType=other", admin, nil)
		if resp.Header.Get("OCI-Filters-Applied") != "artifactType" || strings.Contains(body, sha(sig)) {
			t.Fatalf("filtered referrers = %v %s", resp.Header, body)
		}
		// sha512: a blob pushed and fetched by its sha512 digest.
		data := []byte("sha512 content")
		sum := sha512.Sum512(data)
		d512 := "sha512:" + hex.EncodeToString(sum[:])
		resp, body = s.Do(t, "POST", "/v2/library/app/blobs/uploads/?digest="+d512, admin, bytes.NewReader(data))
		if resp.StatusCode != 201 || resp.Header.Get("Docker-Content-Digest") != d512 {
			t.Fatalf("sha512 push = %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/v2/library/app/blobs/"+d512, admin, nil)
		if resp.StatusCode != 200 || body != string(data) {
			t.Fatalf("sha512 GET = %d %q", resp.StatusCode, body)
		}
		bad := "sha512:" + strings.Repeat("0", 128)
		resp, body = s.Do(t, "POST", "/v2/library/app/blobs/uploads/?digest="+bad, admin, bytes.NewReader(data))
		if resp.StatusCode != 400 || errCode(t, body) != "DIGEST_INVALID" {
			t.Fatalf("wrong sha512 = %d %s", resp.StatusCode, body)
		}
	})
}

func TestTokenFlow(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		// Anonymous: 401 with a Bearer challenge naming the scope.
		resp, body := s.Do(t, "GET", "/v2/library/app/tags/list", "", nil)
		challenge := resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != 401 || errCode(t, body) != "UNAUTHORIZED" ||
			challenge != `Bearer realm="`+s.URL+`/v2/token",service="arca",scope="repository:library/app:pull"` {
			t.Fatalf("anonymous = %d %q", resp.StatusCode, challenge)
		}
		if resp, _ := s.Do(t, "GET", "/v2/", "", nil); resp.StatusCode != 401 {
			t.Fatalf("anonymous /v2/ = %d", resp.StatusCode)
		}
		token := func(userpass, scope string) string {
			t.Helper()
			resp, body := s.Do(t, "GET", "/v2/token?service=arca&scope="+url.QueryEscape(scope), userpass, nil)
			var tok struct {
				Token     string
				ExpiresIn int `json:"expires_in"`
			}
			json.Unmarshal([]byte(body), &tok)
			if resp.StatusCode != 200 || tok.Token == "" || tok.ExpiresIn != 300 {
				t.Fatalf("token = %d %s", resp.StatusCode, body)
			}
			return tok.Token
		}
		// A reader gets pull but not push.
		s.Auth.CreateUser(ctx, "reader", "reader-password", "", auth.NoRole)
		lib, _ := s.Repos.Get(ctx, "library")
		s.Auth.Grant(ctx, "reader", lib.ID, auth.Reader)
		tok := token("reader:reader-password", "repository:library/app:pull,push")
		bearer := []string{"Authorization", "Bearer " + tok}
		if resp, _ := s.Do(t, "GET", "/v2/", "", nil, bearer...); resp.StatusCode != 200 {
			t.Fatalf("/v2/ with token = %d", resp.StatusCode)
		}
		cd := pushBlob(t, s, "library/app", []byte(`{}`))
		if resp, _ := s.Do(t, "HEAD", "/v2/library/app/blobs/"+cd, "", nil, bearer...); resp.StatusCode != 200 {
			t.Fatalf("pull with token = %d", resp.StatusCode)
		}
		resp, _ = s.Do(t, "POST", "/v2/library/app/blobs/uploads/", "", nil, bearer...)
		if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="repository:library/app:pull,push"`) {
			t.Fatalf("push with a pull-only token = %d %v", resp.StatusCode, resp.Header)
		}
		// The token covers only the name it was issued for.
		if resp, _ := s.Do(t, "HEAD", "/v2/library/other/blobs/"+cd, "", nil, bearer...); resp.StatusCode != 401 {
			t.Fatalf("token used on another name = %d", resp.StatusCode)
		}
		// Wrong credentials at the token endpoint.
		if resp, _ := s.Do(t, "GET", "/v2/token?scope=repository:library/app:pull", "reader:wrong-password", nil); resp.StatusCode != 401 {
			t.Fatalf("token with wrong password = %d", resp.StatusCode)
		}
		// A forged token.
		if resp, _ := s.Do(t, "GET", "/v2/library/app/tags/list", "", nil, "Authorization", "Bearer "+tok[:len(tok)-4]+"AAAA"); resp.StatusCode != 401 {
			t.Fatalf("forged token = %d", resp.StatusCode)
		}
		// Robots log in with their token as the password.
		s.Auth.CreateRobot(ctx, "ci", auth.Developer)
		secret, _, _ := s.Auth.CreateToken(ctx, "ci", "t", 0)
		rt := token("ci:"+secret, "repository:library/app:push,pull")
		if resp, _ := s.Do(t, "POST", "/v2/library/app/blobs/uploads/", "", nil, "Authorization", "Bearer "+rt); resp.StatusCode != 202 {
			t.Fatalf("robot push with token = %d", resp.StatusCode)
		}
		// Anonymous pulls of public repositories.
		s.Repos.Create(ctx, &repo.Repository{Name: "public", Format: "oci", Visibility: repo.Public})
		pd := pushBlob(t, s, "public/app", []byte("public layer"))
		anon := token("", "repository:public/app:pull,push")
		if resp, _ := s.Do(t, "GET", "/v2/public/app/blobs/"+pd, "", nil, "Authorization", "Bearer "+anon); resp.StatusCode != 200 {
			t.Fatalf("anonymous pull of public = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "POST", "/v2/public/app/blobs/uploads/", "", nil, "Authorization", "Bearer "+anon); resp.StatusCode != 401 {
			t.Fatalf("anonymous push to public = %d", resp.StatusCode)
		}
		// Basic credentials work directly too.
		if resp, _ := s.Do(t, "GET", "/v2/library/app/blobs/"+cd, "reader:reader-password", nil); resp.StatusCode != 200 {
			t.Fatalf("Basic pull = %d", resp.StatusCode)
		}
	})
}
