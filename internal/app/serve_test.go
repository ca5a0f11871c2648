package app_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/app"
	"github.com/arcaproject/arca/internal/config"
)

// serving is an arca run by app.Serve, with the listeners' real timeouts.
type serving struct {
	*app.App
	http, s3 string // host:port
}

func serve(t *testing.T, edit func(*config.Config)) *serving {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Addr, cfg.S3Addr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminPassword = "admin-test-password"
	cfg.GC.Interval = 0
	if edit != nil {
		edit(&cfg)
	}
	a, err := app.Open(context.Background(), cfg, app.NewLogger(cfg.Log, io.Discard))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &serving{App: a}
	var mu sync.Mutex
	ready := make(chan struct{}, 2)
	done := make(chan error, 1)
	go func() {
		done <- a.Serve(ctx, func(surface, addr string) {
			mu.Lock()
			defer mu.Unlock()
			if surface == "s3" {
				s.s3 = addr
			} else {
				s.http = addr
			}
			ready <- struct{}{}
		})
	}()
	for range 2 {
		select {
		case <-ready:
		case err := <-done:
			t.Fatalf("serve: %v", err)
		}
	}
	t.Cleanup(func() {
		cancel()
		<-done
		a.Close()
	})
	return s
}

// stagedFiles counts the filesystem driver's staged writes.
func stagedFiles(t *testing.T, a *app.App) int {
	entries, err := os.ReadDir(filepath.Join(a.Config.BlobDir(), "staging"))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// TestStalledUploadIsDropped announces 4 GiB (S3 refuses single PUTs over
// 5 GiB), sends 1 MiB and stalls, on raw, OCI and S3: arca answers or hangs
// up within a few body timeouts, and the staged bytes are gone.
func TestStalledUploadIsDropped(t *testing.T) {
	s := serve(t, func(c *config.Config) {
		c.HTTP.BodyTimeout = config.Duration(time.Second)
		c.HTTP.BodyMinBytes = 64 << 10
	})
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:admin-test-password"))
	k, secret, err := s.Auth.CreateAccessKey(context.Background(), "admin", "", "", "test")
	if err != nil {
		t.Fatal(err)
	}
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + s.s3), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(k.ID, secret, "")})
	presigned, err := s3.NewPresignClient(s3c).PresignPutObject(context.Background(),
		&s3.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String("big")})
	if err != nil {
		t.Fatal(err)
	}
	pu := strings.TrimPrefix(presigned.URL, "http://"+s.s3)
	for _, c := range []struct{ name, addr, head string }{
		{"raw PUT", s.http, "PUT /raw/files/big HTTP/1.1\r\nAuthorization: " + basic + "\r\n"},
		{"OCI POST", s.http, "POST /v2/library/big/blobs/uploads/?digest=sha256:" + strings.Repeat("0", 64) + " HTTP/1.1\r\nAuthorization: " + basic + "\r\n"},
		{"S3 PUT", s.s3, "PUT " + pu + " HTTP/1.1\r\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", c.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "%sHost: %s\r\nContent-Length: %d\r\nContent-Type: application/octet-stream\r\n\r\n", c.head, c.addr, int64(4)<<30)
			if _, err := conn.Write(make([]byte, 1<<20)); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(2 * time.Second); stagedFiles(t, s.App) == 0; time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("nothing staged while the upload is in flight")
				}
			}
			// Stall. arca must give up on its own.
			start := time.Now()
			conn.SetReadDeadline(time.Now().Add(15 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode < 400 {
					t.Fatalf("stalled upload answered %s", resp.Status)
				}
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("arca still holds the stalled upload after %s", time.Since(start))
			}
			for deadline := time.Now().Add(5 * time.Second); stagedFiles(t, s.App) > 0; time.Sleep(50 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d staged writes left after the stalled upload was dropped", stagedFiles(t, s.App))
				}
			}
		})
	}
}

// TestSlowHeadersDoNotStarveOthers opens 200 connections that send their
// headers one byte a second: other clients are served meanwhile, and arca
// hangs up on the slow ones after http.read_header_timeout.
func TestSlowHeadersDoNotStarveOthers(t *testing.T) {
	s := serve(t, func(c *config.Config) { c.HTTP.ReadHeaderTimeout = config.Duration(2 * time.Second) })
	const slow = 200
	closed := make(chan time.Duration, 2*slow)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	for i := range 2 * slow {
		addr := s.http
		if i%2 == 1 {
			addr = s.s3
		}
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		go func() {
			req := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + strings.Repeat("a", 100) + "\r\n\r\n"
			for j := 0; j < len(req); j++ {
				if _, err := conn.Write([]byte{req[j]}); err != nil {
					break // hung up on
				}
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}()
		go func() {
			io.Copy(io.Discard, conn) // returns when arca closes the connection
			closed <- time.Since(start)
		}()
	}
	client := &http.Client{Timeout: time.Second}
	for i := range 20 {
		for _, addr := range []string{s.http, s.s3} {
			resp, err := client.Get("http://" + addr + "/healthz")
			if err != nil {
				t.Fatalf("request %d to %s while slow clients wait: %v", i, addr, err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		time.Sleep(50 * time.Millisecond)
	}
	for range 2 * slow {
		select {
		case d := <-closed:
			if d > 6*time.Second {
				t.Fatalf("a slow connection was closed only after %s", d)
			}
		case <-time.After(8 * time.Second):
			t.Fatal("arca keeps connections that never finish their headers")
		}
	}
}
