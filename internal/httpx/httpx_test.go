package httpx

import (
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/errs"
)

func TestCheckPath(t *testing.T) {
	for _, ok := range []string{"/", "/raw/files/a", "/raw/files/dir/", "/v2/", "/npm/x/@scope/name", "/a/..b/c.."} {
		if err := CheckPath(ok); err != nil {
			t.Errorf("CheckPath(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a", "/raw/../x", "/raw/./x", "/raw//x", "/raw/x/..", "/a\\b", "/a\x00", "/a\nb"} {
		if err := CheckPath(bad); !errs.Is(err, errs.Invalid) {
			t.Errorf("CheckPath(%q) = %v, want invalid", bad, err)
		}
	}
}

func FuzzCheckPath(f *testing.F) {
	f.Add("/raw/files/a/b")
	f.Add("/raw/../x")
	f.Fuzz(func(t *testing.T, p string) {
		if CheckPath(p) != nil {
			return
		}
		for i, seg := range strings.Split(p[1:], "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("accepted %q with segment %d %q", p, i, seg)
			}
		}
		if strings.Contains(p, "//") || strings.Contains(p, "\\") {
			t.Fatalf("accepted %q", p)
		}
	})
}

func TestStatus(t *testing.T) {
	for k, want := range map[errs.Kind]int{
		errs.NotFound: 404, errs.Invalid: 400, errs.Conflict: 409, errs.Denied: 403, errs.Unauthenticated: 401,
		errs.TooLarge: 413, errs.Unavailable: 503, errs.TooMany: 429, errs.Unsupported: 501, errs.Internal: 500, errs.Precondition: 412,
	} {
		if got := Status(errs.E(k, "x")); got != want {
			t.Errorf("Status(%v) = %d, want %d", k, got, want)
		}
	}
}
