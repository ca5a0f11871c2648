package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "arca.yaml")
	os.WriteFile(file, []byte(`
addr: ":7000"
s3_addr: ":7001"
data_dir: /from/file
log: {level: debug, format: json}
auth: {login_lockout: 3s}
repositories:
  - {name: files, format: raw}
  - {name: more, format: raw, visibility: public}
`), 0o600)
	c, err := Load(Flags{ConfigPath: file, DataDir: "/from/flag"}, env(map[string]string{
		"ARCA_S3_ADDR": ":7101", "ARCA_DATA_DIR": "/from/env", "ARCA_DATABASE_URL": "postgres://u:p@h/db",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":7000" || c.S3Addr != ":7101" || c.DataDir != "/from/flag" || c.DatabaseURL != "postgres://u:p@h/db" {
		t.Fatalf("precedence wrong: %+v", c)
	}
	if c.Log.Format != "json" || time.Duration(c.Auth.LoginLockout) != 3*time.Second || len(c.Repositories) != 2 {
		t.Fatalf("file values lost: %+v", c)
	}
	if c.Auth.LoginMaxFailures != 5 {
		t.Fatalf("defaults lost under a partial file: %d", c.Auth.LoginMaxFailures)
	}
	// ARCA_CONFIG names the file when --config does not.
	c, err = Load(Flags{}, env(map[string]string{"ARCA_CONFIG": file}))
	if err != nil || c.Addr != ":7000" {
		t.Fatalf("ARCA_CONFIG: %v %+v", err, c)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Load(Flags{}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.S3Addr != ":9000" || c.DataDir != "./arca-data" || c.DatabaseURL != "" {
		t.Fatalf("defaults: %+v", c)
	}
	if len(c.Repositories) == 0 || c.Repositories[0].Name != "files" || c.Repositories[0].Format != "raw" {
		t.Fatalf("default repositories: %+v", c.Repositories)
	}
	if c.BlobDir() != "./arca-data/blobs" {
		t.Fatalf("BlobDir = %q", c.BlobDir())
	}
}

func TestInvalid(t *testing.T) {
	dir := t.TempDir()
	for name, yaml := range map[string]string{
		"unknown key":    "adress: x\n",
		"bad level":      "log: {level: loud}\n",
		"bad duration":   "auth: {login_lockout: soon}\n",
		"dup repository": "repositories: [{name: a, format: raw}, {name: a, format: raw}]\n",
		"bad public url": "public_url: example.com\n",
		"bad s3 role":    "s3: {create_bucket_role: owner}\n",
	} {
		file := filepath.Join(dir, strings.ReplaceAll(name, " ", "_"))
		os.WriteFile(file, []byte(yaml), 0o600)
		if _, err := Load(Flags{ConfigPath: file}, env(nil)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load(Flags{}, env(map[string]string{"ARCA_MAX_UPLOAD_BYTES": "lots"})); err == nil {
		t.Error("non-numeric ARCA_MAX_UPLOAD_BYTES accepted")
	}
	if _, err := Load(Flags{ConfigPath: filepath.Join(dir, "missing.yaml")}, env(nil)); err == nil {
		t.Error("missing config file accepted")
	}
}

func TestRedacted(t *testing.T) {
	c := Default()
	c.AdminPassword = "hunter22"
	c.DatabaseURL = "postgres://arca:s3cret@db:5432/arca?sslmode=disable"
	b, err := c.Redacted().YAML()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	if strings.Contains(out, "hunter22") || strings.Contains(out, "s3cret") || !strings.Contains(out, "postgres://arca:xxxxx@db:5432/arca") {
		t.Fatalf("secrets not masked:\n%s", out)
	}
	if c.AdminPassword != "hunter22" {
		t.Fatal("Redacted changed the original")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("addr: :1\nrepositories: [{name: a, format: raw}]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c := Default()
		Parse(b, &c) // must not panic on any file
	})
}

func TestAuthAndMetricsSettings(t *testing.T) {
	c := Default()
	c.Auth.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "::1"}
	p, err := c.TrustedProxies()
	if err != nil || len(p) != 3 || p[1].String() != "192.0.2.1/32" || p[2].String() != "::1/128" {
		t.Fatalf("TrustedProxies = %v, %v", p, err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []func(*Config){
		func(c *Config) { c.Auth.TrustedProxies = []string{"10.0.0.0/33"} },
		func(c *Config) { c.Auth.TrustedProxies = []string{"proxy.example.com"} },
		func(c *Config) { c.Metrics.Auth = "basic" },
		func(c *Config) { c.Auth.TokenCredentials = "unbounded" },
		func(c *Config) { c.Auth.PasswordCheckRate = 0 },
		func(c *Config) { c.Auth.PasswordHashWait = 0 },
	} {
		c := Default()
		bad(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("validated: %+v %+v", c.Auth, c.Metrics)
		}
	}
	c = Default()
	if err := loadEnv(&c, map[string]string{"ARCA_TRUSTED_PROXIES": "10.0.0.1, 10.0.0.2", "ARCA_METRICS_AUTH": "admin"}); err != nil {
		t.Fatal(err)
	}
	if len(c.Auth.TrustedProxies) != 2 || c.Metrics.Auth != "admin" {
		t.Fatalf("from the environment: %v %q", c.Auth.TrustedProxies, c.Metrics.Auth)
	}
}

func loadEnv(c *Config, env map[string]string) error {
	got, err := Load(Flags{}, func(k string) string { return env[k] })
	*c = got
	return err
}

// TestHTTPAndSecrets: the listener timeouts and the KEK come from YAML and
// environment, are validated, and the KEK is masked when printed.
func TestHTTPAndSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "arca.yaml")
	os.WriteFile(file, []byte("http: {read_header_timeout: 5s, idle_timeout: 1m, body_timeout: 10s}\nsecrets: {kek_file: /run/secrets/kek}\n"), 0o600)
	c, err := Load(Flags{ConfigPath: file}, env(map[string]string{"ARCA_HTTP_BODY_MIN_BYTES": "4096", "ARCA_KEK": "c2VjcmV0"}))
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(c.HTTP.ReadHeaderTimeout) != 5*time.Second || time.Duration(c.HTTP.BodyTimeout) != 10*time.Second ||
		c.HTTP.BodyMinBytes != 4096 || c.Secrets.KEKFile != "/run/secrets/kek" || c.KEKFile() != "/run/secrets/kek" {
		t.Fatalf("http/secrets: %+v %+v", c.HTTP, c.Secrets)
	}
	if b, _ := c.Redacted().YAML(); strings.Contains(string(b), "c2VjcmV0") {
		t.Fatalf("config print shows the KEK:\n%s", b)
	}
	if d := Default(); d.KEKFile() != d.DataDir+"/kek" {
		t.Fatalf("default KEK file %q", d.KEKFile())
	}
	for _, bad := range []map[string]string{
		{"ARCA_HTTP_BODY_MIN_BYTES": "0"},
		{"ARCA_HTTP_BODY_TIMEOUT": "-1s"},
		{"ARCA_HTTP_BODY_TIMEOUT": "soon"},
	} {
		if _, err := Load(Flags{}, env(bad)); err == nil {
			t.Errorf("Load(%v) accepted", bad)
		}
	}
	if c, err := Load(Flags{}, env(map[string]string{"ARCA_HTTP_BODY_TIMEOUT": "0s", "ARCA_HTTP_BODY_MIN_BYTES": "0"})); err != nil || c.HTTP.BodyTimeout != 0 {
		t.Errorf("body_timeout 0 (off): %v", err)
	}
}
