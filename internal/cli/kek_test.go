package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
)

// TestKEKRotate rotates the default KEK file, then to a configured file:
// the S3 secret sealed before still opens, the old KEK no longer does.
func TestKEKRotate(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"ARCA_DATA_DIR": dir}
	arca := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(args, Env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, Getenv: func(k string) string { return env[k] }})
		return code, out.String()
	}
	if code, out := arca("admin", "user", "create", "gina", "--password", "gina-password"); code != 0 {
		t.Fatalf("user create: %d %s", code, out)
	}
	code, out := arca("admin", "s3key", "create", "gina", "--access-key", "ROTKEY")
	if code != 0 {
		t.Fatalf("s3key create: %d %s", code, out)
	}
	secret := strings.Fields(strings.Split(out, "\n")[1])[3]
	checkSecret := func(kekFile string) error {
		t.Helper()
		cfg := config.Default()
		cfg.DataDir = dir
		cfg.Secrets.KEKFile = kekFile
		a, err := app.Open(context.Background(), cfg, app.NewLogger(cfg.Log, io.Discard))
		if err != nil {
			return err
		}
		defer a.Close()
		if _, got, err := a.Auth.AccessKeySecret(context.Background(), "ROTKEY"); err != nil || got != secret {
			t.Fatalf("S3 secret after rotation: %v", err)
		}
		return nil
	}
	defaultFile := filepath.Join(dir, "kek")
	before, _ := os.ReadFile(defaultFile)
	if code, out := arca("admin", "kek", "rotate"); code != 0 || !strings.Contains(out, "re-wrapped") {
		t.Fatalf("kek rotate: %d %s", code, out)
	}
	after, _ := os.ReadFile(defaultFile)
	if bytes.Equal(before, after) || len(after) == 0 {
		t.Fatal("kek rotate left the KEK file as it was")
	}
	if _, err := os.Stat(defaultFile + ".new"); !os.IsNotExist(err) {
		t.Fatalf("kek.new left behind: %v", err)
	}
	if err := checkSecret(""); err != nil {
		t.Fatal(err)
	}
	old := filepath.Join(t.TempDir(), "old-kek")
	os.WriteFile(old, before, 0o600)
	if err := checkSecret(old); err == nil || !strings.Contains(err.Error(), "key-encryption key") {
		t.Fatalf("the rotated-out KEK still opens the database: %v", err)
	}

	// To a file of the operator's (a Kubernetes Secret, say).
	mounted := filepath.Join(t.TempDir(), "kek")
	if code, out := arca("admin", "kek", "rotate", "--new-kek-file", mounted); code != 0 || !strings.Contains(out, "kek_file") {
		t.Fatalf("kek rotate --new-kek-file: %d %s", code, out)
	}
	if err := checkSecret(""); err == nil {
		t.Fatal("the data directory's KEK still opens the database after rotating to another file")
	}
	if err := checkSecret(mounted); err != nil {
		t.Fatal(err)
	}
	env["ARCA_KEK_FILE"] = mounted
	if code, out := arca("admin", "kek", "rotate"); code != 2 {
		t.Fatalf("kek rotate without --new-kek-file while a KEK file is configured: %d %s", code, out)
	}
}
