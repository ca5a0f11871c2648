// Package fault is arca's fault-injection suite: the built binary under a
// mixed load of every protocol, killed with SIGKILL at random moments and
// restarted, with garbage collection running in a tight loop, on SQLite
// and on PostgreSQL. Every write the server acknowledged must read back
// byte for byte, no read may ever return partial content, and at the end
// `arca gc` and `arca fsck` must find the data directory consistent.
//
// By default (CI) it makes 10 kills per database; ARCA_FAULT_KILLS sets
// another number, e.g. ARCA_FAULT_KILLS=50 for a longer run.
package fault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	s3sdk "github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

func eachDatabase(t *testing.T, fn func(t *testing.T, s *server)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, newServer(t, "")) })
	t.Run("postgres", func(t *testing.T) { fn(t, newServer(t, metatest.PostgresURL(t))) })
}

// figures are what a run reports.
type figures struct {
	kills, acked, refused, lost, corrupt, reads int
	bytes                                       int64
}

// TestKillUnderLoad runs every protocol's writes from several clients while
// the server is killed and restarted, and a collector loops.
func TestKillUnderLoad(t *testing.T) {
	kills := 10
	if v, err := strconv.Atoi(os.Getenv("ARCA_FAULT_KILLS")); err == nil && v > 0 {
		kills = v
	}
	eachDatabase(t, func(t *testing.T, s *server) {
		s.start()
		l := &ledger{}
		var f figures
		var refused, corrupt, reads atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		ops := ops()
		var seq atomic.Int64
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := newClient(s)
				rnd := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
				total := 0
				for _, o := range ops {
					total += o.weight
				}
				for {
					select {
					case <-stop:
						return
					default:
					}
					k := rnd.IntN(total)
					o := ops[0]
					for _, o = range ops {
						if k < o.weight {
							break
						}
						k -= o.weight
					}
					items, err := o.run(c, l, rnd, int(seq.Add(1)))
					for _, it := range items {
						l.add(it)
					}
					if err != nil {
						refused.Add(1)
						time.Sleep(20 * time.Millisecond) // the server may be down
					}
				}
			}()
		}
		// A reader checks acknowledged writes while everything runs: a read
		// that completes must never return other bytes.
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(s)
			rnd := rand.New(rand.NewPCG(99, uint64(time.Now().UnixNano())))
			for {
				select {
				case <-stop:
					return
				default:
				}
				items := l.snapshot()
				if len(items) == 0 {
					time.Sleep(50 * time.Millisecond)
					continue
				}
				it := items[rnd.IntN(len(items))]
				got, err := it.read(c)
				if err != nil {
					continue // down, or cut off by a kill: not an answer
				}
				reads.Add(1)
				if sum(got) != it.sum {
					corrupt.Add(1)
					t.Errorf("%s: a completed read returned %d bytes that are not the acknowledged %d", it.what, len(got), it.size)
				}
			}
		}()
		// The collector loops, as POST /api/v1/gc would.
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(s)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, _, err := c.do("POST", "/api/v1/gc", nil); err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
		}()
		rnd := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
		for f.kills < kills {
			time.Sleep(time.Duration(1000+rnd.IntN(2500)) * time.Millisecond)
			s.kill()
			f.kills++
			time.Sleep(time.Duration(rnd.IntN(300)) * time.Millisecond)
			s.start()
		}
		time.Sleep(time.Second) // some load on the last process too
		close(stop)
		wg.Wait()

		f.acked, f.bytes, f.refused = len(l.snapshot()), l.bytes, int(refused.Load())
		s.kill()
		s.start()
		f.lost = verifyAll(t, s, l)
		f.corrupt, f.reads = int(corrupt.Load()), int(reads.Load())
		checkConsistent(t, s)
		t.Logf("FIGURES kills=%d acknowledged=%d bytes=%d refused_or_interrupted=%d reads_during_load=%d lost=%d corrupt=%d",
			f.kills, f.acked, f.bytes, f.refused, f.reads, f.lost, f.corrupt)
		kinds := map[string]int{}
		for _, it := range l.snapshot() {
			kinds[it.kind]++
		}
		t.Logf("acknowledged by kind: %v", kinds)
		if f.acked < 50 {
			t.Errorf("only %d writes were acknowledged: the load did not run", f.acked)
		}
		if f.lost > 0 || f.corrupt > 0 {
			t.Errorf("%d acknowledged writes lost, %d reads corrupt", f.lost, f.corrupt)
		}
	})
}

// verifyAll reads every acknowledged write back and returns how many are
// missing or differ.
func verifyAll(t *testing.T, s *server, l *ledger) int {
	t.Helper()
	c := newClient(s)
	lost := 0
	for _, it := range l.snapshot() {
		got, err := it.read(c)
		if err != nil || sum(got) != it.sum {
			lost++
			if lost <= 10 {
				t.Errorf("%s: acknowledged, but reads back %d bytes, %v", it.what, len(got), err)
			}
		}
	}
	return lost
}

// checkConsistent stops the server, lets every orphan age past the grace
// window, collects, and checks that no metadata row lacks its blob and no
// orphan is left.
func checkConsistent(t *testing.T, s *server) {
	t.Helper()
	s.stop()
	time.Sleep(1100 * time.Millisecond)
	gc1, err := s.arca("gc")
	if err != nil {
		t.Fatalf("arca gc: %v\n%s", err, gc1)
	}
	out, err := s.arca("fsck")
	if err != nil {
		t.Fatalf("arca fsck: %v\n%s", err, out)
	}
	if !strings.Contains(out, " 0 without their bytes; 0 orphaned blobs") {
		t.Errorf("arca fsck after arca gc:\n%s\narca gc:\n%s", out, gc1)
	}
	t.Logf("arca fsck: %s", strings.TrimSpace(out))
}

// TestGCRaces adds references to blobs that garbage collection is taking,
// through the binary's real listeners: copies and part copies of S3
// objects whose source is deleted at the same time, cross-repository
// mounts whose source link is deleted, and re-uploads of content whose old
// copy is an orphan — all older than the grace window, while collections
// run back to back.
func TestGCRaces(t *testing.T) {
	n := 300
	if testing.Short() {
		n = 60
	}
	eachDatabase(t, func(t *testing.T, s *server) {
		s.start()
		c := newClient(s)
		rnd := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
		type source struct {
			key  string
			data []byte
		}
		// Sources first, then let them age past the grace window.
		var objects, layers, orphans []source
		cl, err := c.s3()
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		for i := 0; i < n; i++ {
			b := randomBytes(rnd, 4096+rnd.IntN(4096))
			key := fmt.Sprintf("race/src-%d", i)
			if _, err := cl.PutObject(ctx, &s3sdk.PutObjectInput{Bucket: aws.String("backups"), Key: aws.String(key), Body: bytes.NewReader(b)}); err != nil {
				t.Fatal(err)
			}
			objects = append(objects, source{key, b})
		}
		for i := 0; i < n/3; i++ {
			b := randomBytes(rnd, 4096)
			img := fmt.Sprintf("library/race-src-%d", i)
			if st, body, _, err := c.do("POST", "/v2/"+img+"/blobs/uploads/?digest=sha256:"+sum(b), b); err != nil || st != 201 {
				t.Fatalf("layer push = %d %s %v", st, clip(body), err)
			}
			layers = append(layers, source{img, b})
			o := randomBytes(rnd, 4096)
			path := fmt.Sprintf("/raw/files/race/old-%d", i)
			c.do("PUT", path, o)
			c.do("DELETE", path, nil)
			orphans = append(orphans, source{path, o})
		}
		time.Sleep(1500 * time.Millisecond)

		stop := make(chan struct{})
		var gcRuns atomic.Int64
		var gcWG sync.WaitGroup
		gcWG.Add(1)
		go func() {
			defer gcWG.Done()
			gc := newClient(s)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if st, b, _, err := gc.do("POST", "/api/v1/gc", nil); err != nil || st != 200 {
					t.Errorf("POST /api/v1/gc = %d %s %v", st, clip(b), err)
					return
				}
				gcRuns.Add(1)
			}
		}()
		l := &ledger{}
		var refused atomic.Int64
		var wg sync.WaitGroup
		race := func(a func() (*item, error), b func()) {
			defer wg.Done()
			// Spread the races over many collections.
			time.Sleep(time.Duration(rand.IntN(250)) * time.Millisecond)
			var inner sync.WaitGroup
			inner.Add(1)
			go func() { defer inner.Done(); time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond); b() }()
			it, err := a()
			inner.Wait()
			if err != nil {
				refused.Add(1)
			} else if it != nil {
				l.add(it)
			}
		}
		sem := make(chan struct{}, 8)
		for i, o := range objects {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem }()
				race(func() (*item, error) {
					key := fmt.Sprintf("race/dst-%d", i)
					cl, err := c.s3()
					if err != nil {
						return nil, err
					}
					if i%3 == 2 { // UploadPartCopy, then Complete
						return partCopy(cl, o.key, key, o.data)
					}
					_, err = cl.CopyObject(context.Background(), &s3sdk.CopyObjectInput{Bucket: aws.String("backups"), Key: aws.String(key),
						CopySource: aws.String("backups/" + o.key)})
					if err := refusal(t, "CopyObject", err); err != nil {
						return nil, err
					}
					return &item{what: "copy " + key, sum: sum(o.data), size: len(o.data), read: s3Reader(key)}, nil
				}, func() {
					if cl, err := c.s3(); err == nil {
						cl.DeleteObject(context.Background(), &s3sdk.DeleteObjectInput{Bucket: aws.String("backups"), Key: aws.String(o.key)})
					}
				})
			}()
		}
		for i, ly := range layers {
			sem <- struct{}{}
			wg.Add(2)
			go func() {
				defer func() { <-sem }()
				d := "sha256:" + sum(ly.data)
				dst := fmt.Sprintf("library/race-dst-%d", i)
				race(func() (*item, error) {
					st, b, _, err := c.do("POST", "/v2/"+dst+"/blobs/uploads/?mount="+d+"&from="+ly.key, nil)
					if err != nil {
						return nil, err
					} else if st == 202 {
						return nil, errors.New("the source was gone: the client would upload")
					} else if st != 201 {
						t.Errorf("mount = %d %s", st, clip(b))
						return nil, errors.New("mount failed")
					}
					return &item{what: "mount " + dst, sum: sum(ly.data), size: len(ly.data),
						read: func(c *client) ([]byte, error) { return c.get("/v2/" + dst + "/blobs/" + d) }}, nil
				}, func() { c.do("DELETE", "/v2/"+ly.key+"/blobs/"+d, nil) })
				o := orphans[i]
				again := strings.Replace(o.key, "/old-", "/new-", 1)
				race(func() (*item, error) {
					st, b, _, err := c.do("PUT", again, o.data)
					if err != nil {
						return nil, err
					} else if st == 503 {
						return nil, errors.New("collected while stored: not acknowledged")
					} else if st != 201 {
						t.Errorf("re-upload = %d %s", st, clip(b))
						return nil, errors.New("re-upload failed")
					}
					return &item{what: "re-upload " + again, sum: sum(o.data), size: len(o.data),
						read: func(c *client) ([]byte, error) { return c.get(again) }}, nil
				}, func() {})
			}()
		}
		wg.Wait()
		close(stop)
		gcWG.Wait()
		lost := verifyAll(t, s, l)
		checkConsistent(t, s)
		s.start()
		lost += verifyAll(t, s, l)
		t.Logf("FIGURES races=%d acknowledged=%d refused=%d gc_runs=%d lost=%d", n+2*len(layers), len(l.snapshot()), refused.Load(), gcRuns.Load(), lost)
		if lost > 0 {
			t.Errorf("%d acknowledged writes lost their bytes", lost)
		}
	})
}

// refusal passes errors a race may cause (the source was deleted first)
// and reports others.
func refusal(t *testing.T, what string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) || (ae.ErrorCode() != "NoSuchKey" && ae.ErrorCode() != "NotFound") {
		t.Errorf("%s: %v", what, err)
	}
	return err
}

func partCopy(cl *s3sdk.Client, src, dst string, data []byte) (*item, error) {
	ctx := context.Background()
	up, err := cl.CreateMultipartUpload(ctx, &s3sdk.CreateMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(dst)})
	if err != nil {
		return nil, err
	}
	out, err := cl.UploadPartCopy(ctx, &s3sdk.UploadPartCopyInput{Bucket: aws.String("backups"), Key: aws.String(dst), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("backups/" + src)})
	if err != nil {
		return nil, err
	}
	if _, err := cl.CompleteMultipartUpload(ctx, &s3sdk.CompleteMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(dst),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: out.CopyPartResult.ETag}}}}); err != nil {
		return nil, err
	}
	return &item{what: "part copy " + dst, sum: sum(data), size: len(data), read: s3Reader(dst)}, nil
}
