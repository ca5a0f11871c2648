package oci_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestZeroPageSize: n=0 on the tag list and the catalog answers an empty
// list (the spec allows it), not a panic.
func TestZeroPageSize(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		cfg, layer := []byte(`{}`), []byte("zero page layer")
		cd, ld := pushBlob(t, s, "library/zero", cfg), pushBlob(t, s, "library/zero", layer)
		m := imageManifest(cd, ld, len(cfg), len(layer))
		for _, tag := range []string{"a", "b"} {
			if resp, body := s.Do(t, "PUT", "/v2/library/zero/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != 201 {
				t.Fatalf("PUT %s = %d %s", tag, resp.StatusCode, body)
			}
		}
		resp, body := s.Do(t, "GET", "/v2/library/zero/tags/list?n=0", admin, nil)
		if resp.StatusCode != 200 || strings.Join(strings.Fields(body), "") != `{"name":"library/zero","tags":[]}` || resp.Header.Get("Link") != "" {
			t.Fatalf("tags n=0 = %d %q Link %q", resp.StatusCode, body, resp.Header.Get("Link"))
		}
		resp, body = s.Do(t, "GET", "/v2/library/zero/tags/list?n=0&last=a", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"tags": []`) {
			t.Fatalf("tags n=0&last=a = %d %q", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "GET", "/v2/_catalog?n=0", admin, nil)
		if resp.StatusCode != 200 || strings.Join(strings.Fields(body), "") != `{"repositories":[]}` || resp.Header.Get("Link") != "" {
			t.Fatalf("catalog n=0 = %d %q", resp.StatusCode, body)
		}
		// n=1 still pages.
		resp, body = s.Do(t, "GET", "/v2/library/zero/tags/list?n=1", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"a"`) || resp.Header.Get("Link") != `</v2/library/zero/tags/list?n=1&last=a>; rel="next"` {
			t.Fatalf("tags n=1 = %d %q Link %q", resp.StatusCode, body, resp.Header.Get("Link"))
		}
		resp, body = s.Do(t, "GET", "/v2/library/zero/tags/list?n=-1", admin, nil)
		if resp.StatusCode != 400 {
			t.Fatalf("tags n=-1 = %d %q", resp.StatusCode, body)
		}
		errCode(t, body)
	})
}

// TestDeleteManifestInIndex: a manifest that an index of the same image
// lists cannot be deleted until the index is.
func TestDeleteManifestInIndex(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		cfg, layer := []byte(`{}`), []byte("indexed layer")
		cd, ld := pushBlob(t, s, "library/multi", cfg), pushBlob(t, s, "library/multi", layer)
		m := imageManifest(cd, ld, len(cfg), len(layer))
		md := sha(m)
		if resp, body := s.Do(t, "PUT", "/v2/library/multi/manifests/"+md, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json"); resp.StatusCode != 201 {
			t.Fatalf("PUT manifest = %d %s", resp.StatusCode, body)
		}
		idx := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`+
			`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}`, md, len(m)))
		if resp, body := s.Do(t, "PUT", "/v2/library/multi/manifests/latest", admin, bytes.NewReader(idx), "Content-Type", "application/vnd.oci.image.index.v1+json"); resp.StatusCode != 201 {
			t.Fatalf("PUT index = %d %s", resp.StatusCode, body)
		}
		resp, body := s.Do(t, "DELETE", "/v2/library/multi/manifests/"+md, admin, nil)
		if resp.StatusCode != http.StatusConflict || errCode(t, body) != "DENIED" || !strings.Contains(body, sha(idx)) {
			t.Fatalf("delete of an indexed manifest = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/v2/library/multi/manifests/"+md, admin, nil); resp.StatusCode != 200 {
			t.Fatalf("refused delete removed the manifest: %d", resp.StatusCode)
		}
		// The same manifest in another image is not held by this index.
		pushBlob(t, s, "library/single", cfg)
		pushBlob(t, s, "library/single", layer)
		s.Do(t, "PUT", "/v2/library/single/manifests/v1", admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp, body := s.Do(t, "DELETE", "/v2/library/single/manifests/"+md, admin, nil); resp.StatusCode != 202 {
			t.Fatalf("delete in another image = %d %s", resp.StatusCode, body)
		}
		// Index first, then its child.
		if resp, body := s.Do(t, "DELETE", "/v2/library/multi/manifests/"+sha(idx), admin, nil); resp.StatusCode != 202 {
			t.Fatalf("delete index = %d %s", resp.StatusCode, body)
		}
		if resp, body := s.Do(t, "DELETE", "/v2/library/multi/manifests/"+md, admin, nil); resp.StatusCode != 202 {
			t.Fatalf("delete child after its index = %d %s", resp.StatusCode, body)
		}
	})
}

// TestProxyUpstreamDownError: an uncached pull through a proxy whose
// upstream is unreachable answers 503 with a spec error code and a
// message that names the upstream as the cause.
func TestProxyUpstreamDownError(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		up := apptest.Start(t, "", nil)
		upURL := up.URL
		up.Close()
		resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(fmt.Sprintf(
			`{"name":"downhub","format":"oci","kind":"proxy","settings":{"upstream":{"url":%q}}}`, upURL)))
		if resp.StatusCode != 201 {
			t.Fatalf("create proxy = %d %s", resp.StatusCode, body)
		}
		for _, path := range []string{"/v2/downhub/app/manifests/v1", "/v2/downhub/app/blobs/" + sha([]byte("x"))} {
			resp, body = s.Do(t, "GET", path, admin, nil)
			if resp.StatusCode != 503 || errCode(t, body) != "TOOMANYREQUESTS" || !strings.Contains(body, "upstream registry is unavailable") || resp.Header.Get("Retry-After") == "" {
				t.Fatalf("GET %s with the upstream down = %d %v %s", path, resp.StatusCode, resp.Header, body)
			}
		}
	})
}
