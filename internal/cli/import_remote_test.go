package cli

import (
	"strings"
	"testing"
)

// TestImportRemoteSourcesRefuseBadFlags: the usage lists the sources, and
// each source refuses missing or conflicting flags before touching
// anything, with a message naming the flag.
func TestImportRemoteSourcesRefuseBadFlags(t *testing.T) {
	r := run{dir: t.TempDir(), t: t}
	code, _, errOut := r.arca("", "import")
	for _, s := range []string{"oci ", "npm ", "nexus "} {
		if code != 2 || !strings.Contains(errOut, "  "+s) {
			t.Fatalf("arca import = %d, usage %q lacks %q", code, errOut, s)
		}
	}
	for _, c := range []struct {
		stdin string
		args  []string
		want  string
	}{
		{"", []string{"import", "oci"}, "--url is required"},
		{"", []string{"import", "oci", "--url", "ftp://x"}, "want http(s)"},
		{"", []string{"import", "oci", "--url", "http://127.0.0.1:1", "--prefix", "Bad_Name"}, "--prefix"},
		{"", []string{"import", "npm", "--url", "http://127.0.0.1:1", "--repo", "npm-x"}, "--packages is required"},
		{"", []string{"import", "npm", "--url", "http://127.0.0.1:1", "--verdaccio-storage", "/tmp", "--repo", "npm-x"}, "not both"},
		{"", []string{"import", "npm", "--verdaccio-storage", "/tmp"}, "--repo"},
		{"", []string{"import", "nexus", "--url", "http://127.0.0.1:1", "--to", "x"}, "--repository"},
		{"pw\n", []string{"import", "nexus", "--url", "http://127.0.0.1:1", "--repository", "r", "--to", "x", "--password", "a", "--password-stdin"}, "exclude each other"},
	} {
		code, out, errOut := r.arca(c.stdin, c.args...)
		if code == 0 || !strings.Contains(out+errOut, c.want) {
			t.Errorf("arca %s = %d\n%s%s\nwant a message with %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}
