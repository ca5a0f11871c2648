package cli

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"
)

// probe asks this host's arca whether it is ready (/readyz) or alive
// (--live: /healthz), for container health checks in images that have no
// curl: exit status 0 when it answers 200, 1 otherwise. The address is the
// configured one on the loopback; over TLS the certificate is not checked
// (it names the public host, and this only asks the local process).
func probe(args []string, env Env) error {
	var live bool
	var target string
	cfg, rest, err := loadConfig("probe", args, env, func(fs *flag.FlagSet) {
		fs.BoolVar(&live, "live", false, "ask /healthz (the process serves) instead of /readyz")
		fs.StringVar(&target, "url", "", "URL to ask instead of the configured listener's /readyz")
	})
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usageError{fmt.Sprintf("probe takes no arguments, got %q", rest)}
	}
	if target == "" {
		_, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return usageError{fmt.Sprintf("addr %q: %v", cfg.Addr, err)}
		}
		scheme, path := "http", "/readyz"
		if cfg.TLS.Enabled() {
			scheme = "https"
		}
		if live {
			path = "/healthz"
		}
		target = scheme + "://" + net.JoinHostPort("127.0.0.1", port) + path
	}
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the local process, see above
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %s", target, resp.Status)
	}
	return nil
}
