package webhook_test

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/webhook"
)

// TestDeliveryLatency measures the time from an upload's acknowledgement
// (its 201 received by the client) to the webhook's arrival at the
// receiver, for ARCA_WEBHOOK_LOAD raw uploads (default 200; 40 with
// -short) at a concurrency of 4, and prints the figures (docs/benchmarks.md):
//
//	go test -run TestDeliveryLatency -v ./internal/webhook/ | grep FIGURES
func TestDeliveryLatency(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 40
	}
	if v, err := strconv.Atoi(os.Getenv("ARCA_WEBHOOK_LOAD")); err == nil && v > 0 {
		n = v
	}
	apptest.Each(t, func(t *testing.T, s *apptest.Server) {
		startJobs(t, s)
		rc := newReceiver(t)
		subscribe(t, s, rc, "/api/v1/repositories/files/webhooks", admin, "/lat", `,"events":["io.arca.raw.file.uploaded"]`)

		var mu sync.Mutex
		acked := map[string]time.Time{}
		work := make(chan int)
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					p := fmt.Sprintf("load/f%04d.bin", i)
					resp, body := s.Do(t, "PUT", "/raw/files/"+p, admin, strings.NewReader(strings.Repeat("x", 1024)+p))
					if resp.StatusCode != 201 {
						t.Errorf("upload %s = %d %s", p, resp.StatusCode, body)
					}
					mu.Lock()
					acked[p] = time.Now()
					mu.Unlock()
				}
			}()
		}
		for i := range n {
			work <- i
		}
		close(work)
		wg.Wait()
		uploads := time.Since(start)

		deadline := time.Now().Add(2 * time.Minute)
		for {
			if len(rc.all()) >= n {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d deliveries arrived", len(rc.all()), n)
			}
			time.Sleep(50 * time.Millisecond)
		}
		var lat []time.Duration
		for _, g := range rc.all() {
			if g.ce.Type != webhook.TypeRawUploaded {
				continue
			}
			mu.Lock()
			at, ok := acked[g.ce.Subject]
			mu.Unlock()
			if !ok {
				t.Errorf("delivery of %q, which was not uploaded", g.ce.Subject)
				continue
			}
			// The receiver can hear of an upload before its client has
			// read the answer: that counts as no wait.
			lat = append(lat, max(g.at.Sub(at), 0))
		}
		if len(lat) != n {
			t.Fatalf("%d deliveries for %d uploads", len(lat), n)
		}
		slices.Sort(lat)
		pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		t.Logf("FIGURES webhook delivery latency (%s, %d raw uploads at concurrency 4 in %s): p50 %s p90 %s p99 %s max %s",
			t.Name(), n, uploads.Round(time.Millisecond), pct(0.50).Round(time.Millisecond), pct(0.90).Round(time.Millisecond),
			pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	})
}
