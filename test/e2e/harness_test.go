package e2e

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	mrand "math/rand/v2"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// adminPassword is the initial admin password of every test server.
const adminPassword = "e2e-admin-Passw0rd"

// ---------------------------------------------------------------------------
// Prerequisites

// underCI reports whether missing prerequisites must fail tests (CI set, as
// internal/meta/metatest also reads it).
func underCI() bool { return os.Getenv("CI") != "" }

// missing skips the test with msg, or fails it under CI.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if underCI() {
		t.Fatalf("missing prerequisite (CI is set, so this fails instead of skipping): %s", msg)
	}
	t.Skipf("skipping: %s; ./scripts/test.sh sets everything up", msg)
}

// needTool returns the path of a command the test drives.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		missing(t, "%s not found in PATH", name)
	}
	return p
}

// ---------------------------------------------------------------------------
// Server processes

// ServerOptions configure one arca serve process.
type ServerOptions struct {
	DataDir       string   // ARCA_DATA_DIR; "" means a fresh temporary directory
	DatabaseURL   string   // ARCA_DATABASE_URL; "" means SQLite in DataDir
	AdminPassword string   // ARCA_ADMIN_PASSWORD; "" means adminPassword
	Env           []string // more KEY=value settings (ARCA_BLOB_DRIVER=s3, ...)
	Binary        string   // the arca binary; "" means the one TestMain built
}

// Server is a running arca serve process.
type Server struct {
	t       testing.TB
	opts    ServerOptions
	URL     string // http://127.0.0.1:PORT
	LogPath string // its stdout and stderr

	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	exitErr error         // cmd.Wait's result, set before done closes
}

var serverSeq atomic.Int64

// StartServer starts arca serve on a free loopback port (ARCA_ADDR
// 127.0.0.1:0; the port is read from the "listening" log line) and waits
// until /readyz answers 200. The process is killed when the test ends, and
// its log is printed if the test failed (or always, with ARCA_E2E_SHOW_LOGS
// set).
func StartServer(t testing.TB, opts ServerOptions) *Server {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	} else if err := os.MkdirAll(opts.DataDir, 0o750); err != nil {
		t.Fatal(err)
	}
	if opts.AdminPassword == "" {
		opts.AdminPassword = adminPassword
	}
	n := serverSeq.Add(1)
	logPath := filepath.Join(t.TempDir(), fmt.Sprintf("arca-%d.log", n))
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	lw := &logWatcher{w: logFile, url: make(chan string, 1)}
	s := &Server{t: t, opts: opts, LogPath: logPath, done: make(chan struct{})}
	s.cmd = exec.Command(cmp.Or(opts.Binary, arcaBin), "serve")
	s.cmd.Env = s.Env()
	s.cmd.Dir = opts.DataDir
	s.cmd.Stdout = lw
	s.cmd.Stderr = lw
	s.cmd.SysProcAttr = dieWithParent()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting arca serve: %v", err)
	}
	go func() {
		err := s.cmd.Wait()
		logFile.Close()
		s.exitErr = err
		close(s.done)
	}()
	t.Cleanup(func() {
		if s.Running() {
			s.cmd.Process.Kill()
			<-s.done
		}
		if t.Failed() || os.Getenv("ARCA_E2E_SHOW_LOGS") != "" {
			t.Logf("log of arca server #%d (%s):\n%s", n, opts.DataDir, s.LogTail(300))
		}
	})

	select {
	case s.URL = <-lw.url:
	case <-s.done:
		t.Fatalf("arca serve exited before listening: %v", s.exitErr)
	case <-time.After(30 * time.Second):
		t.Fatalf("arca serve did not log its listening URL within 30s")
	}
	s.waitReady()
	return s
}

// Env is the environment of this server's process, also right for `arca
// admin` commands against the same data: the test's environment without
// any ARCA_* variable, plus the server's settings.
func (s *Server) Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARCA_") {
			env = append(env, kv)
		}
	}
	env = append(env,
		"ARCA_ADDR=127.0.0.1:0",
		"ARCA_S3_ADDR=127.0.0.1:0",
		"ARCA_DATA_DIR="+s.opts.DataDir,
		"ARCA_DATABASE_URL="+s.opts.DatabaseURL,
		"ARCA_ADMIN_PASSWORD="+s.opts.AdminPassword,
		"ARCA_LOG_LEVEL=debug",
		"ARCA_LOG_FORMAT=text",
		// Pool use inside a transaction panics (internal/meta/txguard.go).
		"ARCA_DEBUG_TX_GUARD=1",
	)
	return append(env, s.opts.Env...)
}

// Cred is the admin's credentials in curl's -u form.
func (s *Server) Cred() string { return "admin:" + s.opts.AdminPassword }

// DataDir is the server's data directory.
func (s *Server) DataDir() string { return s.opts.DataDir }

// Running reports whether the process has not exited yet.
func (s *Server) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

func (s *Server) waitReady() {
	s.t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	if strings.HasPrefix(s.URL, "https://") { // readiness only: a test checks certificates itself
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}
	}
	deadline := time.Now().Add(30 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		if !s.Running() {
			s.t.Fatalf("arca serve exited while starting: %v", s.exitErr)
		}
		resp, err := client.Get(s.URL + "/readyz")
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = fmt.Sprintf("%s: %s", resp.Status, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("%s/readyz did not answer 200 within 30s; last: %s", s.URL, last)
}

// Stop shuts the server down with SIGTERM and checks it exits cleanly
// (status 0) within 30 seconds.
func (s *Server) Stop() {
	s.t.Helper()
	if !s.Running() {
		s.t.Fatalf("server already exited: %v", s.exitErr)
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		s.t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
		<-s.done
		s.t.Fatalf("arca serve did not exit within 30s of SIGTERM")
	}
	if s.exitErr != nil {
		s.t.Fatalf("arca serve exited uncleanly after SIGTERM: %v", s.exitErr)
	}
}

// Kill kills the server with SIGKILL, as a crash or the OOM killer would,
// and waits for it to be gone.
func (s *Server) Kill() {
	s.t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		s.t.Fatalf("SIGKILL: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		s.t.Fatalf("arca serve still running 10s after SIGKILL")
	}
	var ee *exec.ExitError
	if !errors.As(s.exitErr, &ee) {
		s.t.Fatalf("after SIGKILL: unexpected wait result %v", s.exitErr)
	}
	if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		s.t.Fatalf("arca serve exited on its own (%v) before the SIGKILL", s.exitErr)
	}
}

// serverErrorRe matches log lines of server-side failures: errors, and
// requests answered with a 5xx status.
var serverErrorRe = regexp.MustCompile(`(?m)^.*(level=ERROR|msg=request .*status=5\d\d).*$`)

// WantNoServerErrors fails the test if the server logged an error or
// answered any request with a 5xx status: every refusal the tests provoke
// must be a clean 4xx, never an internal failure.
func (s *Server) WantNoServerErrors() {
	s.t.Helper()
	if m := serverErrorRe.FindAllString(s.Log(), 20); len(m) > 0 {
		s.t.Errorf("the server logged failures:\n%s", strings.Join(m, "\n"))
	}
}

// Log returns the whole log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}

// LogTail returns the log's last n lines.
func (s *Server) LogTail(n int) string {
	lines := strings.SplitAfter(s.Log(), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[... %d earlier lines in %s]\n", len(lines)-n, s.LogPath)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "")
}

// Admin runs `arca admin args...` against the server's database and
// returns its standard output.
func (s *Server) Admin(args ...string) string {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, arcaBin, append([]string{"admin"}, args...)...)
	cmd.Env = s.Env()
	cmd.Dir = s.opts.DataDir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		s.t.Fatalf("arca admin %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// logWatcher copies the server's output to a file and reports the URL of
// the HTTP listener from its "listening" line.
type logWatcher struct {
	w       io.Writer
	url     chan string
	partial []byte
	found   bool
}

func (l *logWatcher) Write(p []byte) (int, error) {
	if !l.found {
		l.partial = append(l.partial, p...)
		for {
			i := bytes.IndexByte(l.partial, '\n')
			if i < 0 {
				break
			}
			line := string(l.partial[:i])
			l.partial = l.partial[i+1:]
			if u := listeningURL(line); u != "" {
				l.found = true
				l.partial = nil
				l.url <- u
				break
			}
		}
	}
	return l.w.Write(p)
}

// listeningURL extracts url=... from a `msg=listening` line of the HTTP
// listener (a line naming another surface, such as s3, does not count).
func listeningURL(line string) string {
	if !strings.Contains(line, "msg=listening") {
		return ""
	}
	if strings.Contains(line, " surface=") && !strings.Contains(line, " surface=http ") {
		return ""
	}
	for _, f := range strings.Fields(line) {
		if u, ok := strings.CutPrefix(f, "url="); ok {
			return strings.Trim(u, `"`)
		}
	}
	return ""
}

// ---------------------------------------------------------------------------
// curl

// Response is what curl received: the final response's status and headers
// (after any 100 Continue), and the body, saved to BodyPath.
type Response struct {
	Status   int
	Header   http.Header
	BodyPath string
	Stderr   string
}

// Body returns the response body. (With -I, curl writes the headers there.)
func (r *Response) Body(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(r.BodyPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // curl creates no file for an empty body
	}
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var curlSeq atomic.Int64

// curl runs `curl -sS args...` with stdin (may be nil), saving headers and
// body, and fails the test if curl itself fails (exit status != 0, e.g. a
// connection error, or an HTTP error status when args hold -f).
func curl(t testing.TB, stdin io.Reader, args ...string) *Response {
	t.Helper()
	r, err := curlErr(t, stdin, args...)
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, r.Stderr)
	}
	return r
}

// curlErr is curl that returns curl's error instead of failing.
func curlErr(t testing.TB, stdin io.Reader, args ...string) (*Response, error) {
	t.Helper()
	dir := t.TempDir()
	n := curlSeq.Add(1)
	hdrPath := filepath.Join(dir, fmt.Sprintf("curl-%d.headers", n))
	r := &Response{BodyPath: filepath.Join(dir, fmt.Sprintf("curl-%d.body", n))}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	full := append([]string{"-sS", "-D", hdrPath, "-o", r.BodyPath, "-w", "%{http_code}"}, args...)
	cmd := exec.CommandContext(ctx, "curl", full...)
	cmd.Stdin = stdin
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r.Stderr = stderr.String()
	if err != nil {
		return r, err
	}
	if r.Status, err = strconv.Atoi(strings.TrimSpace(stdout.String())); err != nil {
		return r, fmt.Errorf("curl printed no status code: %q", stdout.String())
	}
	raw, err := os.ReadFile(hdrPath)
	if err != nil {
		return r, err
	}
	r.Header, err = lastHeaderBlock(raw)
	return r, err
}

// lastHeaderBlock parses the final response's headers from curl's -D file,
// which holds every response received (e.g. 100 Continue, then the final).
func lastHeaderBlock(raw []byte) (http.Header, error) {
	var last string
	for _, block := range strings.Split(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\n\n") {
		if strings.TrimSpace(block) != "" {
			last = block
		}
	}
	if last == "" {
		return http.Header{}, nil
	}
	lines := strings.Split(strings.TrimSpace(last), "\n")
	h := http.Header{}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			return nil, fmt.Errorf("malformed header line %q", l)
		}
		h.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v))
	}
	return h, nil
}

// wantStatus fails the test unless r has the status.
func wantStatus(t testing.TB, r *Response, status int, what string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("%s: status %d, want %d; body: %s", what, r.Status, status, truncate(r.Body(t), 500))
	}
}

// wantJSONError checks that r is an error of the status in arca's JSON
// error form, {"error": {"code": ..., "message": ...}}, and returns it.
func wantJSONError(t testing.TB, r *Response, status int, what string) (code, message string) {
	t.Helper()
	wantStatus(t, r, status, what)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body(t), &body); err != nil {
		t.Fatalf("%s: error body is not JSON: %v: %s", what, err, truncate(r.Body(t), 500))
	}
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Errorf("%s: error body lacks code or message: %s", what, r.Body(t))
	}
	return body.Error.Code, body.Error.Message
}

// decodeJSON decodes r's body into v.
func decodeJSON(t testing.TB, r *Response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body(t), v); err != nil {
		t.Fatalf("response is not the expected JSON: %v: %s", err, truncate(r.Body(t), 500))
	}
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + fmt.Sprintf("... (%d bytes)", len(b))
	}
	return string(b)
}

// Listing is the JSON listing of a raw directory.
type Listing struct {
	Repository string `json:"repository"`
	Path       string `json:"path"`
	Entries    []struct {
		Name     string `json:"name"`
		Path     string `json:"path"`
		Type     string `json:"type"`
		Size     int64  `json:"size"`
		Digest   string `json:"digest"`
		Modified int64  `json:"modified"`
	} `json:"entries"`
	Next string `json:"next"`
}

// list fetches the listing of dir ("" or ending in "/") of a raw repository.
func list(t testing.TB, s *Server, repo, dir string) Listing {
	t.Helper()
	r := curl(t, nil, "-u", s.Cred(), "-H", "Accept: application/json", s.URL+"/raw/"+repo+"/"+dir)
	wantStatus(t, r, http.StatusOK, "listing of "+repo+"/"+dir)
	var l Listing
	decodeJSON(t, r, &l)
	return l
}

// ---------------------------------------------------------------------------
// Files and blobs

// newRand returns a fast pseudo-random source with a random seed, so no two
// runs (or files) share content.
func newRand() *mrand.ChaCha8 {
	var seed [32]byte
	rand.Read(seed[:])
	return mrand.NewChaCha8(seed)
}

// writeRandomFile writes size random bytes to path and returns their
// sha256 (hex).
func writeRandomFile(t testing.TB, path string, size int64) string {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), newRand(), size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// sha256File returns the sha256 (hex) and size of a file.
func sha256File(t testing.TB, path string) (string, int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil)), n
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// blobDir and stagingDir are where the filesystem blob driver keeps
// committed blobs (<blobs>/blobs/sha256/<2 hex>/<64 hex>) and staged writes,
// with the default blob root <data>/blobs.
func blobDir(dataDir string) string    { return filepath.Join(dataDir, "blobs", "blobs", "sha256") }
func stagingDir(dataDir string) string { return filepath.Join(dataDir, "blobs", "staging") }

// committedBlobs returns every committed blob file under the data directory,
// by the name it is stored under (the sha256 hex), with its size.
func committedBlobs(t testing.TB, dataDir string) map[string]int64 {
	t.Helper()
	blobs := map[string]int64{}
	err := filepath.WalkDir(blobDir(dataDir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		blobs[d.Name()] = fi.Size()
		return nil
	})
	if err != nil {
		t.Fatalf("walking the blob store: %v", err)
	}
	return blobs
}

// stagedFiles returns the staged writes under the data directory with their
// sizes.
func stagedFiles(t testing.TB, dataDir string) map[string]int64 {
	t.Helper()
	entries, err := os.ReadDir(stagingDir(dataDir))
	if err != nil {
		t.Fatalf("reading the staging directory: %v", err)
	}
	files := map[string]int64{}
	for _, e := range entries {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			files[e.Name()] = fi.Size()
		}
	}
	return files
}

// ---------------------------------------------------------------------------
// Other processes

// runCmd runs a command with a timeout and fails the test, showing its
// output, if it fails. It returns the combined output.
func runCmd(t testing.TB, timeout time.Duration, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runCmdErr(timeout, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %s (in %s): %v\n%s", name, strings.Join(args, " "), dir, err, out)
	}
	return out
}

func runCmdErr(timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 5 * time.Second
	var out lockedBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("timed out after %s (%v)", timeout, err)
	}
	return out.String(), err
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
