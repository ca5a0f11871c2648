package s3api_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestListEncoding is issue 24 defect 4: encoding-type=url encodes a
// space as %20 and '+' as %2B, a prefix with a control character comes
// back as sent, and an empty ContinuationToken is echoed.
func TestListEncoding(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		b := "encoding"
		mkBucket(t, c, b)
		keys := []string{"dir one/a b", "x+y", "ctl\x01key", "é/ü"}
		for _, k := range keys {
			if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: aws.String(k), Body: strings.NewReader(k)}); err != nil {
				t.Fatalf("PutObject %q: %v", k, err)
			}
		}
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, EncodingType: types.EncodingTypeUrl})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"dir one/a b": "dir%20one/a%20b", "x+y": "x%2By", "ctl\x01key": "ctl%01key", "é/ü": "%C3%A9/%C3%BC"}
		if len(out.Contents) != len(keys) {
			t.Fatalf("%d keys listed, want %d", len(out.Contents), len(keys))
		}
		for _, o := range out.Contents {
			dec, err := url.PathUnescape(aws.ToString(o.Key))
			if err != nil || want[dec] != aws.ToString(o.Key) {
				t.Errorf("listed key %q (decoded %q, %v), want it encoded as %q", aws.ToString(o.Key), dec, err, want[dec])
			}
		}
		for _, enc := range []types.EncodingType{types.EncodingTypeUrl, ""} {
			for _, prefix := range []string{"\n", "dir one/"} {
				out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, Prefix: aws.String(prefix), EncodingType: enc})
				if err != nil {
					t.Fatalf("prefix %q: %v", prefix, err)
				}
				got := aws.ToString(out.Prefix)
				if enc != "" {
					got, _ = url.PathUnescape(got)
				}
				if got != prefix {
					t.Errorf("encoding %q: prefix %q came back as %q", enc, prefix, aws.ToString(out.Prefix))
				}
			}
		}
		out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b, ContinuationToken: aws.String("")})
		if err != nil {
			t.Fatal(err)
		}
		if out.ContinuationToken == nil || *out.ContinuationToken != "" || len(out.Contents) != len(keys) {
			t.Errorf("empty continuation token: echoed %v, %d keys", out.ContinuationToken, len(out.Contents))
		}
	})
}

// TestContentEncodingKept is issue 24 defect 6: Content-Encoding comes
// back byte for byte, only an aws-chunked token removed (the SDK adds one
// to its aws-chunked uploads over TLS).
func TestContentEncodingKept(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		b := "encodings"
		mkBucket(t, srv.Client, b)
		for name, c := range map[string]*s3.Client{"plain": srv.Client, "aws-chunked": srv.TLSClient} {
			for _, enc := range []string{"deflate, gzip", "gzip", "br,identity"} {
				key := name + "/" + enc
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &b, Key: &key, Body: strings.NewReader("x"), ContentEncoding: aws.String(enc)}); err != nil {
					t.Fatalf("%s: PutObject: %v", name, err)
				}
				h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b, Key: &key})
				if err != nil {
					t.Fatal(err)
				}
				if got := aws.ToString(h.ContentEncoding); got != enc {
					t.Errorf("%s: Content-Encoding %q came back as %q", name, enc, got)
				}
			}
		}
	})
}
