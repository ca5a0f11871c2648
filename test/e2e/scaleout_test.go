package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/arcaproject/arca/internal/meta/metatest"
)

// gcEvery is the replicas' gc.interval: short, so that the test sees
// several periods of the periodic GC job.
const gcEvery = 2 * time.Second

// TestScaleOutThreeReplicas runs three arca processes (the built binary)
// on one PostgreSQL and one S3 blob bucket — the S3 blob driver pointed at
// a fourth arca's S3 API — and spreads a mixed load over them
// round-robin, so that the pieces of one client's work land on different
// processes: OCI chunked uploads continued on other replicas, raw files,
// S3 multipart parts, PyPI and npm uploads read back through another
// replica's caches, MLflow runs and log-batch; crane (push of a
// two-platform index, crane copy) and a browser's sign-in go through a
// round-robin reverse proxy (npm publish and install, twine upload and pip
// install, and DVC push and pull through a proxy of the S3 listeners too), so their
// consecutive requests land on
// different replicas too. Midway one replica is
// killed with SIGKILL while raw uploads stream in; clients retry on the
// next replica. Then the replica starts again and every acknowledged write
// is read back from every process. Throughout, garbage collection runs as
// a periodic job every 2s: the test checks that each period's job ran on
// exactly one process, and that GC running beside the load lost nothing.
func TestScaleOutThreeReplicas(t *testing.T) {
	needTool(t, "curl")
	tools := needOCITools(t, "crane")
	ctx := context.Background()
	pgURL := metatest.PostgresURL(t)

	// The shared bucket: a separate arca's S3 API.
	blobHost := s3EndpointOf(t, StartServer(t, ServerOptions{}))
	if _, err := s3Client(blobHost).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("arca-blobs")}); err != nil {
		t.Fatalf("creating the blob bucket: %v", err)
	}
	var kek [32]byte
	rand.Read(kek[:])
	opts := ServerOptions{DatabaseURL: pgURL, Env: []string{
		"ARCA_BLOB_DRIVER=s3", "ARCA_BLOB_S3_ENDPOINT=" + blobHost.URL, "ARCA_BLOB_S3_BUCKET=arca-blobs",
		"ARCA_BLOB_S3_ACCESS_KEY=" + blobHost.KeyID, "ARCA_BLOB_S3_SECRET_KEY=" + blobHost.Secret, "ARCA_BLOB_S3_PATH_STYLE=true",
		"ARCA_KEK=" + base64.StdEncoding.EncodeToString(kek[:]),
		"ARCA_GC_INTERVAL=" + gcEvery.String(), "ARCA_GC_GRACE=1h",
	}}
	start := time.Now()
	c := &cluster{t: t, cred: "admin:" + adminPassword}
	for range 3 {
		c.reps = append(c.reps, StartServer(t, opts))
	}
	t.Logf("3 replicas ready in %v", time.Since(start).Round(time.Millisecond))
	key := s3EndpointOf(t, c.reps[0])
	s3Clients := map[*Server]*s3.Client{}
	var s3mu sync.Mutex
	s3URLs := map[*Server]string{}
	addS3 := func(s *Server) {
		u := s3URLOf(t, s)
		s3mu.Lock()
		s3URLs[s] = u
		s3mu.Unlock()
		s3Clients[s] = s3Client(&s3Endpoint{URL: u, KeyID: key.KeyID, Secret: key.Secret})
	}
	for _, s := range c.reps {
		addS3(s)
	}

	// Phase 1: every replica serves pieces of each client's work. Real
	// clients (crane, a browser session) go through a round-robin proxy.
	proxy := c.roundRobin(t)
	oci, craneRef, craneDigest := c.craneThroughProxy(t, proxy.URL, tools)
	browserThroughProxy(t, proxy.URL)
	npmThroughProxy(t, proxy.URL)
	pypiThroughProxy(t, proxy.URL)
	s3Proxy := c.roundRobinTo(t, func(s *Server) string { s3mu.Lock(); defer s3mu.Unlock(); return s3URLs[s] })
	dvcThroughProxy(t, s3Proxy.URL, key.KeyID, key.Secret)
	mlflowRes := mlflowThroughProxy(t, proxy.URL)
	images := []*splitImage{newSplitImage("app-a", "v1", 3<<20), newSplitImage("app-b", "v1", 1<<20)}
	for _, img := range images {
		chunk := len(img.layer) / 3
		loc := c.startChunked(c.pick(), img, chunk)
		loc = c.patchChunk(c.pick(), loc, img.layer[chunk:2*chunk], chunk)
		loc = c.patchChunk(c.pick(), loc, img.layer[2*chunk:], 2*chunk)
		c.finishImage(c.pick(), loc, img)
	}
	if _, err := s3Clients[c.reps[0]].CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("scaleout")}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{"multi/one.bin": randomBytes(11 << 20), "multi/two.bin": randomBytes(6 << 20)}
	for k, data := range objects {
		c.s3Multipart(ctx, s3Clients, "scaleout", k, data, 5<<20)
	}
	// Caches of rendered pages must not outlive a write on another replica.
	body, ct := pypiUpload("scale-demo", "1.0")
	c.must(c.pick(), http.StatusOK, "POST", "/pypi/pypi-hosted/", body, "Content-Type", ct)
	reader := c.pick()
	if v := c.pypiVersions(reader, "scale-demo"); !slices.Equal(v, []string{"1.0"}) {
		t.Fatalf("versions %v", v)
	}
	body, ct = pypiUpload("scale-demo", "1.1")
	c.must(c.pick(), http.StatusOK, "POST", "/pypi/pypi-hosted/", body, "Content-Type", ct)
	if v := c.pypiVersions(reader, "scale-demo"); !slices.Equal(v, []string{"1.0", "1.1"}) {
		t.Errorf("after an upload through another replica, %s still shows versions %v", reader.URL, v)
	}
	c.must(c.pick(), http.StatusCreated, "PUT", "/npm/npm-hosted/scale-pkg", npmPublish("scale-pkg", "1.0.0"), "Content-Type", "application/json")
	reader = c.pick()
	c.npmVersions(reader, "scale-pkg")
	c.must(c.pick(), http.StatusCreated, "PUT", "/npm/npm-hosted/scale-pkg", npmPublish("scale-pkg", "1.1.0"), "Content-Type", "application/json")
	if v, latest := c.npmVersions(reader, "scale-pkg"); len(v) != 2 || latest != "1.1.0" {
		t.Errorf("after a publish through another replica, %s shows versions %v, latest %q", reader.URL, v, latest)
	}
	const ml = "/mlflow/api/2.0/mlflow"
	var exp struct {
		ID string `json:"experiment_id"`
	}
	c.mustJSON(c.pick(), 200, "POST", ml+"/experiments/create", map[string]any{"name": "scale-out"}, &exp)
	var run struct {
		Run struct {
			Info struct {
				ID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	c.mustJSON(c.pick(), 200, "POST", ml+"/runs/create", map[string]any{"experiment_id": exp.ID, "start_time": 1000}, &run)
	runID := run.Run.Info.ID
	for step := range 6 { // each batch on the next replica
		c.mustJSON(c.pick(), 200, "POST", ml+"/runs/log-batch", map[string]any{"run_id": runID,
			"metrics": []any{map[string]any{"key": "loss", "value": 1.0 / float64(step+1), "timestamp": 2000 + step, "step": step}}}, nil)
	}

	// Phase 2: raw uploads stream in while replica 1 is killed.
	tenAcked := make(chan struct{})
	var once sync.Once
	type result struct {
		acked map[string]string
		errs  []error
	}
	loadDone := make(chan result, 1)
	go func() {
		acked, errs := c.rawLoad(40, func(n int) {
			if n >= 10 {
				once.Do(func() { close(tenAcked) })
			}
		})
		loadDone <- result{acked, errs}
	}()
	<-tenAcked
	c.reps[1].Kill()
	load := <-loadDone
	acked := load.acked
	for _, err := range load.errs {
		t.Error(err)
	}
	// A chunked upload started before the kill continues on the others.
	late := newSplitImage("app-c", "v1", 2<<20)
	loc := c.startChunked(c.pick(), late, 1<<20)
	loc = c.patchChunk(c.pick(), loc, late.layer[1<<20:], 1<<20)
	c.finishImage(c.pick(), loc, late)
	images = append(images, late)

	// Phase 3: the killed replica comes back; everything is read from
	// every process.
	restarted := StartServer(t, opts)
	c.mu.Lock()
	c.killed = append(c.killed, c.reps[1])
	c.reps[1] = restarted
	c.mu.Unlock()
	addS3(c.reps[1])
	for _, s := range c.reps {
		for _, img := range images {
			c.checkImage(s, img)
		}
		direct := oci.with(t)
		direct.host = strings.TrimPrefix(s.URL, "http://")
		direct.loginAdmin(s)
		if got := direct.digest(strings.Replace(craneRef, oci.host, direct.host, 1)); got != craneDigest {
			t.Errorf("%s: crane's index is %s, want %s", s.URL, got, craneDigest)
		}
		for path, sum := range acked {
			got, _ := c.must(s, http.StatusOK, "GET", "/raw/files/"+path, nil)
			if sha256Hex(got) != sum {
				t.Errorf("%s: %s differs", s.URL, path)
			}
		}
		for k, data := range objects {
			out, err := s3Clients[s].GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("scaleout"), Key: aws.String(k)})
			if err != nil {
				t.Fatalf("%s: get %s: %v", s.URL, k, err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if sha256Hex(got) != sha256Hex(data) {
				t.Errorf("%s: object %s differs (%d bytes, want %d)", s.URL, k, len(got), len(data))
			}
		}
		if v := c.pypiVersions(s, "scale-demo"); !slices.Equal(v, []string{"1.0", "1.1"}) {
			t.Errorf("%s: pypi versions %v", s.URL, v)
		}
		if v, latest := c.npmVersions(s, "scale-pkg"); len(v) != 2 || latest != "1.1.0" {
			t.Errorf("%s: npm versions %v, latest %q", s.URL, v, latest)
		}
		var got struct {
			Run struct {
				Data struct {
					Metrics []struct {
						Key   string  `json:"key"`
						Value float64 `json:"value"`
						Step  int     `json:"step"`
					} `json:"metrics"`
				} `json:"data"`
			} `json:"run"`
		}
		c.mustJSON(s, 200, "GET", ml+"/runs/get?run_id="+runID, nil, &got)
		if m := got.Run.Data.Metrics; len(m) != 1 || m[0].Step != 5 {
			t.Errorf("%s: run metrics %+v, want the latest loss at step 5", s.URL, m)
		}
		c.checkMLflowWorkflow(s, mlflowRes)
	}
	c.checkPeriodicGC(start)
	for _, s := range c.live() {
		s.WantNoServerErrors()
	}
}

var s3URLRe = regexp.MustCompile(`msg=listening surface=s3 url=(\S+)`)

// s3URLOf is the URL of s's S3 listener, from its log.
func s3URLOf(t *testing.T, s *Server) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := s3URLRe.FindStringSubmatch(s.Log()); m != nil {
			return strings.Trim(m[1], `"`)
		}
	}
	t.Fatalf("no S3 listener in the log of %s", s.URL)
	return ""
}

// rawLoad PUTs n raw files round-robin from four clients at once; a
// request that fails in transport or with a 5xx is retried on the next
// replica, as a client behind a load balancer would. after(i) runs after
// the i-th acknowledgement. It returns the acknowledged files' sha256 by
// path.
func (c *cluster) rawLoad(n int, after func(int)) (map[string]string, []error) {
	var mu sync.Mutex
	retries := 0
	acked := map[string]string{}
	var problems []error
	var wg sync.WaitGroup
	work := make(chan int)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				path := fmt.Sprintf("load/file-%03d.bin", i)
				data := randomBytes(1<<20 + i)
				var lastErr error
				ok := false
				for try := 0; try < 6 && !ok; try++ {
					if try > 0 {
						mu.Lock()
						retries++
						mu.Unlock()
					}
					status, b, _, err := c.send(c.pick(), "PUT", "/raw/files/"+path, data)
					switch {
					case err != nil:
						lastErr = err
					case status == http.StatusCreated || status == http.StatusOK:
						ok = true
					case status >= 500:
						lastErr = fmt.Errorf("status %d: %s", status, b)
					default:
						lastErr = fmt.Errorf("status %d: %s", status, b)
						try = 6
					}
				}
				mu.Lock()
				if ok {
					acked[path] = sha256Hex(data)
					k := len(acked)
					mu.Unlock()
					after(k)
					continue
				}
				problems = append(problems, fmt.Errorf("PUT %s never acknowledged: %v", path, lastErr))
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	c.t.Logf("raw load: %d of %d acknowledged, %d retries on another replica", len(acked), n, retries)
	return acked, problems
}

// checkPeriodicGC waits for a few periodic GC jobs over at least ten
// periods, then checks from the
// job history and the replicas' logs that each ran on exactly one process,
// and that the cluster made about one per period, not one per replica.
func (c *cluster) checkPeriodicGC(start time.Time) {
	c.t.Helper()
	type job struct {
		ID          int64    `json:"id"`
		State       string   `json:"state"`
		Attempt     int      `json:"attempt"`
		AttemptedBy []string `json:"attempted_by"`
		Args        struct {
			Trigger string `json:"trigger"`
		} `json:"args"`
	}
	var periodic []job
	deadline := time.Now().Add(60 * time.Second)
	for {
		var page struct{ Jobs []job }
		c.mustJSON(c.pick(), 200, "GET", "/api/v1/jobs?kind=gc&state=completed&limit=1000", nil, &page)
		periodic = periodic[:0]
		for _, j := range page.Jobs {
			if j.Args.Trigger == "periodic" {
				periodic = append(periodic, j)
			}
		}
		if len(periodic) >= 3 && time.Since(start) > 10*gcEvery {
			break
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("only %d periodic GC jobs completed in %v", len(periodic), time.Since(start))
		}
		time.Sleep(500 * time.Millisecond)
	}
	elapsed := time.Since(start)
	if max := int(elapsed/gcEvery) + 2; len(periodic) > max {
		c.t.Errorf("%d periodic GC jobs in %v, want at most %d (one per %v period for the whole cluster)", len(periodic), elapsed, max, gcEvery)
	}
	var logs strings.Builder
	for _, s := range c.allServers() {
		logs.WriteString(s.Log())
	}
	all := logs.String()
	by := map[string]int{}
	for _, j := range periodic {
		runs := strings.Count(all, fmt.Sprintf(`msg="garbage collection" job_id=%d `, j.ID))
		if j.Attempt == 1 && (runs != 1 || len(j.AttemptedBy) != 1) {
			c.t.Errorf("periodic GC job %d ran %d times (attempted by %v), want once on one process", j.ID, runs, j.AttemptedBy)
		}
		if len(j.AttemptedBy) > 0 {
			by[j.AttemptedBy[len(j.AttemptedBy)-1]]++
		}
	}
	c.t.Logf("%d periodic GC jobs in %v; completed by process: %v", len(periodic), elapsed.Round(time.Millisecond), by)
}

// allServers are the replicas, the killed ones included (for their logs).
func (c *cluster) allServers() []*Server {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append(slices.Clone(c.reps), c.killed...)
}
