package replication_test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/replication"
)

// distribution is Debian's docker-registry (distribution 2.8), a foreign
// OCI registry, run from the test.
type distribution struct {
	bin, config, addr string
	cmd               *exec.Cmd
}

func startDistribution(t *testing.T) *distribution {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("docker-registry not installed (scripts/test.sh installs it): %v", err)
		}
		t.Skip("docker-registry not installed; scripts/test.sh installs it")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	config := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(`version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, filepath.Join(dir, "data"), addr)), 0o600); err != nil {
		t.Fatal(err)
	}
	d := &distribution{bin: bin, config: config, addr: addr}
	d.start(t)
	t.Cleanup(d.kill)
	return d
}

func (d *distribution) start(t *testing.T) {
	t.Helper()
	d.cmd = exec.Command(d.bin, "serve", d.config)
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() error {
		resp, err := http.Get("http://" + d.addr + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			return fmt.Errorf("/v2/ = %d", resp.StatusCode)
		}
		return nil
	})
}

// kill stops the registry at once (SIGKILL), as a crash or an outage
// would.
func (d *distribution) kill() {
	if d.cmd != nil && d.cmd.Process != nil {
		d.cmd.Process.Kill()
		d.cmd.Wait()
		d.cmd = nil
	}
}

// TestPushToDistribution: an OCI repository is pushed to docker-registry
// under a namespace; the registry is killed midway through a
// bandwidth-limited run, the run fails, the job retries with backoff and,
// once the registry is back, a retry copies only the blobs still missing;
// a delete propagates (by digest: distribution deletes no tags) only when
// the policy asks for it.
func TestPushToDistribution(t *testing.T) {
	apptest.EachWith(t, noScanOnPush, func(t *testing.T, src *apptest.Server) {
		reg := startDistribution(t)
		startJobs(t, src)
		s := arcaRegistry(src)
		big := randomImage(t, 1<<20, 10) // 10 layers of 1 MiB
		wantBig := s.push(t, "library/team/big:1", big)
		small := randomImage(t, 4096, 1)
		wantSmall := s.push(t, "library/small:1", small)
		gone := randomImage(t, 4096, 1)
		s.push(t, "library/small:old", gone)

		p := createPolicy(t, src, fmt.Sprintf(`{"name":"to-distribution","repository":"library","direction":"push",
			"remote":{"url":"http://%s","repository":"mirror"},"bandwidth_limit":2097152}`, reg.addr))
		runNow(t, src, p.ID)
		// Kill the registry once a few of the big image's layers are in,
		// and before all are (10 MiB at 2 MiB/s take 5 s).
		layers, err := big.Layers()
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, 60*time.Second, func() error {
			n := 0
			for _, l := range layers {
				d, _ := l.Digest()
				resp, err := http.Head("http://" + reg.addr + "/v2/mirror/team/big/blobs/" + d.String())
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode == 200 {
						n++
					}
				}
			}
			if n < 2 {
				return fmt.Errorf("%d layers on the registry", n)
			}
			return nil
		})
		reg.kill()
		failed := waitRuns(t, src, p.ID, 1, 60*time.Second)
		if failed.State != replication.Failed || failed.Failed == 0 || failed.Error == "" {
			t.Fatalf("run during the outage = %+v", failed)
		}
		reg.start(t)
		var caughtUp replication.Run
		eventually(t, 90*time.Second, func() error {
			rs := runs(t, src, p.ID)
			if rs[0].State != replication.Succeeded {
				return fmt.Errorf("newest run %d: %s", rs[0].ID, rs[0].State)
			}
			caughtUp = runWithItems(t, src, rs[0].ID)
			return nil
		})
		if caughtUp.JobID != failed.JobID || caughtUp.Attempt < 2 {
			t.Fatalf("the run that caught up is not a retry of the failed one: %+v after %+v", caughtUp, failed)
		}
		if caughtUp.Bytes >= 10<<20 {
			t.Errorf("the retry moved %d bytes: the blobs copied before the outage moved again", caughtUp.Bytes)
		}
		t.Logf("outage: attempt %d failed (%d items failed: %s); attempt %d caught up moving %d of the big image's %d bytes",
			failed.Attempt, failed.Failed, failed.Error, caughtUp.Attempt, caughtUp.Bytes, 10<<20)
		d := registry{host: reg.addr}
		for ref, want := range map[string]string{"mirror/team/big:1": wantBig.String(), "mirror/small:1": wantSmall.String()} {
			got, err := d.digest(t, ref)
			if err != nil || got.String() != want {
				t.Fatalf("%s on docker-registry = %v %v, want %s", ref, got, err, want)
			}
		}
		// The image itself reads back whole from the foreign registry.
		img, err := remote.Image(d.ref(t, "mirror/team/big:1"))
		if err != nil {
			t.Fatal(err)
		}
		if layers, err := img.Layers(); err != nil || len(layers) != 10 {
			t.Fatalf("layers = %d %v", len(layers), err)
		}

		// A delete at the source: kept without deletes ...
		if err := remote.Delete(s.ref(t, "library/small:old"), s.opts...); err != nil {
			t.Fatal(err)
		}
		n := len(runs(t, src, p.ID))
		runNow(t, src, p.ID)
		run := waitRuns(t, src, p.ID, n+1, 30*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Deleted] != 0 || got[replication.Copied] != 0 {
			t.Fatalf("run without deletes = %+v", run)
		}
		if _, err := d.digest(t, "mirror/small:old"); err != nil {
			t.Fatalf("mirror/small:old went without deletes: %v", err)
		}
		// ... and removed with them.
		p.Deletes = true
		if resp, out := src.Do(t, "PUT", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, strings.NewReader(mustJSON(t, p))); resp.StatusCode != 200 {
			t.Fatalf("update = %d %s", resp.StatusCode, out)
		}
		runNow(t, src, p.ID)
		run = waitRuns(t, src, p.ID, n+2, 30*time.Second)
		if got := outcomes(run); run.State != replication.Succeeded || got[replication.Deleted] != 1 {
			t.Fatalf("run with deletes = %+v", run)
		}
		if _, err := d.digest(t, "mirror/small:old"); err == nil {
			t.Fatal("mirror/small:old survived a run with deletes")
		}
		if _, err := d.digest(t, "mirror/small:1"); err != nil {
			t.Fatalf("mirror/small:1 went too: %v", err)
		}
	})
}
