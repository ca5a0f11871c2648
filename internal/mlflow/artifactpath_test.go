package mlflow

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
)

func TestCleanArtifactPath(t *testing.T) {
	ok := []string{
		"1/abc/artifacts/model.pkl",
		"0/traces/tr-1/artifacts/traces.json",
		"custom/dir/file with space.txt",
		"1/r/artifacts/100%.txt",  // an escape that is not one stays literal
		"1/r/artifacts/a%20b.txt", // decodes to a harmless name; the key stays as given
		"1/r/artifacts/.hidden",   // dot files are fine, dot segments are not
		"1/r/artifacts/..data",
		"1/r/artifacts/ünïcödé.bin",
		"1/r/C:x", // a colon past the first segment is a name
	}
	for _, p := range ok {
		got, err := cleanArtifactPath(p)
		if err != nil || got != p {
			t.Errorf("cleanArtifactPath(%q) = %q, %v; want it unchanged", p, got, err)
		}
	}
	bad := []string{
		"",
		"/etc/passwd",
		"../x",
		"1/../../x",
		"1/./x",
		"1//x",
		"1/x/",
		"1/x/..",
		`1\..\x`,
		"1/x\x00y",
		"1/x\ny",
		"1/x#frag",
		"C:/windows",
		"c:x",
		"1/%2e%2e/x",      // decodes to ..
		"1/%252e%252e/x",  // decodes twice to ..
		"1%2F..%2F..%2Fx", // encoded slashes around ..
		"1/a%5C..%5Cb",    // encoded backslashes
		"%2Fetc",          // encoded leading slash
		"1/x%00y",         // encoded NUL
		"1/x%2F%2Fy",      // encoded empty segment
		"1/%zz/%2e%2e/x",  // a broken escape does not hide the others
		"1/\xff",          // not UTF-8
		strings.Repeat("a", maxArtifactPath+1),
	}
	for _, p := range bad {
		_, err := cleanArtifactPath(p)
		if err == nil {
			t.Errorf("cleanArtifactPath(%q) accepted", p)
			continue
		}
		if !errs.Is(err, errs.Invalid) || errs.CodeOf(err) != codeInvalidParameter {
			t.Errorf("cleanArtifactPath(%q) = %v, want INVALID_PARAMETER_VALUE", p, err)
		}
	}
}

func TestArtifactExperiment(t *testing.T) {
	for key, want := range map[string]int64{"1/r/artifacts/x": 1, "0/traces/t": 0, "123": 123} {
		if id, ok := artifactExperiment(key); !ok || id != want {
			t.Errorf("artifactExperiment(%q) = %d, %v; want %d", key, id, ok, want)
		}
	}
	for _, key := range []string{"", "custom/x", "01/x", "-1/x", "1a/x", "99999999999999999999/x", "+1/x"} {
		if id, ok := artifactExperiment(key); ok {
			t.Errorf("artifactExperiment(%q) = %d, want none", key, id)
		}
	}
}

func TestCleanListPath(t *testing.T) {
	for in, want := range map[string]string{"": "", "1/r": "1/r", "1/r/": "1/r"} {
		if got, err := cleanListPath(in); err != nil || got != want {
			t.Errorf("cleanListPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"/", "1//", "../1", "1/r//"} {
		if _, err := cleanListPath(in); err == nil {
			t.Errorf("cleanListPath(%q) accepted", in)
		}
	}
}

// FuzzCleanArtifactPath checks the cleaner's promise on any input: what it
// accepts is returned unchanged, is valid UTF-8 of bounded length, and in
// no decoding names a parent, an absolute path, an empty segment, a
// backslash or a control character.
func FuzzCleanArtifactPath(f *testing.F) {
	for _, s := range []string{"1/r/artifacts/x", "../x", "1/%2e%2e/x", "1%2F..%2Fx", "a%252F..%252Fb", "%zz%2e%2e", "%2", `a\b`, "C:/x", "%", "%%2e", "1/./x", "a//b", "x#y", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := cleanArtifactPath(p)
		if err != nil {
			if errs.CodeOf(err) != codeInvalidParameter {
				t.Fatalf("cleanArtifactPath(%q): error without INVALID_PARAMETER_VALUE: %v", p, err)
			}
			return
		}
		if got != p {
			t.Fatalf("cleanArtifactPath(%q) = %q: accepted paths are kept as given", p, got)
		}
		if !utf8.ValidString(p) || len(p) == 0 || len(p) > maxArtifactPath {
			t.Fatalf("cleanArtifactPath accepted %q", p)
		}
		spelling := p
		for {
			if strings.HasPrefix(spelling, "/") || strings.ContainsAny(spelling, "\\\x00#") {
				t.Fatalf("cleanArtifactPath accepted %q (spelled %q)", p, spelling)
			}
			for _, seg := range strings.Split(spelling, "/") {
				if seg == "" || seg == "." || seg == ".." {
					t.Fatalf("cleanArtifactPath accepted %q (spelled %q)", p, spelling)
				}
			}
			d := unescapeLenient(spelling)
			if d == spelling {
				break
			}
			spelling = d
		}
	})
}
