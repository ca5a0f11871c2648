package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func pemPair(t *testing.T, serial int64) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "t"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// TestCertFilesKeepTheLastGoodPair: a renewal that does not load (a new
// key beside the old certificate) keeps the previous pair; once both
// files are the new pair it is served.
func TestCertFilesKeepTheLastGoodPair(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	write := func(name string, b []byte) {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c1, k1 := pemPair(t, 1)
	write(certFile, c1)
	write(keyFile, k1)
	if _, err := newCertFiles(certFile, filepath.Join(dir, "missing.key"), slog.New(slog.NewTextHandler(io.Discard, nil))); err == nil {
		t.Fatal("a missing key file loaded")
	}
	cf, err := newCertFiles(certFile, keyFile, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	serial := func() int64 {
		t.Helper()
		c, err := cf.getCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		x, _ := x509.ParseCertificate(c.Certificate[0])
		return x.SerialNumber.Int64()
	}
	c2, k2 := pemPair(t, 2)
	write(keyFile, k2) // the new key, the old certificate: no valid pair
	cf.checked = time.Time{}
	if got := serial(); got != 1 {
		t.Fatalf("serving certificate %d with a mismatched pair on disk, want the previous (1)", got)
	}
	write(certFile, c2)
	cf.checked = time.Time{}
	if got := serial(); got != 2 {
		t.Fatalf("serving certificate %d after the renewal, want 2", got)
	}
}
