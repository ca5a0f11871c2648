package s3api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseCompleteClaim(t *testing.T) {
	for _, tc := range []struct {
		header, value, typ string
		alg                string
		parts              int
		code               string
	}{
		{"", "", "", "", 0, ""},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "", algCRC32, 0, ""},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "FULL_OBJECT", algCRC32, 0, ""},
		{"X-Amz-Checksum-Sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "", algSHA256, 3, ""},
		{"X-Amz-Checksum-Sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "FULL_OBJECT", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "COMPOSITE", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Sha1", "AAAAAA==-2", "", "", 0, "BadDigest"},
		{"X-Amz-Checksum-Sha1", "!!!", "", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==-0", "", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==-02", "", "", 0, "InvalidRequest"},
		{"X-Amz-Checksum-Crc32", "AAAAAA==", "OTHER", "", 0, "InvalidRequest"},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set(tc.header, tc.value)
		}
		if tc.typ != "" {
			h.Set("X-Amz-Checksum-Type", tc.typ)
		}
		c, err := parseCompleteClaim(h)
		if errs.CodeOf(err) != tc.code || (err == nil && (c.Alg != tc.alg || c.Parts != tc.parts || c.Value != tc.value)) {
			t.Errorf("%s: %q (%s) = %+v, %v; want %s %d %q", tc.header, tc.value, tc.typ, c, err, tc.alg, tc.parts, tc.code)
		}
	}
}

func FuzzParseCompleteClaim(f *testing.F) {
	f.Add("crc32", "AAAAAA==", "")
	f.Add("sha256", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=-3", "COMPOSITE")
	f.Fuzz(func(t *testing.T, alg, value, typ string) {
		h := http.Header{}
		h.Set("X-Amz-Checksum-"+alg, value)
		h.Set("X-Amz-Checksum-Type", typ)
		c, err := parseCompleteClaim(h)
		if err != nil {
			return
		}
		if c.Alg != "" {
			b64, _, _ := strings.Cut(c.Value, "-")
			if !validChecksumValue(c.Alg, b64) || (c.Parts > 0) != strings.Contains(c.Value, "-") || c.Parts > 10000 {
				t.Fatalf("accepted %q for %s as %+v", value, alg, c)
			}
		}
	})
}
