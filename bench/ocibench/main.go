// Command ocibench measures an OCI distribution registry over HTTP: blob
// push and pull throughput for large and small blobs, and manifest put/get
// rates and latencies. It supports bench/oci.sh, which runs it against arca
// and the reference distribution registry side by side, and uses only the
// standard library.
//
//	ocibench run [flags]        benchmark one registry, print a table, write JSON
//	ocibench ref [flags]        Go SHA-256 and file-read speed on this machine, JSON
//	ocibench report [flags]     combine run and ref JSON files into a Markdown table
//	ocibench port               print a free loopback TCP port
//	ocibench sink [flags]       the minimal HTTP server `ref` measures (internal)
//
// Run `ocibench <command> -h` for the flags. Throughputs are in MB/s
// (10^6 bytes per second); sizes are in MiB (2^20 bytes).
//
// Every response is checked: status codes, Docker-Content-Digest headers on
// pushes and pulls, the length and the bytes of every pulled blob (compared
// with the copy the client sent, in memory) and of every manifest. A check
// that fails aborts the run, so a broken registry cannot look fast.
package main

import (
	"bufio"
	"bytes"
	"context"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ocibench run|ref|report|port [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = cmdRun(os.Args[2:])
	case "ref":
		err = cmdRef(os.Args[2:])
	case "report":
		err = cmdReport(os.Args[2:])
	case "port":
		err = cmdPort()
	case "sink":
		err = cmdSink(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want run, ref, report or port)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ocibench:", err)
		os.Exit(1)
	}
}

// ---------------------------------------------------------------------------
// Results

// Metric is one line of a result table.
type Metric struct {
	Key    string  `json:"key"`
	Label  string  `json:"label"`
	Unit   string  `json:"unit"`
	Value  float64 `json:"value"`
	Higher bool    `json:"higher_is_better"`
	// Samples are per-operation values behind Value, when there are several.
	Samples []float64 `json:"samples,omitempty"`
	// Detail marks a breakdown of another line (e.g. time per request),
	// which the report shows in a table of its own.
	Detail bool `json:"detail,omitempty"`
}

// Result is what one `ocibench run` (or `ocibench ref`) measured.
type Result struct {
	Target  string    `json:"target"`
	URL     string    `json:"url,omitempty"`
	Repo    string    `json:"repo,omitempty"`
	Started time.Time `json:"started"`
	Metrics []Metric  `json:"metrics"`
}

func (r *Result) add(m Metric) { r.Metrics = append(r.Metrics, m) }

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// percentile returns the nearest-rank percentile p (0..100) of v.
func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

func readResult(path string) (Result, error) {
	var r Result
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// fmtNum prints a figure with about three significant digits.
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

// ---------------------------------------------------------------------------
// port

func cmdPort() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	fmt.Println(l.Addr().(*net.TCPAddr).Port)
	return nil
}

// ---------------------------------------------------------------------------
// ref: the machine's reference speeds

func cmdRef(args []string) error {
	fs := flag.NewFlagSet("ref", flag.ExitOnError)
	file := fs.String("file", "", "file to hash and read (should be in the page cache)")
	mib := fs.Int("mib", 256, "MiB to hash in memory")
	runs := fs.Int("runs", 3, "repetitions; the median is reported")
	doHTTP := fs.Bool("http", true, "with -file, also measure minimal loopback HTTP servers (the floor of what a registry's GET and durable PUT cost)")
	out := fs.String("out", "", "write the result as JSON to this file")
	fs.Parse(args)

	res := Result{Target: "reference", Started: time.Now().UTC()}
	buf := make([]byte, *mib<<20)
	fillRandom(buf, newSeed())
	var mem, fileHash, fileRead []float64
	for range *runs {
		start := time.Now()
		sha256.Sum256(buf)
		mem = append(mem, mbps(int64(len(buf)), time.Since(start)))
		if *file != "" {
			v, err := readFile(*file, true)
			if err != nil {
				return err
			}
			fileHash = append(fileHash, v)
			if v, err = readFile(*file, false); err != nil {
				return err
			}
			fileRead = append(fileRead, v)
		}
	}
	res.add(Metric{Key: "sha256_mem", Label: "Go crypto/sha256, in memory", Unit: "MB/s", Value: median(mem), Higher: true, Samples: mem})
	if *file != "" {
		res.add(Metric{Key: "sha256_file", Label: "Go crypto/sha256 of a page-cached file (32 KiB reads)", Unit: "MB/s", Value: median(fileHash), Higher: true, Samples: fileHash})
		res.add(Metric{Key: "read_file", Label: "read of a page-cached file, Go, 1 MiB reads", Unit: "MB/s", Value: median(fileRead), Higher: true, Samples: fileRead})
		if *doHTTP {
			if err := httpFloor(&res, *file, *runs); err != nil {
				return err
			}
		}
	}
	for _, m := range res.Metrics {
		fmt.Fprintf(os.Stderr, "%-90s %8s %s\n", m.Label, fmtNum(m.Value), m.Unit)
	}
	if *out != "" {
		return writeJSON(*out, res)
	}
	return nil
}

// httpFloor measures what plain Go HTTP servers on loopback, with none of a
// registry's work, reach for the same transfers ocibench makes: GET of the
// page-cached file (as http.ServeContent serves an *os.File, with sendfile,
// and through a 32 KiB user-space copy), and a streamed (chunked) PUT that
// the server hashes with sha256 while writing a staging file beside the
// file, then fsyncs and renames, the least a durable push must do. The
// server is `ocibench sink` in a process of its own, as a registry would be.
func httpFloor(res *Result, name string, runs int) error {
	want, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp(filepath.Dir(name), "ocibench-sink-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	cmd := exec.Command(self, "sink", "-file", name, "-dir", dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	// The sink exits when this pipe closes, so it never outlives us.
	if _, err := cmd.StdinPipe(); err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		return fmt.Errorf("sink: %w", err)
	}
	base := "http://" + strings.TrimSpace(addr)
	c := newClient(config{})
	digest := digestOf(want)
	var getSF, getCopy, put []float64
	for range runs {
		for _, m := range []struct {
			path string
			out  *[]float64
		}{{"/sendfile", &getSF}, {"/copy", &getCopy}} {
			syscall.Sync()
			t0 := time.Now()
			resp, err := c.call("GET "+m.path, []int{200}, "GET", base+m.path, nil, 0)
			if err != nil {
				return err
			}
			n, err := io.Copy(&compareWriter{want: want}, struct{ io.Reader }{resp.Body})
			resp.Body.Close()
			if err != nil || n != int64(len(want)) {
				return fmt.Errorf("GET %s: %d bytes, %v", m.path, n, err)
			}
			*m.out = append(*m.out, mbps(n, time.Since(t0)))
		}
		syscall.Sync()
		t0 := time.Now()
		resp, err := c.call("PUT /store", []int{201}, "PUT", base+"/store", &streamBody{b: want}, -1)
		if err != nil {
			return err
		}
		drain(resp)
		if resp.Header.Get("Docker-Content-Digest") != digest {
			return errors.New("PUT /store: wrong digest")
		}
		put = append(put, mbps(int64(len(want)), time.Since(t0)))
	}
	res.add(Metric{Key: "http_get_sendfile", Label: "GET of the file from a minimal Go HTTP server (ServeContent of an *os.File: sendfile)", Unit: "MB/s", Value: median(getSF), Higher: true, Samples: getSF})
	res.add(Metric{Key: "http_get_copy", Label: "GET of the file from a minimal Go HTTP server (32 KiB read/write copy)", Unit: "MB/s", Value: median(getCopy), Higher: true, Samples: getCopy})
	res.add(Metric{Key: "http_put_store", Label: "streamed PUT to a minimal Go HTTP server: sha256 + write + fsync + rename", Unit: "MB/s", Value: median(put), Higher: true, Samples: put})
	return nil
}

// cmdSink is the server httpFloor measures: it prints its address, then
// serves GET /sendfile and GET /copy of -file and PUT /store into -dir.
func cmdSink(args []string) error {
	fs := flag.NewFlagSet("sink", flag.ExitOnError)
	name := fs.String("file", "", "file served by GET")
	dir := fs.String("dir", "", "directory PUT bodies are staged in")
	fs.Parse(args)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	serve := func(w http.ResponseWriter, r *http.Request, sendfile bool) {
		f, err := os.Open(*name)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		fi, _ := f.Stat()
		if sendfile {
			http.ServeContent(w, r, "", fi.ModTime(), f)
			return
		}
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
		io.Copy(w, struct{ io.Reader }{f}) // hides WriteTo: 32 KiB reads and writes
	}
	mux.HandleFunc("GET /sendfile", func(w http.ResponseWriter, r *http.Request) { serve(w, r, true) })
	mux.HandleFunc("GET /copy", func(w http.ResponseWriter, r *http.Request) { serve(w, r, false) })
	mux.HandleFunc("PUT /store", func(w http.ResponseWriter, r *http.Request) {
		h := sha256.New()
		f, err := os.CreateTemp(*dir, "staging-*")
		if err == nil {
			defer os.Remove(f.Name())
			defer f.Close()
			_, err = io.Copy(io.MultiWriter(f, h), r.Body)
		}
		if err == nil {
			err = f.Sync()
		}
		if err == nil {
			err = os.Rename(f.Name(), f.Name()+".done")
		}
		if err == nil {
			os.Remove(f.Name() + ".done")
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(h.Sum(nil)))
		w.WriteHeader(http.StatusCreated)
	})
	go func() { // the parent holds our stdin open while it needs us
		io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}()
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, mux)
}

// readFile reads name once, hashing it with 32 KiB reads (what io.Copy into
// a hash does) or discarding it with 1 MiB reads, and returns MB/s.
func readFile(name string, hash bool) (float64, error) {
	f, err := os.Open(name)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	size := 1 << 20
	if hash {
		size = 32 << 10
	}
	buf := make([]byte, size)
	h := sha256.New()
	var n int64
	start := time.Now()
	for {
		m, err := f.Read(buf)
		if hash {
			h.Write(buf[:m])
		}
		n += int64(m)
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	h.Sum(nil)
	return mbps(n, time.Since(start)), nil
}

// ---------------------------------------------------------------------------
// Random content

func newSeed() [32]byte {
	var s [32]byte
	crand.Read(s[:])
	return s
}

// fillRandom fills b with pseudo-random bytes (ChaCha8 from seed), fast
// enough that generating hundreds of MiB costs well under a second.
func fillRandom(b []byte, seed [32]byte) {
	rand.NewChaCha8(seed).Read(b)
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

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

func run(cfg config) (Result, error) {
	c := newClient(cfg)
	res := Result{Target: cfg.target, URL: cfg.base.String(), Repo: cfg.repo, Started: time.Now().UTC()}
	if err := c.ping(); err != nil {
		return res, err
	}

	// 1, 2: large blobs, one at a time.
	if cfg.largeCount > 0 {
		size := cfg.largeMiB << 20
		c.logf("generating %d x %d MiB", cfg.largeCount, cfg.largeMiB)
		large := makeBlobs(cfg.largeCount, size)
		label := fmt.Sprintf("push %d MiB blob: HEAD, POST, 1 streamed PATCH, PUT", cfg.largeMiB)
		var total time.Duration
		var samples []float64
		var steps [4][]float64
		for i, bd := range large {
			if err := c.phase(fmt.Sprintf("push large %d/%d", i+1, len(large))); err != nil {
				return res, err
			}
			t0 := time.Now()
			st, err := c.pushStreamed(bd.b, bd.digest)
			if err != nil {
				return res, fmt.Errorf("%s: %w", label, err)
			}
			d := time.Since(t0)
			total += d
			samples = append(samples, mbps(int64(size), d))
			for j := range st {
				steps[j] = append(steps[j], ms(st[j]))
			}
		}
		res.add(Metric{Key: "large_push", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(large)), total), Higher: true, Samples: samples})
		for j, name := range []string{"HEAD", "POST", "PATCH", "PUT"} {
			res.add(Metric{Key: "large_push_step_" + strings.ToLower(name), Label: fmt.Sprintf("push %d MiB blob: time in %s", cfg.largeMiB, name),
				Unit: "ms", Value: median(steps[j]), Samples: steps[j], Detail: true})
		}

		if cfg.monolithic {
			mono := makeBlobs(cfg.largeCount, size)
			label := fmt.Sprintf("push %d MiB blob: POST, PUT with body (monolithic)", cfg.largeMiB)
			total, samples = 0, nil
			for i, bd := range mono {
				if err := c.phase(fmt.Sprintf("push large monolithic %d/%d", i+1, len(mono))); err != nil {
					return res, err
				}
				t0 := time.Now()
				if err := c.pushMonolithic(bd.b, bd.digest); err != nil {
					return res, fmt.Errorf("%s: %w", label, err)
				}
				d := time.Since(t0)
				total += d
				samples = append(samples, mbps(int64(size), d))
			}
			res.add(Metric{Key: "large_push_mono", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(mono)), total), Higher: true, Samples: samples})
		}

		label = fmt.Sprintf("pull %d MiB blob: GET", cfg.largeMiB)
		total, samples = 0, nil
		for i, bd := range large {
			if err := c.phase(fmt.Sprintf("pull large %d/%d", i+1, len(large))); err != nil {
				return res, err
			}
			t0 := time.Now()
			if err := c.pull(bd.b, bd.digest); err != nil {
				return res, fmt.Errorf("%s: %w", label, err)
			}
			d := time.Since(t0)
			total += d
			samples = append(samples, mbps(int64(size), d))
		}
		res.add(Metric{Key: "large_pull", Label: label, Unit: "MB/s", Value: mbps(int64(size*len(large)), total), Higher: true, Samples: samples})
	}

	// 3: small blobs at concurrency.
	if cfg.smallCount > 0 {
		size := cfg.smallKiB << 10
		small := makeBlobs(cfg.smallCount, size)
		what := fmt.Sprintf("%s blobs x %d, concurrency %d", sizeName(size), cfg.smallCount, cfg.concurrency)
		if err := c.phase("push small"); err != nil {
			return res, err
		}
		wall, lat, err := parallel(len(small), cfg.concurrency, func(i int) error {
			_, err := c.pushStreamed(small[i].b, small[i].digest)
			return err
		})
		if err != nil {
			return res, fmt.Errorf("push %s: %w", what, err)
		}
		addRate(&res, "small_push", "push "+what, len(small), int64(size), wall, lat)

		if err := c.phase("pull small"); err != nil {
			return res, err
		}
		wall, lat, err = parallel(len(small), cfg.concurrency, func(i int) error { return c.pull(small[i].b, small[i].digest) })
		if err != nil {
			return res, fmt.Errorf("pull %s: %w", what, err)
		}
		addRate(&res, "small_pull", "pull "+what, len(small), int64(size), wall, lat)
	}

	// 4: small manifests, by tag.
	if cfg.manifests > 0 && len(cfg.manConc) > 0 {
		if err := c.phase("manifest setup"); err != nil {
			return res, err
		}
		cfgBlob := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
		layer := make([]byte, 1024)
		fillRandom(layer, newSeed())
		cfgDigest, layerDigest := digestOf(cfgBlob), digestOf(layer)
		for _, b := range []blobData{{cfgBlob, cfgDigest}, {layer, layerDigest}} {
			if err := c.pushMonolithic(b.b, b.digest); err != nil {
				return res, fmt.Errorf("manifest setup: %w", err)
			}
		}
		seed := newSeed()
		run := binary.BigEndian.Uint32(seed[:4])
		for _, conc := range cfg.manConc {
			docs := make([][]byte, cfg.manifests)
			digests := make([]string, cfg.manifests)
			for i := range docs {
				docs[i] = []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
					`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":%q,"size":%d},`+
					`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":%q,"size":%d}],`+
					`"annotations":{"org.example.ocibench.run":"%08x","org.example.ocibench.index":"%d"}}`,
					cfgDigest, len(cfgBlob), layerDigest, len(layer), run, i))
				digests[i] = digestOf(docs[i])
			}
			tag := func(i int) string { return fmt.Sprintf("c%d-%05d", conc, i) }
			what := fmt.Sprintf("%d manifests by tag, concurrency %d", cfg.manifests, conc)
			if err := c.phase("manifest put " + what); err != nil {
				return res, err
			}
			wall, lat, err := parallel(cfg.manifests, conc, func(i int) error {
				resp, err := c.call("PUT manifest", []int{201}, "PUT", c.url("/manifests/"+tag(i)), bytes.NewReader(docs[i]), int64(len(docs[i])),
					"Content-Type", "application/vnd.oci.image.manifest.v1+json")
				if err != nil {
					return err
				}
				drain(resp)
				if got := resp.Header.Get("Docker-Content-Digest"); got != digests[i] {
					return fmt.Errorf("PUT manifest: Docker-Content-Digest %q, want %s", got, digests[i])
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("put %s: %w", what, err)
			}
			addOps(&res, fmt.Sprintf("manifest_put_c%d", conc), "put "+what, cfg.manifests, wall, lat)

			if err := c.phase("manifest get " + what); err != nil {
				return res, err
			}
			wall, lat, err = parallel(cfg.manifests, conc, func(i int) error {
				resp, err := c.call("GET manifest", []int{200}, "GET", c.url("/manifests/"+tag(i)), nil, 0,
					"Accept", "application/vnd.oci.image.manifest.v1+json")
				if err != nil {
					return err
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return fmt.Errorf("GET manifest: %w", err)
				}
				if !bytes.Equal(body, docs[i]) {
					return fmt.Errorf("GET manifest %s: body differs from the one put", tag(i))
				}
				if got := resp.Header.Get("Docker-Content-Digest"); got != digests[i] {
					return fmt.Errorf("GET manifest: Docker-Content-Digest %q, want %s", got, digests[i])
				}
				return nil
			})
			if err != nil {
				return res, fmt.Errorf("get %s: %w", what, err)
			}
			addOps(&res, fmt.Sprintf("manifest_get_c%d", conc), "get "+what, cfg.manifests, wall, lat)
		}
	}
	return res, nil
}

func sizeName(size int) string {
	if size%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", size>>20)
	}
	return fmt.Sprintf("%d KiB", size>>10)
}

func addRate(res *Result, key, label string, n int, size int64, wall time.Duration, lat []float64) {
	res.add(Metric{Key: key + "_rate", Label: label, Unit: "blobs/s", Value: float64(n) / wall.Seconds(), Higher: true})
	res.add(Metric{Key: key + "_mbps", Label: label, Unit: "MB/s", Value: mbps(size*int64(n), wall), Higher: true})
	res.add(Metric{Key: key + "_p50", Label: label, Unit: "ms p50", Value: percentile(lat, 50)})
	res.add(Metric{Key: key + "_p99", Label: label, Unit: "ms p99", Value: percentile(lat, 99)})
}

func addOps(res *Result, key, label string, n int, wall time.Duration, lat []float64) {
	res.add(Metric{Key: key + "_rate", Label: label, Unit: "ops/s", Value: float64(n) / wall.Seconds(), Higher: true})
	res.add(Metric{Key: key + "_p50", Label: label, Unit: "ms p50", Value: percentile(lat, 50)})
	res.add(Metric{Key: key + "_p99", Label: label, Unit: "ms p99", Value: percentile(lat, 99)})
}

func printResult(w io.Writer, res Result) {
	fmt.Fprintf(w, "%s (%s, %s)\n", res.Target, res.URL, res.Repo)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, m := range res.Metrics {
		fmt.Fprintf(tw, "%s\t%s\t%s\t\n", m.Label, fmtNum(m.Value), m.Unit)
	}
	tw.Flush()
}

// ---------------------------------------------------------------------------
// report: arca vs peer

func cmdReport(args []string) error {
	fs := flag.NewFlagSet("report", flag.ExitOnError)
	aFiles := fs.String("a", "", "comma-separated run results of the first registry (arca)")
	bFiles := fs.String("b", "", "comma-separated run results of the second registry (the peer)")
	aName := fs.String("a-name", "arca", "name of the first registry")
	bName := fs.String("b-name", "distribution", "name of the second registry")
	refFiles := fs.String("ref", "", "comma-separated ref results (medians across them are shown)")
	var extra multiFlag
	fs.Var(&extra, "extra", "extra reference line \"label=value\" in MB/s (repeatable)")
	fs.Parse(args)

	load := func(list string) ([]Result, error) {
		var out []Result
		for _, p := range strings.Split(list, ",") {
			if p = strings.TrimSpace(p); p == "" {
				continue
			}
			r, err := readResult(p)
			if err != nil {
				return nil, err
			}
			out = append(out, r)
		}
		return out, nil
	}
	as, err := load(*aFiles)
	if err != nil {
		return err
	}
	bs, err := load(*bFiles)
	if err != nil {
		return err
	}
	refs, err := load(*refFiles)
	if err != nil {
		return err
	}
	if len(as) == 0 || len(bs) == 0 {
		return errors.New("report: need -a and -b results")
	}

	// Metric order is that of the first result of a.
	type row struct {
		m        Metric
		av, bv   []float64
		aMed, bM float64
	}
	var rows []*row
	byKey := map[string]*row{}
	for _, m := range as[0].Metrics {
		r := &row{m: m}
		rows = append(rows, r)
		byKey[m.Key] = r
	}
	for _, res := range as {
		for _, m := range res.Metrics {
			if r := byKey[m.Key]; r != nil {
				r.av = append(r.av, m.Value)
			}
		}
	}
	for _, res := range bs {
		for _, m := range res.Metrics {
			if r := byKey[m.Key]; r != nil {
				r.bv = append(r.bv, m.Value)
			}
		}
	}
	join := func(v []float64) string {
		s := make([]string, len(v))
		for i, x := range v {
			s[i] = fmtNum(x)
		}
		return strings.Join(s, " ")
	}
	table := func(detail bool) {
		fmt.Printf("| measurement | unit | %s | %s | %s/%s | better | %s runs | %s runs |\n", *aName, *bName, *aName, *bName, *aName, *bName)
		fmt.Println("|---|---|---:|---:|---:|---|---|---|")
		for _, r := range rows {
			if r.m.Detail != detail {
				continue
			}
			ratio := r.aMed / r.bM
			better := *aName
			if (r.m.Higher && r.aMed < r.bM) || (!r.m.Higher && r.aMed > r.bM) {
				better = *bName
			}
			unit := r.m.Unit
			if !r.m.Higher {
				unit += " (lower is better)"
			}
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.m.Label, unit, fmtNum(r.aMed), fmtNum(r.bM),
				strconv.FormatFloat(ratio, 'f', 2, 64), better, join(r.av), join(r.bv))
		}
	}
	hasDetail := false
	for _, r := range rows {
		r.aMed, r.bM = median(r.av), median(r.bv)
		hasDetail = hasDetail || r.m.Detail
	}
	table(false)
	if hasDetail {
		fmt.Println()
		fmt.Println("Where a large push spends its time (median per request, all runs):")
		fmt.Println()
		table(true)
	}

	// Reference speeds and how the large-blob lines compare with them.
	refVals := map[string][]float64{}
	refLabels := map[string]string{}
	var refOrder []string
	for _, res := range refs {
		for _, m := range res.Metrics {
			if _, ok := refLabels[m.Key]; !ok {
				refOrder = append(refOrder, m.Key)
				refLabels[m.Key] = m.Label
			}
			if len(refs) == 1 && len(m.Samples) > 0 {
				refVals[m.Key] = append(refVals[m.Key], m.Samples...)
			} else {
				refVals[m.Key] = append(refVals[m.Key], m.Value)
			}
		}
	}
	if len(refOrder) == 0 && len(extra) == 0 {
		return nil
	}
	fmt.Println()
	fmt.Println("| reference (same run) | MB/s | runs |")
	fmt.Println("|---|---:|---|")
	for _, k := range refOrder {
		fmt.Printf("| %s | %s | %s |\n", refLabels[k], fmtNum(median(refVals[k])), join(refVals[k]))
	}
	for _, e := range extra {
		i := strings.LastIndex(e, "=")
		if i < 0 {
			return fmt.Errorf("report: -extra %q is not label=value", e)
		}
		label, vals := e[:i], strings.Fields(e[i+1:])
		var fv []float64
		for _, s := range vals {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return fmt.Errorf("report: -extra %q: %w", e, err)
			}
			fv = append(fv, f)
		}
		fmt.Printf("| %s | %s | %s |\n", label, fmtNum(median(fv)), join(fv))
		refVals["extra:"+label] = fv
	}
	fmt.Println()
	refs2 := []struct{ key, line, what string }{
		{"sha256_mem", "large_push", "large push / Go SHA-256 in memory"},
		{"http_put_store", "large_push", "large push / minimal durable PUT server"},
		{"read_file", "large_pull", "large pull / file read (Go)"},
		{"http_get_sendfile", "large_pull", "large pull / minimal GET server (sendfile)"},
		{"http_get_copy", "large_pull", "large pull / minimal GET server (32 KiB copy)"},
	}
	for _, name := range []string{*aName, *bName} {
		var parts []string
		for _, x := range refs2 {
			r, ref := byKey[x.line], median(refVals[x.key])
			if r == nil || math.IsNaN(ref) || ref <= 0 {
				continue
			}
			v := r.aMed
			if name == *bName {
				v = r.bM
			}
			parts = append(parts, fmt.Sprintf("%s = %.0f%%", x.what, 100*v/ref))
		}
		if len(parts) > 0 {
			fmt.Printf("- %s: %s\n", name, strings.Join(parts, "; "))
		}
	}
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
