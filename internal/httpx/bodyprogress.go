package httpx

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// BodyProgress drops request bodies that stall: a body must deliver at
// least minBytes within every interval, or its next Read fails with an
// error of kind Invalid and code RequestTimeout (the handler then cancels
// whatever it staged, and the connection is closed). Without it a client
// announcing 10 GB, sending 1 MiB and going quiet would hold a goroutine,
// a socket and a staging file for as long as it liked.
//
// It uses the connection's read deadline (http.ResponseController), which
// the server resets for the next request. The deadline is first set when
// the request arrives (so that the server's post-handler drain of an unread
// body cannot hang either), and moved forward at the handler's first Read
// and each time minBytes more have arrived. At the end of the body net/http
// clears it as it starts reading the connection in the background (to
// notice a client hanging up), so a long response after the body is not
// cut short (TestBodyProgress holds it to that). Requests without a body
// are not touched. interval <= 0 disables it.
//
// It must wrap the server's own ResponseWriter (be the outermost handler).
func BodyProgress(next http.Handler, interval time.Duration, minBytes int64) http.Handler {
	if interval <= 0 {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
			next.ServeHTTP(w, r)
			return
		}
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(interval)); err != nil {
			next.ServeHTTP(w, r) // a writer without deadlines (tests' recorders)
			return
		}
		r.Body = &progressBody{ReadCloser: r.Body, rc: rc, interval: interval, minBytes: minBytes}
		next.ServeHTTP(w, r)
	})
}

// progressBody enforces BodyProgress on one request body.
type progressBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	interval time.Duration
	minBytes int64
	started  bool
	window   int64 // bytes read since the deadline was last moved
	done     bool
}

func (b *progressBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if !b.started {
		b.started = true
		b.rc.SetReadDeadline(time.Now().Add(b.interval))
	}
	n, err := b.ReadCloser.Read(p)
	b.window += int64(n)
	switch {
	case err == io.EOF:
		b.done = true
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		b.done = true
		return n, &errs.Error{Kind: errs.Invalid, Code: "RequestTimeout", Err: err,
			Message: fmt.Sprintf("the request body arrived too slowly: fewer than %d bytes in %s", b.minBytes, b.interval)}
	case b.window >= b.minBytes:
		b.window = 0
		b.rc.SetReadDeadline(time.Now().Add(b.interval))
	}
	return n, err
}
