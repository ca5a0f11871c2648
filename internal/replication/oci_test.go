package replication_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/arcaproject/arca/internal/app/apptest"
	"github.com/arcaproject/arca/internal/config"
	"github.com/arcaproject/arca/internal/replication"
)

// registry is how a test reaches an OCI registry with go-containerregistry
// (the library under crane).
type registry struct {
	host string
	opts []remote.Option
}

func arcaRegistry(s *apptest.Server) registry {
	u, _ := url.Parse(s.URL)
	return registry{host: u.Host, opts: []remote.Option{remote.WithAuth(&authn.Basic{Username: "admin", Password: apptest.AdminPassword})}}
}

func (r registry) ref(t testing.TB, s string) name.Reference {
	t.Helper()
	ref, err := name.ParseReference(r.host+"/"+s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

func (r registry) push(t testing.TB, s string, img v1.Image) v1.Hash {
	t.Helper()
	if err := remote.Write(r.ref(t, s), img, r.opts...); err != nil {
		t.Fatalf("pushing %s: %v", s, err)
	}
	d, _ := img.Digest()
	return d
}

// digest is what ref resolves to, or an error.
func (r registry) digest(t testing.TB, s string) (v1.Hash, error) {
	d, err := remote.Head(r.ref(t, s), r.opts...)
	if err != nil {
		return v1.Hash{}, err
	}
	return d.Digest, nil
}

func (r registry) has(t testing.TB, s string, want v1.Hash) func() error {
	return func() error {
		d, err := r.digest(t, s)
		if err != nil {
			return err
		}
		if d != want {
			return fmt.Errorf("%s is %s, want %s", s, d, want)
		}
		return nil
	}
}

func randomImage(t testing.TB, size int64, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(size, layers)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestOCIPushOnEvent: a push policy with on_event copies each pushed tag
// to another arca within seconds; a deleted tag stays on the replica until
// the policy propagates deletes, and then goes; a full run afterwards
// finds everything present and moves nothing.
func TestOCIPushOnEvent(t *testing.T) {
	apptest.EachWith(t, noScanOnPush, func(t *testing.T, src *apptest.Server) {
		dst := apptest.Start(t, "", nil)
		startJobs(t, src)
		p := createPolicy(t, src, fmt.Sprintf(`{"name":"to-dr","repository":"library","direction":"push","on_event":true,
			"remote":{"url":%q,"repository":"library","username":"admin","password":%q}}`, dst.URL, apptest.AdminPassword))
		if p.Remote.Password != replication.Masked || p.Deletes || !p.Enabled {
			t.Fatalf("created policy = %+v", p)
		}
		s, d := arcaRegistry(src), arcaRegistry(dst)

		// A 10 MiB image: time from the push's acknowledgement to the
		// replica answering with it.
		big := randomImage(t, 5<<20, 2)
		want := s.push(t, "library/app:v1", big)
		took := eventually(t, 30*time.Second, d.has(t, "library/app:v1", want))
		t.Logf("10 MiB image: on the replica %s after the push was acknowledged", took.Round(time.Millisecond))
		run := waitRuns(t, src, p.ID, 1, 10*time.Second)
		if run.Cause != replication.CauseEvent || run.State != replication.Succeeded || run.Copied != 1 || run.Bytes < 10<<20 {
			t.Fatalf("event run = %+v", run)
		}

		// The same layers under another tag: only the manifest moves.
		s.push(t, "library/app:v1-again", big)
		eventually(t, 30*time.Second, d.has(t, "library/app:v1-again", want))
		run = waitRuns(t, src, p.ID, 2, 10*time.Second)
		if run.Copied != 1 || run.Bytes > 64<<10 {
			t.Fatalf("second tag of the same image moved %d bytes: %+v", run.Bytes, run)
		}

		// A delete is not propagated unless the policy says so.
		if err := remote.Delete(s.ref(t, "library/app:v1-again"), s.opts...); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond)
		if err := d.has(t, "library/app:v1-again", want)(); err != nil {
			t.Fatalf("a delete propagated without deletes: %v", err)
		}
		if n := len(runs(t, src, p.ID)); n != 2 {
			t.Fatalf("%d runs after a delete the policy does not propagate, want 2", n)
		}

		// With deletes on, it is.
		p.Deletes = true
		p.Remote.Username, p.Remote.Password = replication.Masked, replication.Masked
		body := mustJSON(t, p)
		if resp, out := src.Do(t, "PUT", fmt.Sprintf("/api/v1/replication/policies/%d", p.ID), admin, strings.NewReader(body)); resp.StatusCode != 200 {
			t.Fatalf("update = %d %s", resp.StatusCode, out)
		}
		small := randomImage(t, 1024, 1)
		s.push(t, "library/app:v2", small)
		d2, _ := small.Digest()
		eventually(t, 30*time.Second, d.has(t, "library/app:v2", d2))
		if err := remote.Delete(s.ref(t, "library/app:v2"), s.opts...); err != nil {
			t.Fatal(err)
		}
		eventually(t, 30*time.Second, func() error {
			if _, err := d.digest(t, "library/app:v2"); err == nil {
				return fmt.Errorf("library/app:v2 still on the replica")
			}
			return nil
		})

		// A full run: v1 is present (skipped); v1-again, deleted at the
		// source before deletes were on, is removed now.
		before := len(runs(t, src, p.ID))
		runNow(t, src, p.ID)
		run = waitRuns(t, src, p.ID, before+1, 30*time.Second)
		if run.Cause != replication.CauseManual || run.State != replication.Succeeded || run.Bytes != 0 {
			t.Fatalf("manual run = %+v", run)
		}
		got := outcomes(run)
		if got[replication.Skipped] != 1 || got[replication.Deleted] != 1 || got[replication.Copied] != 0 {
			t.Fatalf("manual run items = %+v", run.Items)
		}
		if _, err := d.digest(t, "library/app:v1-again"); err == nil {
			t.Fatal("library/app:v1-again survived a full run with deletes")
		}
		// Metrics count what runs did.
		resp, metrics := src.Do(t, "GET", "/metrics", admin, nil)
		if resp.StatusCode != 200 || !strings.Contains(metrics, `arca_replication_items_total{outcome="copied",policy="to-dr"}`) ||
			!strings.Contains(metrics, `arca_replication_runs_total{policy="to-dr",state="succeeded"}`) {
			t.Fatalf("metrics lack replication series: %d", resp.StatusCode)
		}
	})
}

// TestOCIPullWithReferrers: a pull policy run by hand copies the selected
// tags of another arca, and the manifests that refer to them (a
// signature-like artifact), and nothing the filters leave out.
func TestOCIPullWithReferrers(t *testing.T) {
	apptest.EachWith(t, noScanOnPush, func(t *testing.T, local *apptest.Server) {
		upstream := apptest.Start(t, "", nil)
		startJobs(t, local)
		u := arcaRegistry(upstream)
		img := randomImage(t, 2048, 2)
		want := u.push(t, "library/web/api:1.0", img)
		u.push(t, "library/web/api:dev", randomImage(t, 512, 1))
		u.push(t, "library/other:1.0", randomImage(t, 512, 1))
		// A referrer: an artifact manifest whose subject is the image.
		sig := mutate.Subject(mutate.MediaType(mutate.ConfigMediaType(empty.Image, "application/vnd.example.signature"), types.OCIManifestSchema1),
			v1.Descriptor{MediaType: types.DockerManifestSchema2, Digest: want, Size: manifestSize(t, img)}).(v1.Image)
		sigDigest, _ := sig.Digest()
		if err := remote.Write(u.ref(t, "library/web/api@"+sigDigest.String()), sig, u.opts...); err != nil {
			t.Fatal(err)
		}

		p := createPolicy(t, local, fmt.Sprintf(`{"name":"from-upstream","repository":"library","direction":"pull",
			"remote":{"url":%q,"repository":"library","username":"admin","password":%q},
			"filter":{"names":["web/*"],"versions":["[0-9]*"],"referrers":true}}`, upstream.URL, apptest.AdminPassword))
		runNow(t, local, p.ID)
		run := waitRuns(t, local, p.ID, 1, 30*time.Second)
		if run.State != replication.Succeeded || run.Copied != 2 {
			t.Fatalf("pull run = %+v", run)
		}
		l := arcaRegistry(local)
		if err := l.has(t, "library/web/api:1.0", want)(); err != nil {
			t.Fatal(err)
		}
		if _, err := l.digest(t, "library/web/api@"+sigDigest.String()); err != nil {
			t.Fatalf("the referrer was not pulled: %v", err)
		}
		for _, left := range []string{"library/web/api:dev", "library/other:1.0"} {
			if _, err := l.digest(t, left); err == nil {
				t.Errorf("%s was pulled, the filters leave it out", left)
			}
		}
		// Nothing new upstream: the next run moves nothing.
		runNow(t, local, p.ID)
		run = waitRuns(t, local, p.ID, 2, 30*time.Second)
		if run.State != replication.Succeeded || run.Copied != 0 || run.Skipped != 2 {
			t.Fatalf("second pull run = %+v", run)
		}
	})
}

func manifestSize(t testing.TB, img v1.Image) int64 {
	m, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(m))
}

// noScanOnPush turns off scanning on push: its SBOMs are pushed as
// referrers, each an event of its own, and these tests count the runs that
// the test's own pushes cause.
func noScanOnPush(c *config.Config) { c.Scan.OnPush = false }
