package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestBackupCommands runs backup, list, verify, prune and restore through
// Main, as the binary would.
func TestBackupCommands(t *testing.T) {
	src, dst, loc := run{dir: t.TempDir(), t: t}, run{dir: t.TempDir(), t: t}, t.TempDir()
	mustOK := func(r run, args ...string) string {
		t.Helper()
		code, out, errOut := r.arca("", args...)
		if code != 0 {
			t.Fatalf("arca %v = %d\n%s%s", args, code, out, errOut)
		}
		return out
	}
	mustOK(src, "admin", "user", "create", "erin", "--password", "erin-password-1")
	out := mustOK(src, "backup", "--to", loc)
	m := regexp.MustCompile(`^backup (\S+) to `).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("backup printed %q", out)
	}
	mustOK(src, "backup", "--to", loc)
	if out := mustOK(src, "backup", "list", "--from", loc); strings.Count(out, "sqlite") != 2 || !strings.Contains(out, m[1]) {
		t.Fatalf("backup list printed %q", out)
	}
	if out := mustOK(src, "backup", "verify", "--from", loc, "--id", m[1]); !strings.Contains(out, "0 problems") {
		t.Fatalf("backup verify printed %q", out)
	}
	if out := mustOK(src, "backup", "prune", "--from", loc, "--keep", "1"); !strings.Contains(out, "deleted backup "+m[1]) {
		t.Fatalf("backup prune printed %q", out)
	}
	if code, _, errOut := src.arca("", "backup", "prune", "--from", loc); code == 0 || !strings.Contains(errOut, "--keep") {
		t.Fatalf("prune without a rule = %d %s", code, errOut)
	}
	if code, _, _ := src.arca("", "backup"); code != 2 {
		t.Fatalf("backup without --to = %d, want 2", code)
	}

	// No KEK in the new data directory: restore refuses, and makes none.
	if code, _, errOut := dst.arca("", "restore", "--from", loc); code == 0 || !strings.Contains(errOut, "key-encryption key") {
		t.Fatalf("restore without the KEK = %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dst.dir, "kek")); err == nil {
		t.Fatal("restore created a KEK")
	}
	kek, err := os.ReadFile(filepath.Join(src.dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst.dir, "kek"), kek, 0o600)
	if out := mustOK(dst, "restore", "--from", loc); !strings.Contains(out, "into sqlite") || !strings.Contains(out, "every sha256 verified") {
		t.Fatalf("restore printed %q", out)
	}
	if out := mustOK(dst, "admin", "user", "list"); !strings.Contains(out, "erin") {
		t.Fatalf("users after restore: %q", out)
	}
	var errb bytes.Buffer
	if code := Main([]string{"restore", "--from", loc}, Env{Stdin: strings.NewReader(""), Stdout: &errb, Stderr: &errb,
		Getenv: func(k string) string { return map[string]string{"ARCA_DATA_DIR": dst.dir}[k] }}); code == 0 || !strings.Contains(errb.String(), "not empty") {
		t.Fatalf("a second restore = %d %s", code, errb.String())
	}
}
