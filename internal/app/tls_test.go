package app_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/config"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with serial
// number serial to dir/tls.crt and dir/tls.key, and returns it.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "arca test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Key first, then certificate: a reader between the two writes sees a
	// mismatched pair and must keep the old one.
	if err := os.WriteFile(filepath.Join(dir, "tls.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tls.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestServeTLS serves both listeners over HTTPS from certificate files,
// refuses plain HTTP on them, and picks up a renewed certificate without
// a restart.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, 1)
	s := serve(t, func(c *config.Config) {
		c.TLS = config.TLS{CertFile: filepath.Join(dir, "tls.crt"), KeyFile: filepath.Join(dir, "tls.key")}
	})
	client := func(trust *x509.Certificate) *http.Client {
		pool := x509.NewCertPool()
		pool.AddCert(trust)
		return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	}
	get := func(c *http.Client, url string) (*http.Response, string) {
		t.Helper()
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	for _, addr := range []string{s.http, s.s3} {
		resp, _ := get(client(first), "https://"+addr+"/healthz")
		if resp.TLS == nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
			t.Fatalf("https://%s: no TLS or the wrong certificate", addr)
		}
		if addr == s.http && resp.StatusCode != 200 {
			t.Fatalf("healthz over TLS = %d", resp.StatusCode)
		}
		if resp.ProtoMajor != 1 {
			t.Errorf("https://%s spoke %s, want HTTP/1.1 (body deadlines are per connection)", addr, resp.Proto)
		}
		// Plain HTTP to a TLS listener is refused by net/http.
		if resp, body := get(http.DefaultClient, "http://"+addr+"/healthz"); resp.StatusCode != 400 || !strings.Contains(body, "HTTPS") {
			t.Errorf("plain http://%s = %d %q, want 400", addr, resp.StatusCode, body)
		}
	}
	// An untrusting client fails the handshake.
	if _, err := http.Get("https://" + s.http + "/healthz"); err == nil {
		t.Error("a client without the certificate's root connected")
	}

	// Renewal: a new certificate in the same files is served within
	// seconds, on new connections.
	time.Sleep(1100 * time.Millisecond)
	second := writeCert(t, dir, 2)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := client(second)
		resp, err := c.Get("https://" + s.http + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.TLS.PeerCertificates[0].SerialNumber.Int64() == 2 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the renewed certificate was not served within 10s (last error %v)", err)
		}
		c.CloseIdleConnections()
		time.Sleep(200 * time.Millisecond)
	}
}
