package app

import (
	"context"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/search"
)

// Search: the index, the job that keeps it, and what enqueues that job.

// openSearch builds the search service (after MLflow, whose permissions
// it consults) and subscribes indexing to every audited change.
func (a *App) openSearch() {
	a.Search = search.New(search.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, MLflow: a.MLflow, Log: a.Log})
	a.Audit.Subscribe(a.indexOnChange)
}

// indexOnChange enqueues the reindexing of what an event changed; it
// never indexes on the request's goroutine.
func (a *App) indexOnChange(ctx context.Context, e audit.Event) {
	for _, t := range search.Targets(e) {
		if _, err := (appJobs{a.Jobs}).EnqueueIndex(ctx, t); err != nil {
			a.Log.WarnContext(ctx, "enqueuing search indexing", "repository", t.Repository, "group", t.Group, "err", err)
		}
	}
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

// notStarted are the states in which an equal indexing job is not
// enqueued again. A running one is not among them: it may have read the
// tables before the change that enqueues the next.
var notStarted = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateScheduled}

// EnqueueIndex queues a reindex of t, unless an equal one waits to start.
func (j appJobs) EnqueueIndex(ctx context.Context, t search.Target) (jobs.Job, error) {
	return j.Enqueue(ctx, searchIndexArgs{Target: t},
		&river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: notStarted}})
}

// searchWorkers registers the indexing worker.
func (a *App) searchWorkers(workers *river.Workers) {
	river.AddWorker(workers, &searchIndexWorker{app: a})
}
