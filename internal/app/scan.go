package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/vulndb"
	"github.com/arcaproject/arca/internal/webhook"
)

// downloadGate is the vulnerability policy the formats consult before a
// download; its refusals reach webhooks as "policy blocked a download".
func (a *App) downloadGate() *scan.Gate {
	if a.gate == nil {
		a.gate = &scan.Gate{DB: a.DB, OnBlock: a.policyBlocked}
	}
	return a.gate
}

// policyBlocked tells webhooks of a refused download, at most once a
// minute per repository and content: refusals of a public repository are
// reachable without credentials, and a client retrying in a loop must not
// turn into a delivery per request.
func (a *App) policyBlocked(ctx context.Context, r *repo.Repository, d repo.Download, detail map[string]any) {
	if a.Webhooks == nil || !a.blocked.first(r.Name+"|"+d.Digest, time.Minute) {
		return
	}
	if _, err := a.Webhooks.Emit(context.WithoutCancel(ctx), webhook.Event{Type: webhook.TypePolicyBlocked,
		Repository: r.Name, Subject: d.Name + "@" + d.Digest, Detail: detail, At: time.Now()}); err != nil {
		a.Log.WarnContext(ctx, "webhook of a blocked download", "repository", r.Name, "err", err)
	}
}

// blockedLog remembers recent keys, bounded: past maxBlocked entries the
// expired ones go, and if that is not enough, all of them.
type blockedLog struct {
	mu   sync.Mutex
	seen map[string]time.Time
}

const maxBlocked = 10000

// first reports whether key was not seen within the last every, and
// records it.
func (b *blockedLog) first(key string, every time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := time.Now()
	if t, ok := b.seen[key]; ok && now.Sub(t) < every {
		return false
	}
	if b.seen == nil || len(b.seen) >= maxBlocked {
		old := b.seen
		b.seen = map[string]time.Time{}
		for k, t := range old {
			if now.Sub(t) < every && len(b.seen) < maxBlocked/2 {
				b.seen[k] = t
			}
		}
	}
	b.seen[key] = now
	return true
}

// Scanning: the vulnerability data, the scanner, its jobs and what
// enqueues them.

// openScan builds the vulnerability data and the scanner (after the OCI
// handler, through which SBOMs are pushed); followScan subscribes scan on
// push.
func (a *App) openScan() {
	a.Vulns = vulndb.New(a.DB)
	a.Scanner = scan.New(scan.Deps{DB: a.DB, Blobs: a.Blobs, Repos: a.Repos, Vulns: a.Vulns, Referrers: a.OCI, Audit: a.Audit, Log: a.Log,
		Limits: scan.Limits{LayerBytes: a.Config.Scan.MaxLayerBytes, Files: a.Config.Scan.MaxFiles},
		Keys:   a.Keys, Tokens: scannerTokens{a},
		RegistryURL: adapterRegistryURL(a.Config.Scan.AdapterRegistryURL, a.Config.PublicURL, a.Config.Addr)})
	a.Registry.MustRegister(scan.NewMetrics(a.Scanner))
}

// followScan enqueues a scan of what each event added (scan on push);
// it never scans on the request's goroutine.
func (a *App) followScan() {
	if !a.Config.Scan.OnPush {
		return
	}
	a.followAudit("enqueuing a scan", func(ctx context.Context, j appJobs, e audit.Event) error {
		if t, ok := scanTarget(e); ok {
			var read meta.Querier = a.DB
			if j.tx != nil {
				read = j.tx
			}
			return a.Scanner.EnqueueAll(ctx, j, read, t)
		}
		return nil
	})
}

// scanTarget is the artifact an audit event names, when it is one that is
// scanned. Referrers arca pushes itself (SBOMs) carry their artifact type
// and are not scanned.
func scanTarget(e audit.Event) (scan.Target, bool) {
	t := scan.Target{Repository: e.Repository}
	var ok bool
	switch e.Action {
	case "oci.manifest.push":
		if e.Detail["artifact_type"] != nil {
			return t, false
		}
		t.Kind = scan.KindImage
		t.Name, t.Ref, ok = cutLast(e.Subject, "@")
	case "pypi.upload", "pypi.replace":
		t.Kind = scan.KindPyPI
		t.Name, t.Ref, ok = cutLast(e.Subject, "/")
	case "npm.publish":
		t.Kind = scan.KindNPM
		t.Name, t.Ref, ok = cutLast(e.Subject, "@")
	case "maven.deploy", "maven.redeploy":
		// Subject is the file's path; detail.gav is group:artifact:version.
		gav, _ := e.Detail["gav"].(string)
		t.Kind, t.Ref = scan.KindMaven, e.Subject
		t.Name, _, ok = cutLast(gav, ":")
		ok = ok && mavenScannedPath(e.Subject)
	case "go.publish":
		t.Kind = scan.KindGo
		t.Name, t.Ref, ok = cutLast(e.Subject, "@")
	}
	return t, ok && t.Name != "" && t.Ref != ""
}

// mavenScannedPath says whether a deployed Maven file may be scanned (a
// main artifact or a pom; the scan checks its classifier), so that
// checksums and signatures queue no job.
func mavenScannedPath(p string) bool {
	for _, ext := range []string{".jar", ".war", ".ear", ".aar", ".pom"} {
		if strings.HasSuffix(p, ext) {
			return true
		}
	}
	return false
}

func cutLast(s, sep string) (string, string, bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return "", "", false
	}
	return s[:i], s[i+len(sep):], true
}

// scanArgs scans one artifact; Reuse matches its stored components again
// rather than cataloguing it anew.
type scanArgs struct {
	scan.Target
	Reuse bool `json:"reuse,omitempty"`
}

func (scanArgs) Kind() string { return "scan" }

type scanWorker struct {
	river.WorkerDefaults[scanArgs]
	app *App
}

func (w *scanWorker) Work(ctx context.Context, j *river.Job[scanArgs]) error {
	rep, err := w.app.Scanner.Scan(ctx, j.Args.Target, j.Args.Reuse)
	switch {
	case errors.Is(err, scan.ErrNotScanned), errs.Is(err, errs.NotFound):
		return river.RecordOutput(ctx, map[string]string{"skipped": err.Error()})
	case err != nil:
		return err
	}
	return river.RecordOutput(ctx, map[string]any{"report": rep.ID, "status": rep.Status, "counts": rep.Counts, "worst": rep.Worst})
}

// rescanArgs matches every reported artifact again (after the
// vulnerability data changed), and forgets the reports of artifacts that
// are gone.
type rescanArgs struct{}

func (rescanArgs) Kind() string { return "scan_rescan" }

type rescanWorker struct {
	river.WorkerDefaults[rescanArgs]
	app *App
}

func (w *rescanWorker) Work(ctx context.Context, j *river.Job[rescanArgs]) error {
	s := w.app.Scanner
	targets, err := s.Reported(ctx)
	if err != nil {
		return err
	}
	done, gone := 0, 0
	for _, t := range targets {
		_, err := s.Scan(ctx, t, true)
		switch {
		case errors.Is(err, scan.ErrNotScanned), errs.Is(err, errs.NotFound):
			if err := s.Forget(ctx, t); err != nil {
				return err
			}
			gone++
		case err != nil:
			return fmt.Errorf("rescanning %s: %w", t, err)
		default:
			done++
		}
	}
	return river.RecordOutput(ctx, map[string]int{"rescanned": done, "forgotten": gone})
}

// vulndbUpdateArgs downloads the configured OSV exports, then rescans.
type vulndbUpdateArgs struct{}

func (vulndbUpdateArgs) Kind() string { return "vulndb_update" }

type vulndbUpdateWorker struct {
	river.WorkerDefaults[vulndbUpdateArgs]
	app *App
}

func (w *vulndbUpdateWorker) Work(ctx context.Context, j *river.Job[vulndbUpdateArgs]) error {
	res, err := w.app.UpdateVulnDB(ctx)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, res)
}

// UpdateVulnDB downloads the configured exports and queues a rescan when
// anything changed.
func (a *App) UpdateVulnDB(ctx context.Context) ([]vulndb.ImportResult, error) {
	res, err := a.Vulns.Update(ctx, &http.Client{Timeout: time.Hour}, a.Config.VulnDB.URL, a.Config.VulnDB.Ecosystems)
	if changed(res) {
		if qerr := (appJobs{Runner: a.Jobs}).EnqueueRescan(ctx); qerr != nil && err == nil {
			err = qerr
		}
	}
	return res, err
}

// ImportVulnDB imports export zips from path and queues a rescan when
// anything changed.
func (a *App) ImportVulnDB(ctx context.Context, path string) ([]vulndb.ImportResult, error) {
	res, err := a.Vulns.ImportPath(ctx, path)
	if changed(res) {
		if qerr := (appJobs{Runner: a.Jobs}).EnqueueRescan(ctx); qerr != nil && err == nil {
			err = qerr
		}
	}
	return res, err
}

func changed(res []vulndb.ImportResult) bool {
	for _, r := range res {
		if r.Changed > 0 {
			return true
		}
	}
	return false
}

// scanWorkers registers the scanning workers and periodic jobs.
func (a *App) scanWorkers(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &scanWorker{app: a})
	river.AddWorker(workers, &rescanWorker{app: a})
	river.AddWorker(workers, &vulndbUpdateWorker{app: a})
	river.AddWorker(workers, &adapterScanWorker{app: a})
	if every := time.Duration(a.Config.VulnDB.Interval); every > 0 {
		return []*river.PeriodicJob{periodic("vulndb_update", every, false, vulndbUpdateArgs{})}
	}
	return nil
}

// EnqueueScan queues a scan of t, unless an equal one is already queued.
func (j appJobs) EnqueueScan(ctx context.Context, t scan.Target) error {
	_, err := j.Enqueue(ctx, scanArgs{Target: t},
		&river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
	return err
}

// EnqueueRescan queues a rescan of everything, unless one is queued.
func (j appJobs) EnqueueRescan(ctx context.Context) error {
	_, err := j.Enqueue(ctx, rescanArgs{}, &river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
	return err
}

// DownloadGateForTest returns the vulnerability policy the formats use.
func (a *App) DownloadGateForTest() *scan.Gate { return a.downloadGate() }
