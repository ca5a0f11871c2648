package search_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app/apptest"
)

// TestReindexManyGroups: a drain rebuilds changed groups in chunks (one
// delete and one query per chunk): 450 S3 keys (two full chunks and a
// part) and Maven's two-column groups are all indexed, and keys deleted
// since leave the index with their chunk.
func TestReindexManyGroups(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		ctx := context.Background()
		c := s3Client(t, s)
		var keys []string
		for i := range 450 {
			k := fmt.Sprintf("batch/obj-%03d", i)
			putS3(t, s, c, "dvc-storage", k, []byte(k))
			keys = append(keys, k)
		}
		docs := func(repository string) int {
			var n int
			if err := s.DB.QueryRow(`SELECT COUNT(*) FROM search_docs WHERE repository = $1`, repository).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := docs("dvc-storage"); n != 0 {
			t.Fatalf("%d documents before any reindex (no jobs run)", n)
		}
		st, err := s.Search.ReindexGroups(ctx, "dvc-storage", keys)
		if err != nil || st.Documents != 450 || docs("dvc-storage") != 450 {
			t.Fatalf("reindex of 450 keys = %+v, %v; %d documents", st, err, docs("dvc-storage"))
		}
		for _, k := range keys[190:210] { // across the first chunk's end
			if _, err := c.DeleteObject(ctx, &s3sdk.DeleteObjectInput{Bucket: aws.String("dvc-storage"), Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Search.ReindexGroups(ctx, "dvc-storage", keys); err != nil || docs("dvc-storage") != 430 {
			t.Fatalf("after deleting 20 keys: %v; %d documents, want 430", err, docs("dvc-storage"))
		}

		var groups []string
		for _, a := range []string{"alpha", "beta", "gamma"} {
			do(t, s, "PUT", "/maven/maven-hosted/com/example/"+a+"/1.0/"+a+"-1.0.jar", admin, "jar of "+a, 201)
			groups = append(groups, "com.example:"+a)
		}
		if st, err := s.Search.ReindexGroups(ctx, "maven-hosted", groups); err != nil || st.Documents != 3 || docs("maven-hosted") != 3 {
			t.Fatalf("reindex of 3 Maven groups = %+v, %v; %d documents", st, err, docs("maven-hosted"))
		}
	})
}
