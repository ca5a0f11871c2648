package app

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/search"
)

// Search: the index, the job that keeps it, and what enqueues that job.

// openSearch builds the search service (after MLflow, whose permissions
// it consults); followSearch subscribes indexing to every audited change.
func (a *App) openSearch() {
	a.Search = search.New(search.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, MLflow: a.MLflow, Log: a.Log})
}

// followSearch enqueues the reindexing of what each event changed; it
// never indexes on the request's goroutine.
func (a *App) followSearch() {
	a.followAudit("enqueuing search indexing", func(ctx context.Context, j appJobs, e audit.Event) error {
		for _, t := range search.Targets(e) {
			if err := j.enqueueIndexChange(ctx, t); err != nil {
				return err
			}
		}
		return nil
	})
}

// searchIndexArgs rebuilds one part of the search index (search.Target).
type searchIndexArgs struct {
	search.Target
}

func (searchIndexArgs) Kind() string { return "search_index" }

type searchIndexWorker struct {
	river.WorkerDefaults[searchIndexArgs]
	app *App
}

func (w *searchIndexWorker) Work(ctx context.Context, j *river.Job[searchIndexArgs]) error {
	st, err := w.app.Search.Reindex(ctx, j.Args.Target)
	if err != nil {
		return err
	}
	return river.RecordOutput(ctx, st)
}

// EnqueueIndex queues a reindex of t (an admin's), unless an equal one is
// queued or running.
func (j appJobs) EnqueueIndex(ctx context.Context, t search.Target) (jobs.Job, error) {
	return j.Enqueue(ctx, searchIndexArgs{Target: t},
		&river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
}

// indexBatch is the window in which changes to one item share one
// indexing job.
const indexBatch = time.Second

// enqueueIndexChange queues the reindex of what a change touched: one job
// per item and window of indexBatch, run once the window has closed, so
// that it reads every change of its window (a job that ran would not see
// a change made while it runs; the next window's job does).
func (j appJobs) enqueueIndexChange(ctx context.Context, t search.Target) error {
	_, err := j.Enqueue(ctx, searchIndexArgs{Target: t}, &river.InsertOpts{MaxAttempts: 5,
		ScheduledAt: time.Now().Truncate(indexBatch).Add(indexBatch),
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByPeriod: indexBatch}})
	return err
}

// seedSearchIndex queues a full reindex when the index is empty: after
// an upgrade to the first release with search, and after a restore (a
// backup leaves the derived index out). An empty arca reindexes nothing.
func (a *App) seedSearchIndex(ctx context.Context) {
	empty, err := a.Search.Empty(ctx)
	if err == nil && empty {
		_, err = (appJobs{Runner: a.Jobs}).EnqueueIndex(ctx, search.Target{All: true})
	}
	if err != nil {
		a.Log.WarnContext(ctx, "seeding the search index", "err", err)
	}
}

// searchWorkers registers the indexing worker.
func (a *App) searchWorkers(workers *river.Workers) {
	river.AddWorker(workers, &searchIndexWorker{app: a})
}
