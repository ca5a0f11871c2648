package blob

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestParseDigest(t *testing.T) {
	good := "sha256:" + strings.Repeat("ab", 32)
	if d, err := ParseDigest(good); err != nil || string(d) != good {
		t.Fatalf("ParseDigest(%q) = %q, %v", good, d, err)
	}
	for _, bad := range []string{
		"", "sha256:", "sha256:abc", good[:len(good)-1], good + "0",
		"sha512:" + strings.Repeat("ab", 32), "SHA256:" + strings.Repeat("ab", 32),
		"sha256:" + strings.Repeat("AB", 32), "sha256:" + strings.Repeat("g0", 32),
		"sha256:../" + strings.Repeat("a", 61),
	} {
		if _, err := ParseDigest(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("ParseDigest(%q) = %v, want invalid", bad, err)
		}
	}
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + strings.Repeat("ab", 32))
	f.Add("sha256:../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		h := d.Hex()
		if len(h) != 64 || strings.ContainsAny(h, "/\\.") || "sha256:"+h != s {
			t.Fatalf("accepted %q as %q", s, d)
		}
	})
}
