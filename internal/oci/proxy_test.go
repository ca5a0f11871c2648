package oci_test

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// blobBytesRead reads the upstream's counter of bytes read from its blob store.
func blobBytesRead(t *testing.T, s *apptest.Server) int64 {
	_, body := s.Do(t, "GET", "/metrics", "", nil)
	m := regexp.MustCompile(`arca_blob_bytes_total\{op="get"\} (\S+)`).FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	return int64(f)
}

func TestProxyAndGroup(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// The upstream: a second arca with an image in its library.
		up := apptest.Start(t, "", nil)
		layer := make([]byte, 1<<20)
		rand.Read(layer)
		cd := pushBlob(t, up, "library/app", []byte(`{}`))
		ld := pushBlob(t, up, "library/app", layer)
		m := imageManifest(cd, ld, 2, len(layer))
		up.Do(t, "PUT", "/v2/library/app/manifests/v1", admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")

		resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(fmt.Sprintf(
			`{"name":"hub","format":"oci","kind":"proxy","settings":{"upstream":{"url":%q,"prefix":"library","username":"admin","password":%q,"tag_max_age":"1ms"}}}`,
			up.URL, apptest.AdminPassword)))
		if resp.StatusCode != 201 {
			t.Fatalf("create proxy = %d %s", resp.StatusCode, body)
		}
		resp, body = s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"all","format":"oci","kind":"group","settings":{"members":["library","hub"]}}`))
		if resp.StatusCode != 201 {
			t.Fatalf("create group = %d %s", resp.StatusCode, body)
		}
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"badproxy","format":"oci","kind":"proxy"}`)); resp.StatusCode != 400 {
			t.Fatalf("proxy without upstream = %d %s", resp.StatusCode, body)
		}
		// The upstream password is not shown back.
		if _, body := s.Do(t, "GET", "/api/v1/repositories/hub", admin, nil); strings.Contains(body, apptest.AdminPassword) {
			t.Fatalf("repository API shows the upstream password: %s", body)
		}

		// Pull through the proxy: the upstream's token flow is followed.
		resp, body = s.Do(t, "GET", "/v2/hub/app/manifests/v1", admin, nil)
		if resp.StatusCode != 200 || body != string(m) || resp.Header.Get("Docker-Content-Digest") != sha(m) {
			t.Fatalf("proxied manifest = %d %s", resp.StatusCode, body)
		}
		// Eight clients ask for the layer at once: the upstream serves it once.
		before := blobBytesRead(t, up)
		var wg sync.WaitGroup
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("GET", s.URL+"/v2/hub/app/blobs/"+ld, nil)
				req.SetBasicAuth("admin", apptest.AdminPassword)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("GET: %v", err)
					return
				}
				defer resp.Body.Close()
				var buf bytes.Buffer
				buf.ReadFrom(resp.Body)
				if resp.StatusCode != 200 || !bytes.Equal(buf.Bytes(), layer) {
					t.Errorf("proxied layer = %d, %d bytes", resp.StatusCode, buf.Len())
				}
			}()
		}
		wg.Wait()
		if read := blobBytesRead(t, up) - before; read < int64(len(layer)) || read >= 2*int64(len(layer)) {
			t.Fatalf("upstream read %d bytes of blobs for 8 concurrent pulls of a %d-byte layer", read, len(layer))
		}
		resp, body = s.Do(t, "GET", "/v2/hub/app/tags/list", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"v1"`) {
			t.Fatalf("proxied tags = %d %s", resp.StatusCode, body)
		}
		// The tag moves upstream; after tag_max_age the proxy follows it.
		m2 := imageManifest(cd, cd, 2, 2)
		up.Do(t, "PUT", "/v2/library/app/manifests/v1", admin, bytes.NewReader(m2), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if _, body = s.Do(t, "GET", "/v2/hub/app/manifests/v1", admin, nil); body != string(m2) {
			t.Fatalf("proxy did not revalidate the tag: %s", body)
		}
		// Pushes to a proxy are refused.
		resp, body = s.Do(t, "POST", "/v2/hub/app/blobs/uploads/", admin, nil)
		if resp.StatusCode != 403 || errCode(t, body) != "DENIED" {
			t.Fatalf("push to proxy = %d %s", resp.StatusCode, body)
		}

		// The group: a hosted image of the same name shadows nothing here,
		// but its own image is found first.
		own := pushBlob(t, s, "library/mine", []byte("mine"))
		if resp, body := s.Do(t, "GET", "/v2/all/mine/blobs/"+own, admin, nil); resp.StatusCode != 200 || body != "mine" {
			t.Fatalf("group hosted blob = %d %q", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/v2/all/app/blobs/"+ld, admin, nil); resp.StatusCode != 200 {
			t.Fatalf("group proxied blob = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/v2/all/app/manifests/v1", admin, nil); resp.StatusCode != 200 || body != string(m2) {
			t.Fatalf("group manifest = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/v2/all/nothing/manifests/v1", admin, nil); resp.StatusCode != 404 || errCode(t, body) != "MANIFEST_UNKNOWN" {
			t.Fatalf("group miss = %d %s", resp.StatusCode, body)
		}

		// The upstream goes down: cached content is still served, even
		// past tag_max_age.
		up.Close()
		if resp, body := s.Do(t, "GET", "/v2/hub/app/manifests/v1", admin, nil); resp.StatusCode != 200 || body != string(m2) {
			t.Fatalf("cached tag with the upstream down = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/v2/hub/app/blobs/"+ld, admin, nil); resp.StatusCode != 200 {
			t.Fatalf("cached blob with the upstream down = %d", resp.StatusCode)
		}
		if resp, body := s.Do(t, "GET", "/v2/hub/app/tags/list", admin, nil); resp.StatusCode != 200 || !strings.Contains(body, `"v1"`) {
			t.Fatalf("cached tags with the upstream down = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "GET", "/v2/hub/other/manifests/v1", admin, nil); resp.StatusCode != 503 {
			t.Fatalf("uncached manifest with the upstream down = %d", resp.StatusCode)
		}
	})
}
