package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/inproc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Deps are what the service needs, passed in by internal/app.
type Deps struct {
	DB     *meta.DB
	Repos  *repo.Store
	Auth   httpx.Authenticator
	Sealer Sealer
	Log    *slog.Logger
	// Registry gets the replication metrics.
	Registry prometheus.Registerer
	// Local and LocalS3 return arca's main and S3 handlers, which a run's
	// local side calls in process.
	Local, LocalS3 func() http.Handler
	// Enqueue queues a run as a durable job and returns the job's ID.
	Enqueue func(ctx context.Context, j Job) (int64, error)
	// Timeout bounds each wait for a remote's response headers.
	Timeout time.Duration
	// Audit, when set, records each finished run as replication.finished
	// (which webhooks turn into io.arca.replication.finished).
	Audit *audit.Log
}

// Job is a run to do: of the whole policy, or (on events) of the changed
// items only.
type Job struct {
	PolicyID int64    `json:"policy_id"`
	Cause    string   `json:"cause"`
	Changes  []Change `json:"changes,omitempty"`
}

// Change is one changed item: an image tag (image:tag) or digest
// (image@sha256:...), an object key, a file path, project/filename,
// package@version.
type Change struct {
	Item    string `json:"item"`
	Deleted bool   `json:"deleted,omitempty"`
}

// Service runs replication policies.
type Service struct {
	d       Deps
	store   store
	metrics *metrics
	surface httpx.Surface
}

// New returns the service.
func New(d Deps) *Service {
	if d.Timeout <= 0 {
		d.Timeout = time.Minute
	}
	s := &Service{d: d, store: store{db: d.DB, sealer: d.Sealer}, metrics: newMetrics(d.Registry)}
	s.surface = httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: d.Auth, Log: d.Log}
	return s
}

// replicator is one format's replication between two sides.
type replicator interface {
	// sync copies everything the policy selects that the destination
	// lacks, and with Deletes removes what the source no longer has.
	sync(ctx context.Context, rc *runCtx) error
	// apply replicates the given changes only.
	apply(ctx context.Context, rc *runCtx, changes []Change) error
}

// runCtx is a run in progress.
type runCtx struct {
	s     *Service
	p     *Policy
	run   *Run
	moved *atomic.Int64 // bytes sent to the destination so far
}

// item records what the run did to one item. A failure is recorded, not
// returned: the run goes on with the next item and fails at its end.
func (rc *runCtx) item(name, outcome string, bytes int64, err error) {
	it := Item{Item: name, Outcome: outcome, Bytes: bytes}
	if err != nil {
		it.Outcome, it.Error = Errored, errText(err)
	}
	if dberr := rc.s.store.addItem(context.Background(), rc.run, it); dberr != nil {
		rc.s.d.Log.Warn("recording a replication item", "policy", rc.p.Name, "item", name, "err", dberr)
	}
	rc.s.metrics.item(rc.p.Name, it.Outcome, it.Bytes)
	if it.Outcome == Errored {
		rc.s.d.Log.Warn("replication item failed", "policy", rc.p.Name, "run", rc.run.ID, "item", name, "err", it.Error)
	}
}

// copyMeasured runs one copy and records it: copied with the bytes it
// moved, skipped when it moved nothing because the destination had it.
func (rc *runCtx) copyMeasured(name string, fn func() (present bool, err error)) {
	before := rc.moved.Load()
	present, err := fn()
	n := rc.moved.Load() - before
	switch {
	case err != nil:
		rc.item(name, Errored, n, err)
	case present:
		rc.item(name, Skipped, 0, nil)
	default:
		rc.item(name, Copied, n, nil)
	}
}

// errText is an item's error for the history: its first line, bounded.
// Remote URLs carry no credentials (validate refuses user info), so
// quoting one leaks none.
func errText(err error) string {
	s := err.Error()
	if i := strings.Index(s, "\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 500 {
		s = s[:500] + "..."
	}
	return s
}

// Execute runs a job: the run is recorded with its items; an error (some
// item failed, or the remote could not be reached) makes the job runner
// retry it with backoff, and the retry skips what this attempt copied.
func (s *Service) Execute(ctx context.Context, j Job, jobID int64, attempt int) error {
	p, err := s.store.get(ctx, j.PolicyID)
	if errs.Is(err, errs.NotFound) {
		return nil // deleted since
	} else if err != nil {
		return err
	}
	if !p.Enabled && j.Cause != CauseManual {
		return nil
	}
	run := &Run{PolicyID: p.ID, Policy: p.Name, JobID: jobID, Attempt: attempt, Cause: j.Cause}
	if err := s.store.startRun(ctx, run); err != nil {
		return err
	}
	started := time.Now()
	rc := &runCtx{s: s, p: p, run: run, moved: new(atomic.Int64)}
	rep, err := s.replicator(ctx, rc)
	if err == nil {
		if len(j.Changes) > 0 {
			err = rep.apply(ctx, rc, j.Changes)
		} else {
			err = rep.sync(ctx, rc)
		}
	}
	run.State = Succeeded
	if err == nil && run.Failed > 0 {
		err = fmt.Errorf("%d of %d items failed", run.Failed, run.Copied+run.Skipped+run.Deleted+run.Failed)
	}
	if err != nil {
		run.State, run.Error = Failed, errText(err)
	}
	if ferr := s.store.finishRun(context.WithoutCancel(ctx), run); ferr != nil && err == nil {
		err = ferr
	}
	s.metrics.run(p.Name, run.State, time.Since(started))
	if s.d.Audit != nil {
		s.d.Audit.Record(ctx, audit.Event{Actor: "replication:" + p.Name, Action: "replication.finished", Repository: p.Repository,
			Subject: p.Name, Detail: map[string]any{"run": run.ID, "cause": j.Cause, "attempt": attempt, "state": run.State,
				"copied": run.Copied, "skipped": run.Skipped, "deleted": run.Deleted, "failed": run.Failed, "bytes": run.Bytes}})
	}
	s.d.Log.Info("replication run", "policy", p.Name, "run", run.ID, "cause", j.Cause, "attempt", attempt, "state", run.State,
		"copied", run.Copied, "skipped", run.Skipped, "deleted", run.Deleted, "failed", run.Failed, "bytes", run.Bytes,
		"took_ms", time.Since(started).Milliseconds())
	if err != nil {
		return fmt.Errorf("replication policy %s: %w", p.Name, err)
	}
	return nil
}

// side is one end of a run.
type side struct {
	base       *url.URL // scheme and host (and path prefix) of the remote, or of localHost
	repository string
	client     *http.Client
	username   string
	password   string
	local      bool
}

// sides returns the source and destination of rc's policy.
func (s *Service) sides(rc *runCtx, localHandler func() http.Handler) (src, dst *side, err error) {
	p := rc.p
	as := auth.Principal{UserID: -1, Name: "replication:" + p.Name, Kind: auth.KindRobot, Role: auth.Admin}
	local := &side{base: &url.URL{Scheme: "http", Host: localHost}, repository: p.Repository, local: true,
		client: &http.Client{Transport: inproc.Transport{Handler: localHandler(), As: as}}}
	u, err := url.Parse(p.Remote.URL)
	if err != nil {
		return nil, nil, errs.E(errs.Invalid, "remote.url: %v", err)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	remote := &side{base: u, repository: p.Remote.Repository, username: p.Remote.Username, password: p.Remote.Password,
		client: &http.Client{Transport: remoteTransport(s.d.Timeout, p.BandwidthLimit)}}
	src, dst = local, remote
	if p.Direction == Pull {
		src, dst = remote, local
	}
	// What reaches the destination is counted: the bytes a run moved.
	dst.client = &http.Client{Transport: inproc.Counting{Next: dst.client.Transport, N: rc.moved}, CheckRedirect: dst.client.CheckRedirect}
	return src, dst, nil
}

// replicator returns the format's replicator for rc's policy.
func (s *Service) replicator(ctx context.Context, rc *runCtx) (replicator, error) {
	switch rc.p.Format {
	case "oci":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return newOCI(ctx, src, dst)
	case "s3":
		src, dst, err := s.sides(rc, s.d.LocalS3)
		if err != nil {
			return nil, err
		}
		return newS3(ctx, src, dst)
	case "raw":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return &rawRep{src: src, dst: dst}, nil
	case "pypi":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return &pypiRep{src: src, dst: dst}, nil
	case "npm":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return &npmRep{src: src, dst: dst}, nil
	case "maven":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return &mavenRep{src: src, dst: dst}, nil
	case "mlflow":
		src, dst, err := s.sides(rc, s.d.Local)
		if err != nil {
			return nil, err
		}
		return &mlflowRep{src: src, dst: dst, runs: map[string]string{}, artifacts: map[string]string{}}, nil
	}
	return nil, errs.E(errs.Invalid, "repositories of format %q are not replicated", rc.p.Format)
}

// errStatus is a remote's unexpected answer.
type errStatus struct {
	method, url string
	code        int
	body        string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.url, e.code, strings.TrimSpace(e.body))
}

// statusOf returns the HTTP status of a remote's error, or 0.
func statusOf(err error) int {
	var es *errStatus
	if errors.As(err, &es) {
		return es.code
	}
	return 0
}
