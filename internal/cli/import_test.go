package cli

import (
	"strings"
	"testing"
)

// TestImportUsage: the sources are listed, and each refuses to start
// without what it needs.
func TestImportUsage(t *testing.T) {
	r := run{dir: t.TempDir(), t: t}
	if code, _, errb := r.arca("", "import"); code != 2 || !strings.Contains(errb, "mlflow") || !strings.Contains(errb, "pypi") ||
		!strings.Contains(errb, "s3") {
		t.Fatalf("arca import: %d %q", code, errb)
	}
	if code, _, _ := r.arca("", "import", "nope"); code != 2 {
		t.Fatalf("arca import nope: %d", code)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"import", "mlflow"}, "--url"},
		{[]string{"import", "pypi", "--repo", "x"}, "--dir or --index"},
		{[]string{"import", "pypi", "--dir", ".", "--index", "http://h/simple/", "--repo", "x"}, "--dir or --index"},
		{[]string{"import", "s3", "--bucket", "b"}, "--endpoint"},
		{[]string{"import", "s3", "--endpoint", "ftp://h", "--bucket", "b"}, "--endpoint"},
	} {
		code, _, errb := r.arca("", c.args...)
		if code == 0 || !strings.Contains(errb, c.want) {
			t.Errorf("%v: %d %q, want a failure naming %s", c.args, code, errb, c.want)
		}
	}
}
