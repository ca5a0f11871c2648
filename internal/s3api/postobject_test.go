package s3api_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/auth"
)

// formKey is an access key a browser form is signed with.
type formKey struct{ id, secret string }

// postForm posts a browser-form upload of file to bucket: fields in
// order, then the file. With a key, the policy (conditions and an
// expiry) is signed with SigV4, or SigV2 when v2.
func postForm(t *testing.T, url, bucket string, k *formKey, v2 bool, conds []any, expires time.Time, fields [][2]string, file []byte) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	all := append([][2]string{}, fields...)
	if k != nil {
		now := time.Now().UTC()
		pol := map[string]any{"expiration": expires.UTC().Format("2006-01-02T15:04:05.000Z"), "conditions": conds}
		var cred string
		if !v2 {
			cred = k.id + "/" + now.Format("20060102") + "/us-east-1/s3/aws4_request"
			pol["conditions"] = append(append([]any{}, conds...), map[string]string{"x-amz-credential": cred},
				map[string]string{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, map[string]string{"x-amz-date": now.Format("20060102T150405Z")})
		}
		doc, _ := json.Marshal(pol)
		policy := base64.StdEncoding.EncodeToString(doc)
		if v2 {
			m := hmac.New(sha1.New, []byte(k.secret))
			m.Write([]byte(policy))
			all = append(all, [2]string{"AWSAccessKeyId", k.id}, [2]string{"policy", policy}, [2]string{"signature", base64.StdEncoding.EncodeToString(m.Sum(nil))})
		} else {
			key := []byte("AWS4" + k.secret)
			for _, s := range []string{now.Format("20060102"), "us-east-1", "s3", "aws4_request"} {
				m := hmac.New(sha256.New, key)
				m.Write([]byte(s))
				key = m.Sum(nil)
			}
			m := hmac.New(sha256.New, key)
			m.Write([]byte(policy))
			all = append(all, [2]string{"x-amz-credential", cred}, [2]string{"x-amz-algorithm", "AWS4-HMAC-SHA256"},
				[2]string{"x-amz-date", now.Format("20060102T150405Z")}, [2]string{"policy", policy}, [2]string{"x-amz-signature", hex.EncodeToString(m.Sum(nil))})
		}
	}
	for _, f := range all {
		mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", "upload.txt")
	fw.Write(file)
	mw.Close()
	resp, err := http.Post(url+"/"+bucket, mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestPostObject is POST Object (browser-form uploads) with SigV4 and
// SigV2 policies: the policy's conditions and size range are enforced,
// every role gets what its role allows, a refused upload stores nothing.
func TestPostObject(t *testing.T) {
	eachS3(t, func(t *testing.T, srv *s3Server) {
		ctx := context.Background()
		c := srv.Client
		const b = "forms"
		mkBucket(t, c, b)
		rp, err := srv.Repos.Get(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		keyOf := func(name string, global, onBucket auth.Role) *formKey {
			if _, err := srv.Auth.CreateUser(ctx, name, name+"-password-1", "", global); err != nil {
				t.Fatal(err)
			}
			if onBucket != auth.NoRole {
				if err := srv.Auth.Grant(ctx, name, rp.ID, onBucket); err != nil {
					t.Fatal(err)
				}
			}
			k, secret, err := srv.Auth.CreateAccessKey(ctx, name, "", "", "")
			if err != nil {
				t.Fatal(err)
			}
			return &formKey{k.ID, secret}
		}
		admin := &formKey{srv.KeyID, srv.Secret}
		dev := keyOf("formdev", auth.NoRole, auth.Developer)
		reader := keyOf("formreader", auth.NoRole, auth.Reader)
		maint := keyOf("formmaint", auth.NoRole, auth.Maintainer)
		other := keyOf("formother", auth.NoRole, auth.NoRole)
		later := time.Now().Add(time.Hour)
		conds := []any{map[string]string{"bucket": b}, []any{"starts-with", "$key", "up/"}, []any{"starts-with", "$Content-Type", "text/"},
			[]any{"content-length-range", 1, 100}}
		fields := func(key string, extra ...[2]string) [][2]string {
			return append([][2]string{{"key", key}, {"Content-Type", "text/plain"}}, extra...)
		}

		// SigV4 and SigV2 policies, by an admin; ${filename} names the key.
		if code, body := postForm(t, srv.S3URL, b, admin, false, conds, later, fields("up/v4.txt"), []byte("four")); code != http.StatusNoContent {
			t.Fatalf("SigV4 POST: %d %s", code, body)
		}
		if code, body := postForm(t, srv.S3URL, b, admin, true, append(conds, map[string]string{"success_action_status": "201"}), later, fields("up/${filename}", [2]string{"success_action_status", "201"}), []byte("two")); code != http.StatusCreated || !strings.Contains(body, "<Key>up/upload.txt</Key>") {
			t.Fatalf("SigV2 POST with success_action_status 201: %d %s", code, body)
		}
		if got := string(get(t, c, b, "up/v4.txt")); got != "four" {
			t.Fatalf("GET after POST = %q", got)
		}
		head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("up/upload.txt")})
		if err != nil || aws.ToString(head.ContentType) != "text/plain" {
			t.Fatalf("HEAD after POST: %v %v", err, head)
		}

		// Roles: developers write new keys, maintainers replace, readers,
		// users of other buckets and anonymous forms are refused.
		for _, tc := range []struct {
			who  string
			k    *formKey
			key  string
			want int
		}{
			{"developer, new key", dev, "up/dev.txt", http.StatusNoContent},
			{"developer, existing key", dev, "up/v4.txt", http.StatusForbidden},
			{"maintainer, existing key", maint, "up/v4.txt", http.StatusNoContent},
			{"reader", reader, "up/reader.txt", http.StatusForbidden},
			{"user of another bucket", other, "up/other.txt", http.StatusForbidden},
			{"anonymous", nil, "up/anon.txt", http.StatusForbidden},
		} {
			code, body := postForm(t, srv.S3URL, b, tc.k, false, conds, later, fields(tc.key), []byte("role"))
			if code != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.who, code, body, tc.want)
			}
		}

		// Refusals: nothing is stored.
		wrongSecret := &formKey{admin.id, "not-the-secret-at-all"}
		for _, tc := range []struct {
			name   string
			k      *formKey
			conds  []any
			exp    time.Time
			fields [][2]string
			file   string
			want   int
			code   string
		}{
			{"expired policy", admin, conds, time.Now().Add(-time.Minute), fields("up/x1"), "data", 403, "AccessDenied"},
			{"condition not met", admin, conds, later, fields("down/x2"), "data", 403, "AccessDenied"},
			{"field not in the conditions", admin, conds, later, fields("up/x3", [2]string{"x-amz-meta-extra", "v"}), "data", 403, "AccessDenied"},
			{"too large", admin, conds, later, fields("up/x4"), strings.Repeat("x", 101), 400, "EntityTooLarge"},
			{"too small", admin, conds, later, fields("up/x5"), "", 400, "EntityTooSmall"},
			{"wrong signature", wrongSecret, conds, later, fields("up/x6"), "data", 403, "SignatureDoesNotMatch"},
			{"unknown access key", &formKey{"ARCANOSUCHKEY", "secret-secret"}, conds, later, fields("up/x7"), "data", 403, "InvalidAccessKeyId"},
			{"empty condition", admin, []any{map[string]string{}}, later, fields("up/x8"), "data", 400, "InvalidPolicyDocument"},
			{"bad content-length-range", admin, []any{[]any{"content-length-range", -1, 0}}, later, fields("up/x9"), "data", 400, "InvalidPolicyDocument"},
			{"no key", admin, conds, later, [][2]string{{"Content-Type", "text/plain"}}, "data", 400, "InvalidArgument"},
			{"bad checksum", admin, conds, later, fields("up/x10", [2]string{"x-amz-checksum-sha256", base64.StdEncoding.EncodeToString(make([]byte, 32))}), "data", 400, "BadDigest"},
		} {
			code, body := postForm(t, srv.S3URL, b, tc.k, false, tc.conds, tc.exp, tc.fields, []byte(tc.file))
			if code != tc.want || !strings.Contains(body, "<Code>"+tc.code+"</Code>") {
				t.Errorf("%s: %d %s, want %d %s", tc.name, code, body, tc.want, tc.code)
			}
		}
		out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
		if err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		if fmt.Sprint(keys) != "[up/dev.txt up/upload.txt up/v4.txt]" {
			t.Fatalf("keys after the POSTs: %v", keys)
		}
		if got := string(get(t, c, b, "up/v4.txt")); got != "role" {
			t.Fatalf("the maintainer's POST did not replace up/v4.txt: %q", got)
		}

		// The fields before the file are bounded for unsigned requests.
		var big bytes.Buffer
		mw := multipart.NewWriter(&big)
		mw.WriteField("key", "up/big")
		mw.WriteField("x-ignore-pad", strings.Repeat("p", 2<<20))
		mw.Close()
		resp, err := http.Post(srv.S3URL+"/"+b, mw.FormDataContentType(), &big)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(body), "MaxPostPreDataLengthExceeded") {
			t.Fatalf("2 MiB of fields before the file: %d %s", resp.StatusCode, body)
		}
	})
}
