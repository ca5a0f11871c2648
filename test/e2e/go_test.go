package e2e

// End-to-end test of Go module repositories with the real go command: a
// private module is published to a hosted repository with `arca go
// publish`, and a program that depends on it and on public modules is
// built with GOPROXY pointing at arca alone (a group of the hosted
// repository and a proxy of the GOPROXY this machine's go is configured
// with). The public modules' go.sum lines are verified against the
// checksum database, which the go command reaches through arca; the
// private module is in GONOSUMDB, as docs/go.md says.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const goTimeout = 5 * time.Minute

// goUpstream is the first HTTP(S) proxy of this machine's `go env GOPROXY`,
// "" if it has none.
func goUpstream(t *testing.T, gobin string) string {
	out, err := runCmdErr(time.Minute, t.TempDir(), os.Environ(), gobin, "env", "GOPROXY")
	if err != nil {
		return ""
	}
	for _, p := range strings.FieldsFunc(strings.TrimSpace(out), func(r rune) bool { return r == ',' || r == '|' }) {
		if strings.HasPrefix(p, "http://") || strings.HasPrefix(p, "https://") {
			return p
		}
	}
	return ""
}

// goEnv is an environment in which the go command reaches modules only
// through goproxy, with fresh module and download caches under dir.
func goEnv(dir, goproxy, caFile string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "SSL_CERT_FILE", "GOPROXY", "GONOSUMDB", "GONOPROXY", "GOPRIVATE", "GOSUMDB", "GOFLAGS", "GOMODCACHE", "GOPATH", "GOINSECURE", "GOTOOLCHAIN", "GOENV", "GOWORK":
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"GOPROXY="+goproxy,           // arca alone: no ",direct"
		"GONOSUMDB=example.com/arca", // the private modules
		"GOFLAGS=-mod=mod",
		"GOMODCACHE="+filepath.Join(dir, "modcache"),
		"GOPATH="+filepath.Join(dir, "gopath"),
		"GOTOOLCHAIN=local",
		"GOENV=off", // no user settings from go env -w
		"GOWORK=off",
		"SSL_CERT_FILE="+caFile,
	)
}

func TestGoModules(t *testing.T) {
	gobin := needTool(t, "go")
	upstream := goUpstream(t, gobin)
	if upstream == "" {
		missing(t, "go env GOPROXY names no HTTP proxy to use as the upstream")
	}
	// The go command sends credentials only over HTTPS (it refuses a
	// user:password@ in an http GOPROXY), so arca serves TLS here, with a
	// certificate the go command trusts through SSL_CERT_FILE.
	certDir := t.TempDir()
	cert, key := selfSignedCert(t, certDir)
	s := StartServer(t, ServerOptions{Env: []string{"ARCA_TLS_CERT_FILE=" + cert, "ARCA_TLS_KEY_FILE=" + key}})
	api := func(body string) {
		t.Helper()
		r := curl(t, strings.NewReader(body), "--cacert", cert, "-u", s.Cred(), "-X", "POST", "-H", "Content-Type: application/json",
			"--data-binary", "@-", s.URL+"/api/v1/repositories")
		wantStatus(t, r, 201, "create repository")
	}
	api(fmt.Sprintf(`{"name":"go-proxy","format":"go","kind":"proxy","settings":{"upstream":{"url":%q}}}`, upstream))
	api(`{"name":"go-all","format":"go","kind":"group","settings":{"members":["go-hosted","go-proxy"]}}`)
	tlsEnv := append(os.Environ(), "SSL_CERT_FILE="+cert)

	// A private module, published with arca go publish (two versions).
	mod := t.TempDir()
	mustWriteGo(t, filepath.Join(mod, "go.mod"), "module example.com/arca/e2e/greet\n\ngo 1.22\n")
	hashes := map[string]string{}
	for _, v := range []string{"v1.0.0", "v1.1.0"} {
		mustWriteGo(t, filepath.Join(mod, "greet.go"), "package greet\n\n// Hello greets.\nfunc Hello() string { return \"hello from greet "+v+"\" }\n")
		out := runCmd(t, time.Minute, mod, tlsEnv, arcaBin, "go", "publish", ".", v,
			"--url", s.URL, "--user", "admin", "--token", adminPassword)
		f := strings.Fields(out)
		if len(f) < 4 || f[0] != "published" || !strings.HasPrefix(f[3], "h1:") {
			t.Fatalf("arca go publish %s: %q", v, out)
		}
		hashes[v] = f[3]
	}
	if out, err := runCmdErr(time.Minute, mod, tlsEnv, arcaBin, "go", "publish", ".", "v1.0.0",
		"--url", s.URL, "--user", "admin", "--token", adminPassword); err == nil || !strings.Contains(out, "409") {
		t.Fatalf("publishing other content as v1.0.0 again: %v\n%s", err, out)
	}

	// A program that needs the private module and public ones, built with
	// arca as the only GOPROXY (credentials in the URL).
	u, _ := url.Parse(s.URL)
	u.User = url.UserPassword("admin", adminPassword)
	goproxy := u.String() + "/go/go-all"
	work := t.TempDir()
	env := goEnv(work, goproxy, cert)
	app := filepath.Join(work, "app")
	mustWriteGo(t, filepath.Join(app, "go.mod"), `module example.com/consumer

go 1.22

require (
	example.com/arca/e2e/greet v1.0.0
	github.com/dustin/go-humanize v1.1.0
	github.com/google/uuid v1.6.0
)
`)
	mustWriteGo(t, filepath.Join(app, "main.go"), `package main

import (
	"fmt"

	"example.com/arca/e2e/greet"
	"github.com/dustin/go-humanize"
	"github.com/google/uuid"
)

func main() {
	fmt.Println(greet.Hello(), humanize.Bytes(1<<20), uuid.NewSHA1(uuid.NameSpaceURL, []byte("arca")))
}
`)
	start := time.Now()
	runCmd(t, goTimeout, app, env, gobin, "mod", "download")
	cold := time.Since(start)
	runCmd(t, goTimeout, app, env, gobin, "build", "-o", filepath.Join(work, "app.bin"), ".")
	out := runCmd(t, time.Minute, app, env, filepath.Join(work, "app.bin"))
	if want := "hello from greet v1.0.0 1.0 MB 3f2a"; !strings.HasPrefix(strings.TrimSpace(out), want[:len("hello from greet v1.0.0 1.0 MB")]) {
		t.Fatalf("the program printed %q", out)
	}
	sums, err := os.ReadFile(filepath.Join(app, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"example.com/arca/e2e/greet v1.0.0 " + hashes["v1.0.0"], "github.com/google/uuid v1.6.0 h1:", "github.com/dustin/go-humanize v1.1.0 h1:"} {
		if !strings.Contains(string(sums), want) {
			t.Fatalf("go.sum lacks %q:\n%s", want, sums)
		}
	}
	// The public modules were checked against the checksum database, through arca.
	log := s.Log()
	for _, want := range []string{"/go/go-all/sumdb/sum.golang.org/supported", "/go/go-all/sumdb/sum.golang.org/lookup/github.com/google/uuid@v1.6.0"} {
		if !strings.Contains(log, want) {
			t.Fatalf("the server never answered %s: the go command did not verify through arca", want)
		}
	}

	// go list sees both private versions and upgrades through the group.
	if out := runCmd(t, goTimeout, app, env, gobin, "list", "-m", "-versions", "example.com/arca/e2e/greet"); strings.TrimSpace(out) != "example.com/arca/e2e/greet v1.0.0 v1.1.0" {
		t.Fatalf("go list -m -versions: %q", out)
	}
	runCmd(t, goTimeout, app, env, gobin, "get", "example.com/arca/e2e/greet@latest")
	runCmd(t, goTimeout, app, env, gobin, "build", "-o", filepath.Join(work, "app.bin"), ".")
	if out := runCmd(t, time.Minute, app, env, filepath.Join(work, "app.bin")); !strings.HasPrefix(out, "hello from greet v1.1.0") {
		t.Fatalf("after go get @latest the program printed %q", out)
	}

	// Warm: a fresh module cache, everything from arca's cache.
	warmEnv := goEnv(t.TempDir(), goproxy, cert)
	start = time.Now()
	runCmd(t, goTimeout, app, warmEnv, gobin, "mod", "download")
	t.Logf("go mod download of 3 modules through arca: cold (proxy fetching upstream) %s, warm (from arca's cache) %s",
		cold.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	// arca configure go writes what go env -w and ~/.netrc hold; the go
	// command then needs no GOPROXY in its environment.
	home := t.TempDir()
	runCmd(t, time.Minute, home, append(tlsEnv, "HOME="+home), arcaBin, "configure", "go", "--url", s.URL, "--repo", "go-all",
		"--user", "admin", "--token", adminPassword, "--private", "example.com/arca")
	var confEnv []string
	for _, kv := range goEnv(t.TempDir(), "", cert) {
		if !strings.HasPrefix(kv, "GOPROXY=") && !strings.HasPrefix(kv, "GONOSUMDB=") && !strings.HasPrefix(kv, "GOENV=") &&
			!strings.HasPrefix(kv, "HOME=") && !strings.HasPrefix(kv, "XDG_CONFIG_HOME=") && !strings.HasPrefix(kv, "NETRC=") {
			confEnv = append(confEnv, kv)
		}
	}
	confEnv = append(confEnv, "HOME="+home)
	if got := strings.TrimSpace(runCmd(t, time.Minute, app, confEnv, gobin, "env", "GOPROXY")); got != s.URL+"/go/go-all" {
		t.Fatalf("after arca configure go, GOPROXY = %q", got)
	}
	runCmd(t, goTimeout, app, confEnv, gobin, "mod", "download")

	// Without credentials the go command is refused.
	anon := goEnv(t.TempDir(), s.URL+"/go/go-all", cert)
	if out, err := runCmdErr(goTimeout, app, anon, gobin, "mod", "download", "example.com/arca/e2e/greet"); err == nil || !strings.Contains(out, "401") {
		t.Fatalf("go mod download without credentials: %v\n%s", err, out)
	}
	s.WantNoServerErrors()
}

func mustWriteGo(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// selfSignedCert writes a certificate for 127.0.0.1 and its key into dir.
func selfSignedCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "arca e2e"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
