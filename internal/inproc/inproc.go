// Package inproc holds the transports with which arca calls itself: a
// RoundTripper that serves each request with arca's own handler in the
// same process, acting as a given principal, and one that counts the
// bytes sent through another. Replication runs and imports use them so
// that what they write goes through the same handlers, checks, audit and
// quotas as what clients upload.
package inproc

import (
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/arcaproject/arca/internal/auth"
)

// Transport serves each request with Handler, in process, acting as As
// (auth.WithInternal), and streams the response back through a pipe.
// Requests go to any host name; none leaves the process.
type Transport struct {
	Handler http.Handler
	As      auth.Principal
}

// RoundTrip implements http.RoundTripper.
func (t Transport) RoundTrip(req *http.Request) (*http.Response, error) {
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
