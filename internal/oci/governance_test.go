package oci_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
)

func createRepo(t *testing.T, s *apptest.Server, name string, settings string) {
	t.Helper()
	resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"`+name+`","format":"oci","settings":`+settings+`}`))
	if resp.StatusCode != 201 {
		t.Fatalf("create %s = %d %s", name, resp.StatusCode, body)
	}
}

// pushImage pushes a one-layer image whose layer is content, tagged tag.
func pushImage(t *testing.T, s *apptest.Server, name, tag string, content []byte) (string, *http.Response, string) {
	t.Helper()
	cd := pushBlob(t, s, name, []byte(`{}`))
	ld := pushBlob(t, s, name, content)
	m := imageManifest(cd, ld, 2, len(content))
	resp, body := s.Do(t, "PUT", "/v2/"+name+"/manifests/"+tag, admin, bytes.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
	return sha(m), resp, body
}

func TestGovernance(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		if resp, body := s.Do(t, "POST", "/api/v1/repositories", admin, strings.NewReader(`{"name":"bad","format":"oci","settings":{"immutable_tagz":["x"]}}`)); resp.StatusCode != 400 {
			t.Fatalf("unknown setting accepted: %d %s", resp.StatusCode, body)
		}
		createRepo(t, s, "prod", `{"immutable_tags":["v*"],"quota_bytes":3000}`)

		// Immutable tags: a first push works, moving the tag is DENIED.
		d1, resp, _ := pushImage(t, s, "prod/app", "v1", []byte("first"))
		if resp.StatusCode != 201 {
			t.Fatalf("first push of v1 = %d", resp.StatusCode)
		}
		if _, resp, _ := pushImage(t, s, "prod/app", "v1", []byte("first")); resp.StatusCode != 201 {
			t.Fatalf("re-push of the same v1 = %d", resp.StatusCode)
		}
		_, resp, body := pushImage(t, s, "prod/app", "v1", []byte("second"))
		if resp.StatusCode != 403 || errCode(t, body) != "DENIED" {
			t.Fatalf("moving an immutable tag = %d %s", resp.StatusCode, body)
		}
		if _, body := s.Do(t, "GET", "/v2/prod/app/manifests/v1", admin, nil); !strings.Contains(body, "first") && sha([]byte(body)) != d1 {
			t.Fatal("immutable tag moved")
		}
		if resp, body := s.Do(t, "DELETE", "/v2/prod/app/manifests/v1", admin, nil); resp.StatusCode != 403 || errCode(t, body) != "DENIED" {
			t.Fatalf("deleting an immutable tag = %d", resp.StatusCode)
		}
		if resp, _ := s.Do(t, "DELETE", "/v2/prod/app/manifests/"+d1, admin, nil); resp.StatusCode != 403 {
			t.Fatalf("deleting the manifest of an immutable tag = %d", resp.StatusCode)
		}
		// Mutable tags move freely.
		if _, resp, _ := pushImage(t, s, "prod/app", "latest", []byte("second")); resp.StatusCode != 201 {
			t.Fatalf("latest = %d", resp.StatusCode)
		}

		// Quota: 3000 bytes. Content already held is free; new content over the quota is DENIED.
		big := bytes.Repeat([]byte("q"), 2500)
		resp, body = s.Do(t, "POST", "/v2/prod/app/blobs/uploads/?digest="+sha(big), admin, bytes.NewReader(big))
		if resp.StatusCode != 403 || errCode(t, body) != "DENIED" || !strings.Contains(body, "quota") {
			t.Fatalf("push over quota = %d %s", resp.StatusCode, body)
		}
		if resp, _ := s.Do(t, "HEAD", "/v2/prod/app/blobs/"+sha(big), admin, nil); resp.StatusCode != 404 {
			t.Fatal("blob over quota was linked")
		}
		if resp, _ := s.Do(t, "POST", "/v2/prod/other/blobs/uploads/?digest="+sha([]byte("first")), admin, strings.NewReader("first")); resp.StatusCode != 201 {
			t.Fatalf("push of content the repository holds = %d", resp.StatusCode)
		}
	})
}

func TestRetention(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		createRepo(t, s, "ci", `{"retention":{"keep_last":2,"keep_tags":["stable"],"delete_untagged":true}}`)
		var digests []string
		for i := 0; i < 5; i++ {
			d, resp, _ := pushImage(t, s, "ci/app", fmt.Sprintf("build-%d", i), []byte(fmt.Sprintf("build %d", i)))
			if resp.StatusCode != 201 {
				t.Fatalf("push %d = %d", i, resp.StatusCode)
			}
			digests = append(digests, d)
			time.Sleep(2 * time.Millisecond) // distinct push times
		}
		// build-0 is also "stable"; build-1 gets a signature-like referrer.
		s.Do(t, "PUT", "/v2/ci/app/manifests/stable", admin, bytes.NewReader(mustManifest(t, s, "ci/app", digests[0])), "Content-Type", "application/vnd.oci.image.manifest.v1+json")

		resp, body := s.Do(t, "POST", "/api/v1/repositories/ci/retention?dry_run=true", admin, nil)
		var res struct {
			DryRun    bool     `json:"dry_run"`
			Tags      []string `json:"deleted_tags"`
			Manifests []string `json:"deleted_manifests"`
		}
		json.Unmarshal([]byte(body), &res)
		// Newest first: stable (kept by pattern), build-4 and build-3 (the last 2), then build-2, build-1, build-0 go.
		if resp.StatusCode != 200 || !res.DryRun || strings.Join(res.Tags, ",") != "app:build-0,app:build-1,app:build-2" {
			t.Fatalf("dry run = %d %s", resp.StatusCode, body)
		}
		// build-0's manifest stays: "stable" still names it.
		if len(res.Manifests) != 2 || strings.Contains(strings.Join(res.Manifests, ","), digests[0]) {
			t.Fatalf("dry run manifests = %v", res.Manifests)
		}
		if resp, body := s.Do(t, "GET", "/v2/ci/app/manifests/build-1", admin, nil); resp.StatusCode != 200 {
			t.Fatalf("dry run deleted a tag: %d %s", resp.StatusCode, body)
		}
		rp, _ := s.Repos.Get(ctx, "ci")
		real, err := s.OCI.Retain(ctx, rp, false)
		if err != nil || len(real.Tags) != 3 || len(real.Manifests) != 2 {
			t.Fatalf("retention = %+v, %v", real, err)
		}
		for tag, want := range map[string]int{"build-0": 404, "build-1": 404, "build-2": 404, "build-3": 200, "build-4": 200, "stable": 200} {
			if resp, _ := s.Do(t, "GET", "/v2/ci/app/manifests/"+tag, admin, nil); resp.StatusCode != want {
				t.Errorf("after retention %s = %d, want %d", tag, resp.StatusCode, want)
			}
		}
		if resp, _ := s.Do(t, "GET", "/v2/ci/app/manifests/"+digests[1], admin, nil); resp.StatusCode != 404 {
			t.Errorf("untagged manifest kept: %d", resp.StatusCode)
		}
		// Only repository admins may run it.
		s.Auth.CreateUser(ctx, "dev", "dev-password", "", "developer")
		if resp, _ := s.Do(t, "POST", "/api/v1/repositories/ci/retention", "dev:dev-password", nil); resp.StatusCode != 403 {
			t.Fatalf("developer runs retention = %d", resp.StatusCode)
		}
	})
}

// mustManifest returns the stored bytes of a manifest.
func mustManifest(t *testing.T, s *apptest.Server, name, digest string) []byte {
	t.Helper()
	resp, body := s.Do(t, "GET", "/v2/"+name+"/manifests/"+digest, admin, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s = %d", digest, resp.StatusCode)
	}
	return []byte(body)
}
