package cli

import (
	"bytes"
	"strings"
	"testing"
)

type run struct {
	dir string
	t   *testing.T
}

func (r run) arca(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := Main(args, Env{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		if k == "ARCA_DATA_DIR" {
			return r.dir
		}
		return ""
	}})
	return code, out.String(), errb.String()
}

func TestAdminCommands(t *testing.T) {
	r := run{dir: t.TempDir(), t: t}
	mustOK := func(stdin string, args ...string) string {
		t.Helper()
		code, out, errOut := r.arca(stdin, args...)
		if code != 0 {
			t.Fatalf("arca %v = %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	out := mustOK("", "admin", "user", "create", "erin", "--role", "developer")
	if !strings.Contains(out, "created user erin") || !strings.Contains(out, "password: ") {
		t.Fatalf("user create printed %q", out)
	}
	mustOK("erin-new-password\n", "admin", "user", "passwd", "erin", "--password-stdin")
	out = mustOK("", "admin", "robot", "create", "builder", "--role", "reader")
	if !strings.Contains(out, "token: arca_") {
		t.Fatalf("robot create printed %q", out)
	}
	tok := strings.TrimSpace(mustOK("", "admin", "token", "create", "erin", "--name", "ci", "--ttl", "1h"))
	if !strings.HasPrefix(tok, "arca_") {
		t.Fatalf("token create printed %q", tok)
	}
	if out := mustOK("", "admin", "token", "list", "erin"); !strings.Contains(out, "ci") || strings.Contains(out, tok) {
		t.Fatalf("token list printed %q", out)
	}
	mustOK("", "admin", "token", "revoke", "erin", "ci")
	out = mustOK("", "admin", "user", "list")
	if !strings.Contains(out, "erin") || !strings.Contains(out, "builder") || !strings.Contains(out, "robot") {
		t.Fatalf("user list printed %q", out)
	}
	mustOK("", "admin", "user", "create", "frank", "--password", "frank-password")
	// The default repositories exist only after serve bootstraps; grant needs one.
	if code, _, errOut := r.arca("", "admin", "grant", "frank", "files", "reader"); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("grant on a missing repository = %d %q", code, errOut)
	}
	mustOK("", "admin", "user", "delete", "frank")
	if code, _, _ := r.arca("", "admin", "user", "create"); code != 2 {
		t.Fatalf("user create without a name = %d, want usage error", code)
	}
	if code, _, errOut := r.arca("", "admin", "user", "create", "erin", "--password", "long-enough-pw"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate user = %d %q", code, errOut)
	}
	if out := mustOK("", "gc", "--dry-run"); !strings.Contains(out, "scanned 0 blobs: would delete 0") {
		t.Fatalf("gc --dry-run printed %q", out)
	}
	if out := mustOK("", "fsck"); !strings.Contains(out, "0 without their bytes") {
		t.Fatalf("fsck printed %q", out)
	}
	if code, _, _ := r.arca("", "admin", "frobnicate"); code != 2 {
		t.Fatalf("unknown admin command = %d", code)
	}
}

func TestConfigPrintMasksSecrets(t *testing.T) {
	var out bytes.Buffer
	code := Main([]string{"config", "print", "--database-url", "postgres://arca:pgsecret@db/arca"}, Env{Stdout: &out, Stderr: &out, Getenv: func(k string) string {
		if k == "ARCA_ADMIN_PASSWORD" {
			return "adminsecret"
		}
		return ""
	}})
	if code != 0 || strings.Contains(out.String(), "pgsecret") || strings.Contains(out.String(), "adminsecret") || !strings.Contains(out.String(), "addr: :8080") {
		t.Fatalf("config print = %d\n%s", code, out.String())
	}
}

func TestVersionAndUsage(t *testing.T) {
	var out bytes.Buffer
	if code := Main([]string{"version"}, Env{Stdout: &out, Stderr: &out}); code != 0 || !strings.HasPrefix(out.String(), "arca ") {
		t.Fatalf("version = %d %q", code, out.String())
	}
	if code := Main(nil, Env{Stdout: &out, Stderr: &out}); code != 2 {
		t.Fatalf("no command = %d", code)
	}
	if code := Main([]string{"bogus"}, Env{Stdout: &out, Stderr: &out}); code != 2 {
		t.Fatalf("unknown command = %d", code)
	}
}
