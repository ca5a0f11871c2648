package search_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// BenchmarkReindexImageOf1000Tags: the drain's rebuild of one image's
// group, which every push to the image calls for, when the image has 1,000
// tags (a tag per CI build). Each tag's labels come from its manifest and
// config; they are cached by manifest digest.
func BenchmarkReindexImageOf1000Tags(b *testing.B) {
	s := apptest.Start(b, "", nil)
	var digests []string
	for _, blob := range []string{`{"architecture":"amd64","os":"linux","config":{"Labels":{"org.opencontainers.image.description":"a big image"}}}`, "layer"} {
		d := sha([]byte(blob))
		if resp, _ := s.Do(b, "POST", "/v2/library/big/blobs/uploads/?digest="+d, admin, strings.NewReader(blob), "Content-Type", "application/octet-stream"); resp.StatusCode != 201 {
			b.Fatalf("blob push = %d", resp.StatusCode)
		}
		digests = append(digests, d)
	}
	cd, ld := digests[0], digests[1]
	for i := range 1000 {
		m := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
			`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":1},`+
			`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":%q,"size":5}],"annotations":{"build":"%d"}}`, cd, ld, i)
		resp, _ := s.Do(b, "PUT", fmt.Sprintf("/v2/library/big/manifests/build-%d", i), admin, strings.NewReader(m), "Content-Type", "application/vnd.oci.image.manifest.v1+json")
		if resp.StatusCode != 201 {
			b.Fatalf("manifest push = %d", resp.StatusCode)
		}
	}
	ctx := context.Background()
	for b.Loop() {
		st, err := s.Search.ReindexGroups(ctx, "library", []string{"big"})
		if err != nil || st.Documents != 1000 {
			b.Fatalf("reindex = %+v, %v", st, err)
		}
	}
}
