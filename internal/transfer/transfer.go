// Package transfer holds the clients that move content between arca and
// other servers, shared by replication (internal/replication) and imports
// (internal/importer): the transport that reaches remotes (bounded waits,
// an optional bandwidth limit), the transport that calls arca's own
// handlers in process, and S3 clients of any S3 endpoint.
package transfer

import (
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/arcaproject/arca/internal/auth"
)

// InProcess is a transport that serves each request with arca's own
// handler, in process, acting as As (auth.WithInternal: no credentials
// are read), and streams the response back through a pipe. What it writes
// goes through the same code paths (and checks, audit, quotas) as a
// client's request.
type InProcess struct {
	Handler http.Handler
	As      auth.Principal
}

func (t InProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := auth.WithInternal(req.Context(), t.As)
	sreq := req.Clone(ctx)
	sreq.RequestURI = req.URL.RequestURI()
	sreq.RemoteAddr = "127.0.0.1:0"
	sreq.Host = req.URL.Host
	sreq.Proto, sreq.ProtoMajor, sreq.ProtoMinor = "HTTP/1.1", 1, 1
	if sreq.Body == nil {
		sreq.Body = http.NoBody
	}
	pr, pw := io.Pipe()
	w := &pipeResponse{header: http.Header{}, body: pw, head: make(chan struct{}), discard: req.Method == http.MethodHead}
	go func() {
		defer func() {
			w.WriteHeader(http.StatusOK) // a handler that wrote nothing answered 200
			pw.Close()
			sreq.Body.Close()
		}()
		t.Handler.ServeHTTP(w, sreq)
	}()
	select {
	case <-w.head:
	case <-ctx.Done():
		pr.CloseWithError(ctx.Err())
		return nil, ctx.Err()
	}
	resp := &http.Response{
		Status: strconv.Itoa(w.code) + " " + http.StatusText(w.code), StatusCode: w.code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: w.sent, Body: pipeBody{pr}, ContentLength: -1, Request: req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	if req.Method == http.MethodHead {
		pr.Close()
		resp.Body = http.NoBody
	}
	return resp, nil
}

// pipeBody is a response body read from a pipe. It hides the
// *io.PipeReader: the AWS SDK takes a bare one, as a request body, for a
// stream of unknown length, and drops its Content-Length.
type pipeBody struct{ *io.PipeReader }

// pipeResponse is a ResponseWriter whose body goes into a pipe.
type pipeResponse struct {
	header  http.Header
	sent    http.Header
	code    int
	once    sync.Once
	head    chan struct{}
	body    *io.PipeWriter
	discard bool
}

func (w *pipeResponse) Header() http.Header { return w.header }

func (w *pipeResponse) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		return // informational answers (100 Continue) are not the response
	}
	w.once.Do(func() {
		w.code, w.sent = code, w.header.Clone()
		close(w.head)
	})
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	if w.discard {
		return len(b), nil
	}
	return w.body.Write(b)
}

func (w *pipeResponse) Flush() {}

// Remote is the transport that reaches remotes: bounded dialing, TLS
// handshakes and waits for response headers (a remote that stops
// answering fails the item instead of hanging), and optionally a
// bandwidth limit in bytes per second (0 for none).
func Remote(headerTimeout time.Duration, bytesPerSecond int64) http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   16,
	}
	if bytesPerSecond <= 0 {
		return t
	}
	burst := int(min(bytesPerSecond, 256<<10))
	return &limited{next: t, lim: rate.NewLimiter(rate.Limit(bytesPerSecond), burst)}
}

// limited caps the bytes a transport sends and receives together.
type limited struct {
	next http.RoundTripper
	lim  *rate.Limiter
}

func (l *limited) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &limitedBody{ReadCloser: req.Body, lim: l.lim, ctx: req.Context()}
	}
	resp, err := l.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{ReadCloser: resp.Body, lim: l.lim, ctx: req.Context()}
	return resp, nil
}

type limitedBody struct {
	io.ReadCloser
	lim *rate.Limiter
	ctx context.Context
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if len(p) > b.lim.Burst() {
		p = p[:b.lim.Burst()]
	}
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		if werr := b.lim.WaitN(b.ctx, n); werr != nil && err == nil {
			err = werr
		}
	}
	return n, err
}

// Counting counts into N the request body bytes sent through Next: what
// a run or an import moved to its destination.
type Counting struct {
	Next http.RoundTripper
	N    *atomic.Int64
}

// RoundTrip implements http.RoundTripper.
func (c Counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: c.N}
	}
	return c.Next.RoundTrip(req)
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}
