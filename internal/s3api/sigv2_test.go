package s3api

import (
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// presignV2 makes a SigV2 presigned GET URL valid until expires, as awscli
// v1's `aws s3 presign` does.
func presignV2(expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	r := httptest.NewRequest("GET", "http://s3.example.com/bucket/key.txt", nil)
	sig := v2Sign(exampleSecret, v2StringToSign(r, exp))
	return "http://s3.example.com/bucket/key.txt?AWSAccessKeyId=" + exampleKeyID + "&Expires=" + exp + "&Signature=" + url.QueryEscape(sig)
}

// TestV2PresignedExpiry holds SigV2 presigned URLs to SigV4's 7-day maximum.
func TestV2PresignedExpiry(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		name    string
		expires time.Time
		code    string // "" when accepted
		message string
	}{
		{"an hour", now.Add(time.Hour), "", ""},
		{"seven days", now.Add(7 * 24 * time.Hour), "", ""},
		{"eight days", now.Add(8 * 24 * time.Hour), "AccessDenied", "at most 7 days"},
		{"thirty days", now.Add(30 * 24 * time.Hour), "AccessDenied", "at most 7 days"},
		{"expired", now.Add(-time.Minute), "AccessDenied", "expired"},
	} {
		r := httptest.NewRequest("GET", presignV2(c.expires), nil)
		sig, err := verify(r, now, exampleLookup)
		switch {
		case c.code == "" && (err != nil || sig == nil || !sig.presigned):
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.code != "" && (errs.CodeOf(err) != c.code || !strings.Contains(errs.Message(err), c.message)):
			t.Errorf("%s: %v, want %s (%s)", c.name, err, c.code, c.message)
		}
	}
}
