package app

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certFiles serves the certificate of tls.cert_file and tls.key_file,
// loading them again when either file's modification time or size
// changes (checked at most once a second, on a handshake), so a renewed
// certificate takes effect without a restart. A renewal that cannot be
// loaded (a key written before its certificate, say) keeps the previous
// certificate until the pair loads.
type certFiles struct {
	certFile, keyFile string
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times and sizes of the loaded pair
	failed  string // the stamp of files that did not load (logged once)
	checked time.Time
}

func newCertFiles(certFile, keyFile string, log *slog.Logger) (*certFiles, error) {
	c := &certFiles{certFile: certFile, keyFile: keyFile, log: log}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

// stampOf identifies the files' current versions.
func (c *certFiles) stampOf() (string, error) {
	var s string
	for _, f := range []string{c.certFile, c.keyFile} {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}

func (c *certFiles) load() error {
	stamp, err := c.stampOf()
	if err != nil {
		return fmt.Errorf("tls: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: loading %s and %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp, c.checked = &cert, stamp, time.Now()
	return nil
}

// getCertificate is tls.Config.GetCertificate.
func (c *certFiles) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.checked) >= time.Second {
		c.checked = time.Now()
		if stamp, err := c.stampOf(); err == nil && stamp != c.stamp && stamp != c.failed {
			if err := c.load(); err != nil {
				c.failed = stamp
				c.log.Warn("keeping the previous TLS certificate", "err", err)
			} else {
				c.log.Info("loaded a renewed TLS certificate", "cert_file", c.certFile)
			}
		}
	}
	return c.cert, nil
}

// tlsConfig is the listeners' TLS configuration, or nil when tls is not
// configured.
func (a *App) tlsConfig() (*tls.Config, error) {
	if !a.Config.TLS.Enabled() {
		return nil, nil
	}
	c, err := newCertFiles(a.Config.TLS.CertFile, a.Config.TLS.KeyFile, a.Log)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.getCertificate}, nil
}
