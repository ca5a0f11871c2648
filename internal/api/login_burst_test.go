package api_test

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

// procStatus reads a "VmRSS"-style field of /proc/self/status, in bytes.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// TestBadLoginBurst is the regression test of issue 22 item 2: 300
// concurrent Basic logins with unknown names took the process from 70 MB to
// 5.8 GB and made a valid request wait 14 s. Here 1,000 concurrent bad
// logins, each from its own client address (through a trusted proxy, so
// the per-address limiter does not help: the worst case, a botnet), go
// through the real HTTP handler; the process's memory must grow by less
// than 300 MB and requests with a valid token must answer within 1 s
// (median of 7) while they run.
func TestBadLoginBurst(t *testing.T) {
	if testing.Short() {
		t.Skip("burst test")
	}
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			url := ""
			if engine == "postgres" {
				url = metatest.PostgresURL(t)
			}
			s := apptest.Start(t, url, func(c *config.Config) {
				c.Auth.TrustedProxies = []string{"127.0.0.1", "::1"}
			})
			badLoginBurst(t, s, 1000)
		})
	}
}

func badLoginBurst(t *testing.T, s *apptest.Server, n int) {
	ctx := context.Background()
	token, _, err := s.Auth.CreateToken(ctx, "admin", "burst", 0)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}, Timeout: time.Minute}
	do := func(req *http.Request) (int, time.Duration) {
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Errorf("%s: %v", req.URL, err)
			return 0, 0
		}
		resp.Body.Close()
		return resp.StatusCode, time.Since(start)
	}
	valid := func() (int, time.Duration) {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/whoami", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		return do(req)
	}
	password := func(userpass string) (int, time.Duration) {
		req, _ := http.NewRequest("GET", s.URL+"/api/v1/whoami", nil)
		u, p, _ := strings.Cut(userpass, ":")
		req.SetBasicAuth(u, p)
		return do(req)
	}
	code, idle := valid()
	if code != 200 {
		t.Fatalf("valid token before the burst = %d", code)
	}
	if code, _ := password(admin); code != 200 { // verified once: cached from now on
		t.Fatalf("admin password before the burst = %d", code)
	}
	if _, err := s.Auth.CreateUser(ctx, "frank", "frank-password", "", ""); err != nil {
		t.Fatal(err)
	}

	runtime.GC()
	baseRSS, baseHWM := procStatus(t, "VmRSS"), procStatus(t, "VmHWM")
	var peakRSS, peakHeap atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample memory while the burst runs
		defer close(sampled)
		var ms runtime.MemStats
		for i := 0; ; i++ {
			if rss := procStatus(t, "VmRSS"); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			if i%4 == 0 {
				runtime.ReadMemStats(&ms)
				if h := int64(ms.HeapInuse); h > peakHeap.Load() {
					peakHeap.Store(h)
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()

	start := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", s.URL+"/api/v1/whoami", nil)
			req.SetBasicAuth(fmt.Sprintf("nobody-%d", i), fmt.Sprintf("guess-%d", i))
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
			<-start
			code, _ := do(req)
			mu.Lock()
			statuses[code]++
			mu.Unlock()
		}()
	}
	burstStart := time.Now()
	close(start)
	// While the burst is queued and hashing, valid requests answer.
	time.Sleep(300 * time.Millisecond)
	var took []time.Duration
	for i := 0; i < 7; i++ {
		code, d := valid()
		if code != 200 {
			t.Errorf("valid token during the burst = %d", code)
		}
		took = append(took, d)
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(took)
	median, worst := took[len(took)/2], took[len(took)-1]
	cachedCode, cachedTook := password(admin)
	if cachedCode != 200 || cachedTook > time.Second {
		t.Errorf("cached password during the burst = %d in %v, want 200 within 1s", cachedCode, cachedTook)
	}
	// A password never verified before needs a hashing slot: it queues
	// with the burst (and may be told to retry). Reported, not asserted.
	freshCode, freshTook := password("frank:frank-password")
	wg.Wait()
	burstTook := time.Since(burstStart)
	close(stop)
	<-sampled

	rssGrowth := peakRSS.Load() - baseRSS
	hwmGrowth := procStatus(t, "VmHWM") - baseHWM
	t.Logf("%d concurrent bad logins in %v: statuses %v; RSS %d MB -> peak %d MB (+%d MB), VmHWM +%d MB, peak heap in use %d MB; valid token %v before, during: median %v, worst %v; cached password %d in %v; fresh password %d in %v",
		n, burstTook.Round(time.Millisecond), statuses, baseRSS>>20, peakRSS.Load()>>20, rssGrowth>>20, hwmGrowth>>20, peakHeap.Load()>>20,
		idle.Round(time.Millisecond), median.Round(time.Millisecond), worst.Round(time.Millisecond), cachedCode, cachedTook.Round(time.Millisecond), freshCode, freshTook.Round(time.Millisecond))
	if rssGrowth > 300<<20 {
		t.Errorf("RSS grew by %d MB during the burst, want < 300 MB", rssGrowth>>20)
	}
	// The median, not the worst: this machine is shared, and one request
	// descheduled by a neighbour says nothing about arca.
	if median > time.Second {
		t.Errorf("valid token requests took %v (median of %d) during the burst, want < 1s", median, len(took))
	}
	for code, count := range statuses {
		if code != http.StatusUnauthorized && code != http.StatusServiceUnavailable {
			t.Errorf("%d bad logins answered %d, want 401 or 503", count, code)
		}
	}
	if statuses[http.StatusUnauthorized] == 0 {
		t.Errorf("no bad login was checked at all: %v", statuses)
	}
}
