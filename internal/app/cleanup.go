package app

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/cleanup"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/usage"
)

// Cleanup policies and storage accounting run as jobs: a cleanup run
// (one policy, or every enabled one on cleanup.interval) followed by
// garbage collection, and a daily sample of storage use.

// cleanupArgs runs one policy, or every enabled policy when Policy is "".
type cleanupArgs struct {
	Policy  string `json:"policy,omitempty"`
	Trigger string `json:"trigger"` // "periodic" or "admin"
}

func (cleanupArgs) Kind() string { return "cleanup" }

type cleanupWorker struct {
	river.WorkerDefaults[cleanupArgs]
	app *App
}

func (w *cleanupWorker) Work(ctx context.Context, j *river.Job[cleanupArgs]) error {
	a := w.app
	// Download times still in memory count: write them first.
	if err := a.Downloads.Flush(ctx); err != nil {
		return err
	}
	var results []cleanup.Result
	var err error
	if j.Args.Policy != "" {
		var res cleanup.Result
		res, err = a.Cleanup.RunNamed(ctx, j.Args.Policy)
		results = append(results, res)
	} else {
		results, err = a.Cleanup.RunAll(ctx)
	}
	if err != nil {
		return fmt.Errorf("cleanup: %w", err)
	}
	deleted := 0
	summary := []map[string]any{}
	for _, r := range results {
		deleted += r.Deleted
		summary = append(summary, map[string]any{"policy": r.Policy, "deleted": r.Deleted, "failed": r.Failed, "item_bytes": r.ItemBytes})
	}
	out := map[string]any{"policies": summary}
	if deleted > 0 {
		// Then garbage collection frees what nothing refers to any more
		// (past the grace window; the next collection takes the rest).
		start := time.Now()
		res, err := a.Collector().Run(ctx, false, nil)
		a.gcMetrics.Observe(res.Deleted, res.BytesFreed, time.Since(start), err)
		if err != nil {
			return fmt.Errorf("garbage collection after cleanup: %w", err)
		}
		out["gc"] = res
	}
	a.Log.Info("cleanup", "job_id", j.ID, "trigger", j.Args.Trigger, "policy", j.Args.Policy, "deleted", deleted)
	return river.RecordOutput(ctx, out)
}

// usageSampleArgs samples storage use into the history.
type usageSampleArgs struct{}

func (usageSampleArgs) Kind() string { return "usage_sample" }

type usageSampleWorker struct {
	river.WorkerDefaults[usageSampleArgs]
	app *App
}

func (w *usageSampleWorker) Work(ctx context.Context, j *river.Job[usageSampleArgs]) error {
	n, err := w.app.Usage.Sample(ctx, time.Now())
	if err != nil {
		return fmt.Errorf("sampling storage use: %w", err)
	}
	return river.RecordOutput(ctx, map[string]int{"lines": n})
}

func (a *App) cleanupJobs(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &cleanupWorker{app: a})
	river.AddWorker(workers, &usageSampleWorker{app: a})
	var p []*river.PeriodicJob
	if every := time.Duration(a.Config.Cleanup.Interval); every > 0 {
		p = append(p, periodic("cleanup", every, false, cleanupArgs{Trigger: "periodic"}))
	}
	if every := time.Duration(a.Config.Usage.SampleInterval); every > 0 {
		p = append(p, periodic("usage_sample", every, true, usageSampleArgs{}))
	}
	return p
}

// openCleanup builds storage accounting, quotas, the download tracker
// and the cleanup service (before the format handlers, which use them).
func (a *App) openCleanup() {
	a.Quota = &usage.Quota{DB: a.DB, Audit: a.Audit}
	a.Downloads = usage.NewDownloads(a.DB, a.Log, a.Config.Cleanup.DownloadMaxPending)
	a.Usage = &usage.Service{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Log: a.Log,
		PricePerGBMonth: a.Config.Usage.PricePerGBMonth, Currency: a.Config.Usage.Currency}
	a.Registry.MustRegister(usage.NewCollector(a.DB))
	a.Cleanup = cleanup.New(cleanup.Deps{DB: a.DB, Repos: a.Repos, Audit: a.Audit, Log: a.Log, Flush: a.Downloads.Flush,
		Main: func() http.Handler { return a.inProcessHandlers().main },
		S3:   func() http.Handler { return a.inProcessHandlers().s3 }})
}

// runDownloads writes noted download times every cleanup.download_flush
// until ctx ends, then once more; the returned channel closes after that.
func (a *App) runDownloads(ctx context.Context) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Downloads.Run(ctx, max(time.Duration(a.Config.Cleanup.DownloadFlush), time.Second))
	}()
	return done
}

func (j appJobs) EnqueueCleanup(ctx context.Context, policy string) (jobs.Job, error) {
	return j.Enqueue(ctx, cleanupArgs{Policy: policy, Trigger: "admin"},
		&river.InsertOpts{MaxAttempts: 1, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
}
