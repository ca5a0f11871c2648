package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ---------------------------------------------------------------------------
// run: the registry benchmark

type config struct {
	base        *url.URL
	user, pass  string
	repo        string
	target      string
	largeMiB    int
	largeCount  int
	monolithic  bool
	smallKiB    int
	smallCount  int
	concurrency int
	manifests   int
	manConc     []int
	sync        bool
	verbose     bool
}

func cmdRun(args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	rawURL := fs.String("url", "", "registry base URL, e.g. http://127.0.0.1:5000 (required)")
	user := fs.String("user", "", "Basic auth user name (none: anonymous)")
	pass := fs.String("pass", "", "Basic auth password (or OCIBENCH_PASSWORD)")
	repo := fs.String("repo", "library/bench", "repository (image name) to push to; use a fresh one per run")
	target := fs.String("target", "", "name of the registry in the output (default: the URL)")
	largeMiB := fs.Int("large-mib", 256, "size of each large blob in MiB")
	largeCount := fs.Int("large-count", 3, "number of large blobs pushed and pulled")
	mono := fs.Bool("monolithic", false, "also push large blobs monolithically (POST, then PUT with the body)")
	smallKiB := fs.Int("small-kib", 1024, "size of each small blob in KiB")
	smallCount := fs.Int("small-count", 256, "number of small blobs pushed and pulled")
	conc := fs.Int("concurrency", 8, "concurrent requests for small blobs")
	manifests := fs.Int("manifests", 1000, "number of distinct manifests put and got")
	manConc := fs.String("manifest-concurrency", "1,8", "comma-separated concurrencies for the manifest phase")
	doSync := fs.Bool("sync", true, "sync(2) before each phase so that writeback of earlier phases does not land in the next")
	out := fs.String("out", "", "write the result as JSON to this file")
	verbose := fs.Bool("v", false, "log progress to stderr")
	fs.Parse(args)

	if *rawURL == "" {
		return errors.New("run: -url is required")
	}
	base, err := url.Parse(strings.TrimSuffix(*rawURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return fmt.Errorf("run: invalid -url %q", *rawURL)
	}
	if *pass == "" {
		*pass = os.Getenv("OCIBENCH_PASSWORD")
	}
	cfg := config{base: base, user: *user, pass: *pass, repo: *repo, target: *target,
		largeMiB: *largeMiB, largeCount: *largeCount, monolithic: *mono,
		smallKiB: *smallKiB, smallCount: *smallCount, concurrency: *conc,
		manifests: *manifests, sync: *doSync, verbose: *verbose}
	if cfg.target == "" {
		cfg.target = base.String()
	}
	for _, s := range strings.Split(*manConc, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return fmt.Errorf("run: invalid -manifest-concurrency %q", *manConc)
		}
		cfg.manConc = append(cfg.manConc, n)
	}
	if cfg.largeMiB < 1 || cfg.largeCount < 0 || cfg.smallKiB < 1 || cfg.smallCount < 0 || cfg.concurrency < 1 || cfg.manifests < 0 {
		return errors.New("run: sizes must be positive and counts non-negative")
	}
	res, err := run(cfg)
	if err != nil {
		return err
	}
	printResult(os.Stdout, res)
	if *out != "" {
		return writeJSON(*out, res)
	}
	return nil
}

// client talks to one registry.
type client struct {
	cfg config
	hc  *http.Client
	buf sync.Pool // 256 KiB copy buffers for pulls
}

func newClient(cfg config) *client {
	tr := &http.Transport{
		Proxy: nil, // loopback: never through a proxy
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
			conn, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return bigWriteConn{conn}, nil
		},
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		WriteBufferSize:     1 << 20,
		ReadBufferSize:      256 << 10,
	}
	// A redirect (e.g. to storage) is followed; Go drops the Authorization
	// header when the host changes.
	c := &client{cfg: cfg, hc: &http.Client{Transport: tr, Timeout: 30 * time.Minute}}
	c.buf.New = func() any { b := make([]byte, 256<<10); return &b }
	return c
}

// bigWriteConn sends request bodies in 1 MiB write(2)s. The transport
// copies a body with a Content-Length into the connection's ReadFrom, which
// for a TCP connection (and anything but a file or a socket as the source)
// falls back to 32 KiB writes; on a 2-CPU machine those slow both ends of a
// 256 MiB upload down by about a fifth, which would be measuring the client.
type bigWriteConn struct{ net.Conn }

var bigBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

func (c bigWriteConn) ReadFrom(r io.Reader) (int64, error) {
	bp := bigBufs.Get().(*[]byte)
	defer bigBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, struct{ io.Reader }{r}, *bp)
}

func (c *client) logf(format string, args ...any) {
	if c.cfg.verbose {
		fmt.Fprintf(os.Stderr, "[%s] "+format+"\n", append([]any{c.cfg.target}, args...)...)
	}
}

func (c *client) url(path string) string { return c.cfg.base.String() + "/v2/" + c.cfg.repo + path }

func (c *client) resolve(loc string) (string, error) {
	if loc == "" {
		return "", errors.New("response has no Location header")
	}
	u, err := c.cfg.base.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("bad Location %q: %w", loc, err)
	}
	return u.String(), nil
}

// request sends one request. body may be nil; length -1 sends it chunked.
func (c *client) request(method, u string, body io.Reader, length int64, hdr ...string) (*http.Response, error) {
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.ContentLength = length
		if length == 0 {
			req.Body = http.NoBody
		}
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	if c.cfg.user != "" {
		req.SetBasicAuth(c.cfg.user, c.cfg.pass)
	}
	return c.hc.Do(req)
}

// call sends a request and checks that the status is one of status; on
// any other it reads the error body, closes it and fails.
func (c *client) call(what string, status []int, method, u string, body io.Reader, length int64, hdr ...string) (*http.Response, error) {
	resp, err := c.request(method, u, body, length, hdr...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	if !slices.Contains(status, resp.StatusCode) {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		resp.Body.Close()
		return nil, fmt.Errorf("%s: HTTP %d, want %v: %s", what, resp.StatusCode, status, strings.TrimSpace(string(b)))
	}
	return resp, nil
}

func drain(resp *http.Response) {
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

// streamBody is a request body that the transport copies in 1 MiB writes,
// as a client streaming a layer it compresses on the fly would; with an
// unknown length it goes out with chunked transfer encoding, as docker's
// PATCH does.
type streamBody struct {
	b   []byte
	off int
}

func (s *streamBody) Read(p []byte) (int, error) {
	if s.off >= len(s.b) {
		return 0, io.EOF
	}
	n := copy(p, s.b[s.off:])
	s.off += n
	return n, nil
}

func (s *streamBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for s.off < len(s.b) {
		end := min(s.off+1<<20, len(s.b))
		n, err := w.Write(s.b[s.off:end])
		s.off += n
		total += int64(n)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// ping authenticates once (untimed), so that credential checks that a
// server caches are not billed to the first timed request.
func (c *client) ping() error {
	resp, err := c.call("GET /v2/", []int{200}, "GET", c.cfg.base.String()+"/v2/", nil, 0)
	if err != nil {
		return err
	}
	drain(resp)
	return nil
}

// pushStreamed pushes blob b the way docker does: HEAD (expect 404), POST to
// start a session, one PATCH streaming the whole blob, PUT ?digest=. It
// returns how long each of the four requests took.
func (c *client) pushStreamed(b []byte, digest string) ([4]time.Duration, error) {
	var steps [4]time.Duration
	t := time.Now()
	lap := func(i int) {
		now := time.Now()
		steps[i] = now.Sub(t)
		t = now
	}
	resp, err := c.call("HEAD blob before push", []int{404}, "HEAD", c.url("/blobs/"+digest), nil, 0)
	if err != nil {
		return steps, err
	}
	drain(resp)
	lap(0)
	loc, err := c.startUpload()
	if err != nil {
		return steps, err
	}
	lap(1)
	resp, err = c.call("PATCH upload", []int{202}, "PATCH", loc, &streamBody{b: b}, -1, "Content-Type", "application/octet-stream")
	if err != nil {
		return steps, err
	}
	drain(resp)
	if loc, err = c.resolve(resp.Header.Get("Location")); err != nil {
		return steps, fmt.Errorf("PATCH upload: %w", err)
	}
	if r := resp.Header.Get("Range"); r != "" && r != fmt.Sprintf("0-%d", len(b)-1) {
		return steps, fmt.Errorf("PATCH upload: Range %q after %d bytes", r, len(b))
	}
	lap(2)
	err = c.finishUpload(loc, digest, nil)
	lap(3)
	return steps, err
}

// pushMonolithic pushes b with POST, then PUT ?digest= carrying the body.
func (c *client) pushMonolithic(b []byte, digest string) error {
	loc, err := c.startUpload()
	if err != nil {
		return err
	}
	return c.finishUpload(loc, digest, b)
}

func (c *client) startUpload() (string, error) {
	resp, err := c.call("POST upload", []int{202}, "POST", c.url("/blobs/uploads/"), nil, 0)
	if err != nil {
		return "", err
	}
	drain(resp)
	loc, err := c.resolve(resp.Header.Get("Location"))
	if err != nil {
		return "", fmt.Errorf("POST upload: %w", err)
	}
	return loc, nil
}

func (c *client) finishUpload(loc, digest string, body []byte) error {
	u, err := url.Parse(loc)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("digest", digest)
	u.RawQuery = q.Encode()
	var r io.Reader = http.NoBody
	if body != nil {
		r = &streamBody{b: body}
	}
	resp, err := c.call("PUT upload", []int{201}, "PUT", u.String(), r, int64(len(body)), "Content-Type", "application/octet-stream")
	if err != nil {
		return err
	}
	drain(resp)
	if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
		return fmt.Errorf("PUT upload: Docker-Content-Digest %q, want %s", got, digest)
	}
	return nil
}

// compareWriter checks that what is written equals want, in order.
type compareWriter struct {
	want []byte
	off  int
}

func (w *compareWriter) Write(p []byte) (int, error) {
	if w.off+len(p) > len(w.want) {
		return 0, fmt.Errorf("more than the %d bytes pushed", len(w.want))
	}
	if !bytes.Equal(p, w.want[w.off:w.off+len(p)]) {
		return 0, fmt.Errorf("bytes differ from the pushed ones near offset %d", w.off)
	}
	w.off += len(p)
	return len(p), nil
}

// pull GETs a blob and checks its digest header, length and bytes.
func (c *client) pull(b []byte, digest string) error {
	resp, err := c.call("GET blob", []int{200}, "GET", c.url("/blobs/"+digest), nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
		return fmt.Errorf("GET blob: Docker-Content-Digest %q, want %s", got, digest)
	}
	if resp.ContentLength >= 0 && resp.ContentLength != int64(len(b)) {
		return fmt.Errorf("GET blob: Content-Length %d, want %d", resp.ContentLength, len(b))
	}
	bp := c.buf.Get().(*[]byte)
	defer c.buf.Put(bp)
	cw := &compareWriter{want: b}
	n, err := io.CopyBuffer(cw, struct{ io.Reader }{resp.Body}, *bp)
	if err != nil {
		return fmt.Errorf("GET blob %s: %w", digest, err)
	}
	if n != int64(len(b)) {
		return fmt.Errorf("GET blob: %d bytes, want %d", n, len(b))
	}
	return nil
}

type blobData struct {
	b      []byte
	digest string
}

func makeBlobs(count, size int) []blobData {
	out := make([]blobData, count)
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b := make([]byte, size)
			fillRandom(b, newSeed())
			out[i] = blobData{b: b, digest: digestOf(b)}
		}()
	}
	wg.Wait()
	return out
}

func (c *client) phase(name string) error {
	if c.cfg.sync {
		syscall.Sync()
	}
	c.logf("%s", name)
	return c.ping()
}

// parallel runs fn(i) for i in [0, n) on conc workers and returns the wall
// time and the latency of each call.
func parallel(n, conc int, fn func(i int) error) (time.Duration, []float64, error) {
	lat := make([]float64, n)
	var next atomic.Int64
	var firstErr error
	var once sync.Once
	var failed atomic.Bool
	var wg sync.WaitGroup
	start := time.Now()
	for range min(conc, max(n, 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				if err := fn(i); err != nil {
					once.Do(func() { firstErr = err })
					failed.Store(true)
					return
				}
				lat[i] = ms(time.Since(t0))
			}
		}()
	}
	wg.Wait()
	return time.Since(start), lat, firstErr
}
