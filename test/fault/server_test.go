package fault

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	adminPassword = "fault-suite-admin-password"
	s3Key         = "FAULTSUITEACCESSKEY1"
	s3Secret      = "fault-suite-secret-key-0123456789abcdefgh"
)

// server is one data directory and database, served by a succession of
// arca processes: each kill ends one, each restart starts the next.
type server struct {
	t           *testing.T
	dataDir     string
	databaseURL string
	logPath     string

	mu      sync.RWMutex
	cmd     *exec.Cmd
	done    chan struct{}
	url     string // the HTTP listener, http://127.0.0.1:PORT
	s3URL   string // the S3 listener
	starts  int
	stopped bool
}

func newServer(t *testing.T, databaseURL string) *server {
	s := &server{t: t, dataDir: t.TempDir(), databaseURL: databaseURL, logPath: filepath.Join(t.TempDir(), "arca.log")}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			b, _ := os.ReadFile(s.logPath)
			lines := strings.SplitAfter(string(b), "\n")
			// Errors and warnings first, from the whole log: the request
			// lines of a busy test push them out of its tail.
			var bad []string
			for _, l := range lines {
				if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") {
					bad = append(bad, l)
				}
			}
			if len(bad) > 100 {
				bad = bad[:100]
			}
			t.Logf("errors and warnings in the servers' log:\n%s", strings.Join(bad, ""))
			if len(lines) > 200 {
				lines = lines[len(lines)-200:]
			}
			t.Logf("last lines of the servers' log (%s):\n%s", s.logPath, strings.Join(lines, ""))
		}
	})
	return s
}

func (s *server) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ARCA_") {
			env = append(env, kv)
		}
	}
	return append(env,
		"ARCA_ADDR=127.0.0.1:0", "ARCA_S3_ADDR=127.0.0.1:0",
		"ARCA_DATA_DIR="+s.dataDir, "ARCA_DATABASE_URL="+s.databaseURL,
		"ARCA_ADMIN_PASSWORD="+adminPassword, "ARCA_S3_ACCESS_KEY="+s3Key, "ARCA_S3_SECRET_KEY="+s3Secret,
		// Every blob older than a second is the collector's, and the test
		// collects in a tight loop itself.
		"ARCA_GC_GRACE=1s", "ARCA_GC_INTERVAL=0",
		"ARCA_LOG_LEVEL=info", "ARCA_LOG_FORMAT=text",
		// Pool use inside a transaction panics (internal/meta/txguard.go).
		"ARCA_DEBUG_TX_GUARD=1",
	)
}

// start starts a process and waits until it answers /readyz.
func (s *server) start() {
	s.t.Helper()
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		s.t.Fatal(err)
	}
	fmt.Fprintf(logFile, "---- start %d ----\n", s.starts+1)
	cmd := exec.Command(arcaBin, "serve")
	cmd.Env = s.env()
	cmd.Dir = s.dataDir
	out, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("starting arca serve: %v", err)
	}
	urls := make(chan [2]string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer logFile.Close()
		var http, s3 string
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if u := listening(line, "http"); u != "" {
				http = u
			} else if u := listening(line, "s3"); u != "" {
				s3 = u
			}
			if http != "" && s3 != "" {
				urls <- [2]string{http, s3}
				http, s3 = "", "-"
			}
		}
		io.Copy(logFile, out)
		cmd.Wait()
	}()
	var u [2]string
	select {
	case u = <-urls:
	case <-done:
		s.t.Fatalf("arca serve exited while starting (log: %s)", s.logPath)
	case <-time.After(60 * time.Second):
		s.t.Fatalf("arca serve did not listen within 60s (log: %s)", s.logPath)
	}
	s.mu.Lock()
	s.cmd, s.done, s.url, s.s3URL = cmd, done, u[0], u[1]
	s.starts++
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(u[0] + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.t.Fatalf("arca serve not ready within 60s (log: %s)", s.logPath)
}

// listening extracts url=... from the `msg=listening` line of surface.
func listening(line, surface string) string {
	if !strings.Contains(line, "msg=listening") || !strings.Contains(line, " surface="+surface+" ") {
		return ""
	}
	for _, f := range strings.Fields(line) {
		if u, ok := strings.CutPrefix(f, "url="); ok {
			return strings.Trim(u, `"`)
		}
	}
	return ""
}

// kill ends the current process with SIGKILL, as a crash or the OOM
// killer would.
func (s *server) kill() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// stop ends the current process with SIGTERM.
func (s *server) stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		<-done
	}
}

// urls returns the current listeners' URLs ("" while no process runs).
func (s *server) urls() (string, string) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.cmd == nil {
		return "", ""
	}
	return s.url, s.s3URL
}

// arca runs an arca command against the server's data and database.
func (s *server) arca(args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, arcaBin, args...)
	cmd.Env = s.env()
	cmd.Dir = s.dataDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
