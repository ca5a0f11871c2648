package app

import (
	"context"
	"database/sql"
	"sync/atomic"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/search"
)

// Search: the index, the job that keeps it, and what enqueues that job.

// openSearch builds the search service (after MLflow, whose permissions
// it consults); followSearch subscribes indexing to every audited change.
func (a *App) openSearch() {
	a.Search = search.New(search.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, MLflow: a.MLflow, Log: a.Log})
}

// followSearch records what each event changed in search_pending, in the
// event's transaction (one small insert where a job per changed item cost
// a sixth of a small S3 PUT's CPU), and makes sure a drain job runs once
// the current window of indexBatch has closed; it never indexes on the
// request's goroutine.
//
// On SQLite the drain job is queued in the same transaction, once per
// window and process (drainWindows): the transaction holds the write lock
// while it looks at the clock, and the job cannot be fetched before the
// window's end nor while the lock is held, so it reads the row. On
// PostgreSQL, whose job queue has a pool of its own, the job is queued
// after the rows committed, again once per window. A periodic drain every
// minute (openJobs) picks up what a job queued in a transaction that then
// rolled back would have missed.
func (a *App) followSearch() {
	inTx := a.Jobs.InsertsInTx()
	a.Audit.SubscribeTx(func(ctx context.Context, tx *sql.Tx, e audit.Event) error {
		targets := search.Targets(e)
		for _, t := range targets {
			if err := queuePending(ctx, tx, t, meta.Now()); err != nil {
				return err
			}
		}
		if inTx && len(targets) > 0 {
			return a.searchDrains.enqueue(ctx, appJobs{Runner: a.Jobs, tx: tx})
		}
		return nil
	})
	if inTx {
		return
	}
	a.Audit.Subscribe(func(ctx context.Context, e audit.Event) {
		if len(search.Targets(e)) == 0 {
			return
		}
		if err := a.searchDrains.enqueue(ctx, appJobs{Runner: a.Jobs}); err != nil {
			a.Log.WarnContext(ctx, "queuing search indexing", "action", e.Action, "subject", e.Subject, "err", err)
		}
	})
}

// drainWindows remembers the last window this process queued a drain job
// for, so that the changes of one window queue it once.
type drainWindows struct{ last atomic.Int64 }

func (d *drainWindows) enqueue(ctx context.Context, j appJobs) error {
	at := time.Now().Truncate(indexBatch).Add(indexBatch)
	if d.last.Load() == at.UnixNano() {
		return nil
	}
	_, err := j.Enqueue(ctx, searchDrainArgs{}, &river.InsertOpts{MaxAttempts: 5, ScheduledAt: at,
		UniqueOpts: river.UniqueOpts{ByPeriod: indexBatch}})
	if err == nil {
		d.last.Store(at.UnixNano())
	}
	return err
}

// queuePending notes t in search_pending at queued (ms). A part already
// pending keeps its place; the no-op update locks its row, so that on
// PostgreSQL a drain taking it waits for this transaction and then reads
// its change, and a drain that took it first makes this insert a new row.
func queuePending(ctx context.Context, tx *sql.Tx, t search.Target, queued int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO search_pending (repository, grp, queued_at) VALUES ($1, $2, $3)
		ON CONFLICT (repository, grp) DO UPDATE SET queued_at = search_pending.queued_at`, t.Repository, t.Group, queued)
	return meta.Err(err)
}

// searchDrainArgs reindexes what search_pending lists.
type searchDrainArgs struct{}

func (searchDrainArgs) Kind() string { return "search_pending" }

type searchDrainWorker struct {
	river.WorkerDefaults[searchDrainArgs]
	app *App
}

// drainPage is how many pending parts a drain takes at a time, and
// drainGroups the most groups it reindexes in one transaction: a longer
// one holds SQLite's write lock long enough to show in the p99 of the
// writes waiting behind it.
const (
	drainPage   = 128
	drainGroups = 16
)

// Work takes the parts queued before it started, oldest first, a page at
// a time: it deletes a page, then reindexes its parts from the format
// tables as they are now, the groups of one repository in one transaction.
// A change made meanwhile queues its part again, for the job of its own
// window: taking it here too would reindex a busy image (all its tags) in
// a loop for as long as pushes go on, holding SQLite's write lock in
// front of them. When a reindex fails, the parts not yet done are put back
// and the job is retried.
func (w *searchDrainWorker) Work(ctx context.Context, _ *river.Job[searchDrainArgs]) error {
	var st search.Stats
	started := meta.Now()
	for {
		page, err := w.takePending(ctx, started, drainPage)
		if err != nil {
			return err
		}
		if len(page) == 0 {
			return river.RecordOutput(ctx, st)
		}
		// The page is ordered by repository, a whole repository's part
		// (group "") first.
		for i := 0; i < len(page); {
			j := i + 1
			for j < len(page) && j-i < drainGroups && page[j].Repository == page[i].Repository {
				j++
			}
			var s search.Stats
			if page[i].Group == "" {
				s, err = w.app.Search.Reindex(ctx, page[i]) // the whole repository covers its groups
			} else {
				groups := make([]string, 0, j-i)
				for _, t := range page[i:j] {
					groups = append(groups, t.Group)
				}
				s, err = w.app.Search.ReindexGroups(ctx, page[i].Repository, groups)
			}
			if err != nil {
				w.putBack(context.WithoutCancel(ctx), page[i:])
				return err
			}
			st.Repositories += s.Repositories
			st.Documents += s.Documents
			i = j
		}
	}
}

// takePending deletes up to n of the parts queued before (ms), the oldest,
// and returns them ordered by repository.
func (w *searchDrainWorker) takePending(ctx context.Context, before int64, n int) ([]search.Target, error) {
	var page []search.Target
	err := w.app.DB.WithTx(ctx, func(tx *sql.Tx) error {
		page = page[:0]
		rows, err := tx.QueryContext(ctx, `SELECT repository, grp FROM (
			SELECT repository, grp FROM search_pending WHERE queued_at < $1 ORDER BY queued_at LIMIT $2) p
			ORDER BY repository, grp`, before, n)
		if err != nil {
			return err
		}
		for rows.Next() {
			var t search.Target
			if err := rows.Scan(&t.Repository, &t.Group); err != nil {
				rows.Close()
				return err
			}
			page = append(page, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range page {
			if _, err := tx.ExecContext(ctx, `DELETE FROM search_pending WHERE repository = $1 AND grp = $2`, t.Repository, t.Group); err != nil {
				return err
			}
		}
		return nil
	})
	return page, meta.Err(err)
}

// putBack records targets as pending again.
func (w *searchDrainWorker) putBack(ctx context.Context, targets []search.Target) {
	err := w.app.DB.WithTx(ctx, func(tx *sql.Tx) error {
		for _, t := range targets {
			if err := queuePending(ctx, tx, t, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		w.app.Log.WarnContext(ctx, "putting back search indexing", "err", err)
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

// EnqueueIndex queues a reindex of t (an admin's), unless an equal one is
// queued or running.
func (j appJobs) EnqueueIndex(ctx context.Context, t search.Target) (jobs.Job, error) {
	return j.Enqueue(ctx, searchIndexArgs{Target: t},
		&river.InsertOpts{MaxAttempts: 5, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
}

// indexBatch is the window whose changes one drain job indexes, after
// it has closed.
const indexBatch = time.Second

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

// searchWorkers registers the indexing workers and returns the periodic
// drain (see followSearch), which also drains at start what a stop left.
func (a *App) searchWorkers(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &searchIndexWorker{app: a})
	river.AddWorker(workers, &searchDrainWorker{app: a})
	return []*river.PeriodicJob{periodic("search_pending", time.Minute, true, searchDrainArgs{})}
}
