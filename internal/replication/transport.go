package replication

import (
	"context"
	"io"
	"net"
	"net/http"
	"time"

	"golang.org/x/time/rate"
)

// localHost is the host name of the local side's URLs; requests to it
// never leave the process.
const localHost = "arca.local"

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
