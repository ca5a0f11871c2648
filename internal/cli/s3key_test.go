package cli

import (
	"strings"
	"testing"
)

func TestS3KeyCommands(t *testing.T) {
	r := run{dir: t.TempDir(), t: t}
	mustOK := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := r.arca(stdin, args...)
		if code != 0 {
			t.Fatalf("arca %v = %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	mustOK("", "admin", "user", "create", "gina", "--password", "gina-password")
	out := mustOK("", "admin", "s3key", "create", "gina", "--description", "laptop")
	if !strings.Contains(out, "access key ID:     ARCA") || !strings.Contains(out, "secret access key: ") {
		t.Fatalf("s3key create printed %q", out)
	}
	id := strings.Fields(strings.Split(out, "\n")[0])[3]
	secret := strings.Fields(strings.Split(out, "\n")[1])[3]
	mustOK("chosen-secret-123\n", "admin", "s3key", "create", "gina", "--access-key", "GINAKEY", "--secret-key-stdin")
	list := mustOK("", "admin", "s3key", "list", "gina")
	if !strings.Contains(list, id) || !strings.Contains(list, "GINAKEY") || !strings.Contains(list, "laptop") || strings.Contains(list, secret) {
		t.Fatalf("s3key list printed %q", list)
	}
	mustOK("", "admin", "s3key", "revoke", "gina", "GINAKEY")
	if code, _, errOut := r.arca("", "admin", "s3key", "revoke", "gina", "GINAKEY"); code != 1 || !strings.Contains(errOut, "no access key") {
		t.Fatalf("second revoke = %d %q", code, errOut)
	}
	if code, _, _ := r.arca("", "admin", "s3key", "create"); code != 2 {
		t.Fatalf("s3key create without a user = %d, want a usage error", code)
	}
}
