package usage_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/arcaproject/arca/internal/app/apptest"
)

const admin = apptest.Admin

func do(t *testing.T, s *apptest.Server, method, path, who, body string, want int) string {
	t.Helper()
	resp, out := s.Do(t, method, path, who, strings.NewReader(body), "Content-Type", "application/json")
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, out, want)
	}
	return out
}

// TestQuotas refuses uploads past a repository's quota_bytes with each
// protocol's own error, counts content the repository holds already as
// free, and audits the refusal (which webhooks send as
// io.arca.quota.exceeded).
func TestQuotas(t *testing.T) {
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		// raw: 403 with the reason.
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"small","format":"raw","quota_bytes":100}`, 201)
		do(t, s, "PUT", "/raw/small/a", admin, strings.Repeat("a", 60), 201)
		out := do(t, s, "PUT", "/raw/small/b", admin, strings.Repeat("b", 60), 403)
		if !strings.Contains(out, "quota") {
			t.Fatalf("raw refusal = %s", out)
		}
		do(t, s, "PUT", "/raw/small/a-again", admin, strings.Repeat("a", 60), 201) // held already: free
		do(t, s, "GET", "/raw/small/b", admin, "", 404)                            // nothing half-written
		// The quota is a setting of the repository: raised, the upload passes.
		do(t, s, "PATCH", "/api/v1/repositories/small", admin, `{"quota_bytes":1000}`, 200)
		do(t, s, "PUT", "/raw/small/b", admin, strings.Repeat("b", 60), 201)

		// Maven: 403 with text.
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"mvn-small","format":"maven","quota_bytes":10}`, 201)
		do(t, s, "PUT", "/maven/mvn-small/com/example/lib/1.0/lib-1.0.jar", admin, strings.Repeat("j", 50), 403)

		// S3 with the SDK: QuotaExceeded, 403.
		do(t, s, "POST", "/api/v1/repositories", admin, `{"name":"bucket-small","format":"s3","quota_bytes":10}`, 201)
		ts := httptest.NewServer(s.S3Handler())
		defer ts.Close()
		k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "test")
		if err != nil {
			t.Fatal(err)
		}
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(ts.URL), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
		_, err = c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bucket-small"), Key: aws.String("big"),
			Body: strings.NewReader(strings.Repeat("x", 50))})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "QuotaExceeded" {
			t.Fatalf("S3 put past quota: %v", err)
		}
		if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("bucket-small"), Key: aws.String("tiny"),
			Body: strings.NewReader("ok")}); err != nil {
			t.Fatal(err)
		}

		// Every refusal is audited as quota.exceeded.
		audit := do(t, s, "GET", "/api/v1/audit?action=quota.exceeded", admin, "", 200)
		for _, r := range []string{"small", "mvn-small", "bucket-small"} {
			if !strings.Contains(audit, `"`+r+`"`) {
				t.Errorf("no quota.exceeded of %s in %s", r, audit)
			}
		}
		// Negative quotas are refused.
		do(t, s, "PATCH", "/api/v1/repositories/small", admin, `{"quota_bytes":-1}`, 400)
	})
}
