package replication

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

// localHost is the host name of the local side's URLs; requests to it
// never leave the process.
const localHost = "arca.local"

// inProcess is the local side's transport: it serves each request with
// arca's own handler, in process, acting as the policy (auth.WithInternal),
// and streams the response back through a pipe.
type inProcess struct {
	h  http.Handler
	as auth.Principal
}

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx := auth.WithInternal(req.Context(), t.as)
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
		t.h.ServeHTTP(w, sreq)
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

// remoteTransport reaches remotes: bounded dialing, TLS handshakes and
// waits for response headers (a remote that stops answering fails the
// item, and the job's retry resumes), and optionally a bandwidth limit.
func remoteTransport(headerTimeout time.Duration, bytesPerSecond int64) http.RoundTripper {
	t := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: headerTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   4,
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

// counting counts the request body bytes a transport sends: what a run
// moved to its destination.
type counting struct {
	next http.RoundTripper
	n    *atomic.Int64
}

func (c counting) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && req.Body != http.NoBody {
		req = req.Clone(req.Context())
		req.Body = &countingBody{ReadCloser: req.Body, n: c.n}
	}
	return c.next.RoundTrip(req)
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
