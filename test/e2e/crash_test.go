package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

const (
	firstSize = 100 << 20 // the file that must survive the crash
	// The interrupted upload: the client streams sentBeforeKill bytes (with
	// chunked encoding, from a pipe that stays open), and the server is
	// killed once at least stagedBeforeKill of them have reached its staging
	// file: surely in the middle of the upload.
	sentBeforeKill   = 64 << 20
	stagedBeforeKill = 32 << 20
)

// TestCrashDuringUpload uploads 100 MB with curl, kills the server with
// SIGKILL in the middle of a second large upload, restarts it on the same
// data, and checks that the first file is intact byte for byte and that
// nothing of the second is visible: not as a file, not in a listing, not as
// a committed blob. It runs against SQLite and PostgreSQL.
func TestCrashDuringUpload(t *testing.T) {
	needTool(t, "curl")
	t.Run("sqlite", func(t *testing.T) { testCrashDuringUpload(t, "") })
	t.Run("postgres", func(t *testing.T) { testCrashDuringUpload(t, metatest.PostgresURL(t)) })
}

func testCrashDuringUpload(t *testing.T, databaseURL string) {
	data := t.TempDir()
	work := t.TempDir()
	srv := StartServer(t, ServerOptions{DataDir: data, DatabaseURL: databaseURL})

	// 1. A 100 MB file, uploaded with curl -T (PUT, with Content-Length).
	big1 := filepath.Join(work, "big1.bin")
	sum1 := writeRandomFile(t, big1, firstSize)
	start := time.Now()
	r := curl(t, nil, "-f", "-u", srv.Cred(), "-T", big1, srv.URL+"/raw/files/big1.bin")
	t.Logf("uploaded 100 MB in %s", time.Since(start).Round(time.Millisecond))
	wantStatus(t, r, http.StatusCreated, "upload of big1.bin")
	var up struct {
		Repository string `json:"repository"`
		Path       string `json:"path"`
		Size       int64  `json:"size"`
		Digest     string `json:"digest"`
	}
	decodeJSON(t, r, &up)
	if up.Repository != "files" || up.Path != "big1.bin" || up.Size != firstSize || up.Digest != "sha256:"+sum1 {
		t.Fatalf("upload response %+v, want files/big1.bin, %d bytes, sha256:%s", up, firstSize, sum1)
	}
	if got := r.Header.Get("X-Checksum-Sha256"); got != sum1 {
		t.Errorf("upload response X-Checksum-Sha256 = %q, want %s", got, sum1)
	}
	if blobs := committedBlobs(t, data); blobs[sum1] != firstSize {
		t.Fatalf("after the upload the blob store holds %v, want %s of %d bytes", blobs, sum1, firstSize)
	}
	stagedBefore := stagedFiles(t, data)
	if len(stagedBefore) != 0 {
		t.Errorf("a finished upload left staged writes behind: %v", stagedBefore)
	}

	// 2. A second upload, streamed by curl from a pipe (-T -, chunked), and
	// SIGKILL while it is in flight.
	var stdout, stderr bytes.Buffer
	up2 := exec.Command("curl", "-sS", "-u", srv.Cred(), "-T", "-", "-o", "/dev/null", "-w", "%{http_code}",
		srv.URL+"/raw/files/big2.bin")
	up2.Stdout, up2.Stderr = &stdout, &stderr
	pipe, err := up2.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := up2.Start(); err != nil {
		t.Fatal(err)
	}
	var curlExit error
	curlDone := make(chan struct{}) // closed when curl has exited, curlExit set
	go func() { curlExit = up2.Wait(); close(curlDone) }()
	t.Cleanup(func() {
		select {
		case <-curlDone:
		default:
			up2.Process.Kill()
			<-curlDone
		}
	})
	release := make(chan struct{}) // closing it lets the feeder close the pipe
	releaseFeeder := sync.OnceFunc(func() { close(release) })
	defer releaseFeeder()
	fed := make(chan error, 1)
	go func() {
		_, err := io.CopyN(pipe, newRand(), sentBeforeKill)
		fed <- err
		<-release // keep the body open: the upload cannot finish
		pipe.Close()
	}()

	staged := waitForStaging(t, data, stagedBeforeKill, curlDone)
	// In flight, the file must not be visible yet.
	r = curl(t, nil, "-u", srv.Cred(), "-I", srv.URL+"/raw/files/big2.bin")
	wantStatus(t, r, http.StatusNotFound, "HEAD of the file being uploaded")

	srv.WantNoServerErrors()
	srv.Kill()
	t.Logf("killed the server with %d bytes of the second upload staged", staged)
	releaseFeeder()
	select {
	case <-curlDone:
		if curlExit == nil {
			t.Errorf("curl reported success (HTTP %s) for the upload the server was killed in", stdout.String())
		} else {
			t.Logf("the interrupted curl failed as expected: %v: %s", curlExit, strings.TrimSpace(stderr.String()))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("curl still running 30s after the server was killed")
	}
	select {
	case err := <-fed:
		if err == nil {
			// All of it was handed to curl; the body was still open, so
			// the server cannot have seen its end.
			t.Logf("curl had read all %d bytes from the pipe before the kill", sentBeforeKill)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the pipe feeding curl is still blocked after curl exited")
	}

	// 3. Restart on the same data and check.
	srv2 := StartServer(t, ServerOptions{DataDir: data, DatabaseURL: databaseURL})

	r = curl(t, nil, "-f", "-u", srv2.Cred(), srv2.URL+"/raw/files/big1.bin")
	wantStatus(t, r, http.StatusOK, "GET big1.bin after the crash")
	if gotSum, gotSize := sha256File(t, r.BodyPath); gotSum != sum1 || gotSize != firstSize {
		t.Errorf("big1.bin after the crash: %d bytes, sha256 %s; want %d bytes, sha256 %s", gotSize, gotSum, firstSize, sum1)
	}
	if h := r.Header.Get("X-Checksum-Sha256"); h != sum1 {
		t.Errorf("X-Checksum-Sha256 of big1.bin = %q, want %s", h, sum1)
	}
	if h := r.Header.Get("ETag"); h != `"`+sum1+`"` {
		t.Errorf("ETag of big1.bin = %q, want %q", h, `"`+sum1+`"`)
	}

	r = curl(t, nil, "-u", srv2.Cred(), srv2.URL+"/raw/files/big2.bin")
	wantJSONError(t, r, http.StatusNotFound, "GET of the interrupted upload")
	r = curl(t, nil, "-u", srv2.Cred(), "-I", srv2.URL+"/raw/files/big2.bin")
	wantStatus(t, r, http.StatusNotFound, "HEAD of the interrupted upload")

	l := list(t, srv2, "files", "")
	if len(l.Entries) != 1 || l.Entries[0].Name != "big1.bin" || l.Entries[0].Type != "file" ||
		l.Entries[0].Size != firstSize || l.Entries[0].Digest != "sha256:"+sum1 {
		b, _ := json.Marshal(l)
		t.Errorf("listing after the crash = %s, want only big1.bin (%d bytes, sha256:%s)", b, firstSize, sum1)
	}

	blobs := committedBlobs(t, data)
	if len(blobs) != 1 || blobs[sum1] != firstSize {
		t.Errorf("committed blobs after the crash = %v, want only %s (%d bytes)", blobs, sum1, firstSize)
	}
	// The abandoned staged write may remain until it is purged by age, but
	// it must be no more than staging: never a blob (checked above).
	t.Logf("staged writes left after the restart: %v", stagedFiles(t, data))

	// The restarted server takes new uploads of the same name normally.
	small := filepath.Join(work, "big2.bin")
	sum2 := writeRandomFile(t, small, 3<<20+17)
	r = curl(t, nil, "-f", "-u", srv2.Cred(), "-T", small, srv2.URL+"/raw/files/big2.bin")
	wantStatus(t, r, http.StatusCreated, "upload of big2.bin after the restart")
	r = curl(t, nil, "-f", "-u", srv2.Cred(), srv2.URL+"/raw/files/big2.bin")
	if gs := sha256Hex(r.Body(t)); gs != sum2 {
		t.Errorf("big2.bin uploaded after the restart reads back as sha256 %s, want %s", gs, sum2)
	}
	if n := len(list(t, srv2, "files", "").Entries); n != 2 {
		t.Errorf("listing holds %d entries after the new upload, want 2", n)
	}
	srv2.WantNoServerErrors()
	srv2.Stop()
	if !strings.Contains(srv2.Log(), "shutting down") {
		t.Errorf("graceful stop did not log %q", "shutting down")
	}
}

// waitForStaging waits until a staged write in the data directory holds at
// least min bytes and returns its size. It fails if curl exits first.
func waitForStaging(t *testing.T, data string, min int64, curlDone <-chan struct{}) int64 {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var seen map[string]int64
	for time.Now().Before(deadline) {
		select {
		case <-curlDone:
			t.Fatalf("the second upload ended before the kill")
		default:
		}
		seen = stagedFiles(t, data)
		for _, size := range seen {
			if size >= min {
				return size
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no staged write reached %d bytes within 60s (staging: %v)", min, fmt.Sprint(seen))
	return 0
}
