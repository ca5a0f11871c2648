package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/version"
)

// Serving: the listeners, graceful shutdown, and the addresses they are
// reached at.

// Serve runs the listeners (HTTP, and S3 when served) until ctx is
// cancelled, then shuts down gracefully, letting requests in flight finish
// for up to 30 seconds. ready, if not nil, gets each listener's address.
func (a *App) Serve(ctx context.Context, ready func(surface, addr string)) error {
	type listener struct {
		surface string
		addr    string
		handler http.Handler
	}
	listeners := []listener{{"http", a.Config.Addr, a.Handler()}}
	if h := a.S3Handler(); h != nil {
		listeners = append(listeners, listener{"s3", a.Config.S3Addr, h})
	}
	tlsCfg, err := a.tlsConfig()
	if err != nil {
		return err
	}
	var servers []*http.Server
	errc := make(chan error, len(listeners))
	for _, l := range listeners {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, srv := range servers {
				srv.Close()
			}
			return fmt.Errorf("listening on %s for %s: %w", l.addr, l.surface, err)
		}
		srv := &http.Server{
			Handler:           l.handler,
			ReadHeaderTimeout: time.Duration(a.Config.HTTP.ReadHeaderTimeout),
			IdleTimeout:       time.Duration(a.Config.HTTP.IdleTimeout),
			ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
			TLSConfig:         tlsCfg,
			// HTTP/1.1 only, over TLS too: httpx.BodyProgress moves the
			// read deadline of the connection a body arrives on, which
			// is one request's own only without multiplexing.
			TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		}
		servers = append(servers, srv)
		bound := ln.Addr().String()
		attrs := []any{"surface", l.surface, "url", listenURL(bound, tlsCfg != nil), "addr", bound}
		if AllInterfaces(bound) {
			attrs = append(attrs, "interfaces", "all (set ARCA_ADDR and ARCA_S3_ADDR to 127.0.0.1:PORT for loopback only)")
		}
		a.Log.Info("listening", append(attrs, "version", version.String())...)
		if ready != nil {
			ready(l.surface, ln.Addr().String())
		}
		if tlsCfg != nil {
			go func() { errc <- srv.ServeTLS(ln, "", "") }()
		} else {
			go func() { errc <- srv.Serve(ln) }()
		}
	}
	downloadsDone := a.runDownloads(ctx)
	defer func() { <-downloadsDone }()
	// Background work (GC, retention, purging staged writes) runs as jobs:
	// every process works them, the elected leader enqueues periodic ones.
	if err := a.Jobs.Start(context.WithoutCancel(ctx)); err != nil {
		for _, srv := range servers {
			srv.Close()
		}
		return err
	}
	a.seedSearchIndex(ctx)
	select {
	case err := <-errc:
		for _, srv := range servers {
			srv.Close()
		}
		a.stopJobs(5 * time.Second)
		return err
	case <-ctx.Done():
	}
	// Readiness fails first, so that load balancers stop sending requests
	// while the listeners still accept them.
	a.draining.Store(true)
	if d := time.Duration(a.Config.HTTP.DrainDelay); d > 0 {
		a.Log.Info("draining: /readyz answers 503", "for", d)
		time.Sleep(d)
	}
	a.Log.Info("shutting down")
	// Requests and jobs in flight finish side by side, within one deadline
	// (jobs still running after 25 seconds are cancelled, and retried
	// later by whichever process runs jobs then).
	jobsStopped := make(chan struct{})
	go func() {
		defer close(jobsStopped)
		a.stopJobs(30 * time.Second)
	}()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var firstErr error
	for _, srv := range servers {
		if err := srv.Shutdown(shutdownCtx); err != nil && firstErr == nil {
			firstErr = err
		}
	}
	<-jobsStopped
	return firstErr
}

// stopJobs stops the job runner, waiting at most d.
func (a *App) stopJobs(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	if err := a.Jobs.Stop(ctx); err != nil {
		a.Log.Warn("stopping the job queue", "err", err)
	}
}

// Collector returns the garbage collector of this configuration.
func (a *App) Collector() *gc.Collector {
	return &gc.Collector{DB: a.DB, Blobs: a.Blobs, Log: a.Log, Grace: time.Duration(a.Config.GC.Grace),
		StagedMaxAge: time.Duration(a.Config.Blob.StagedMaxAge), MultipartMaxAge: time.Duration(a.Config.S3.UploadMaxAge)}
}

// ListenURL is a URL that reaches the listener bound to addr (host:port)
// from this machine: the address itself, or localhost when it is bound to
// every interface.
func ListenURL(addr string) string { return listenURL(addr, false) }

func listenURL(addr string, https bool) string {
	host, port, _ := net.SplitHostPort(addr)
	if AllInterfaces(addr) {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	return scheme + host + ":" + port
}

// AllInterfaces reports whether a bound address (host:port) listens on
// every interface.
func AllInterfaces(addr string) bool {
	host, _, _ := net.SplitHostPort(addr)
	ip, err := netip.ParseAddr(host)
	return host == "" || (err == nil && ip.IsUnspecified())
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
