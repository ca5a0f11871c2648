package app

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/webhook"
)

// The background jobs of arca. Each kind is a river job: its args are the
// job's JSON in the history, its worker what runs it. Periodic kinds are
// enqueued by the elected leader only and are unique per period, so with
// any number of processes each runs once per period.

// gcArgs is a garbage collection: OCI retention policies first (unless a
// dry run), then internal/gc's Collector.
type gcArgs struct {
	DryRun bool `json:"dry_run"`
	// Trigger says who asked: "periodic" or "admin".
	Trigger string `json:"trigger"`
}

func (gcArgs) Kind() string { return "gc" }

type gcWorker struct {
	river.WorkerDefaults[gcArgs]
	app *App
}

func (w *gcWorker) Work(ctx context.Context, j *river.Job[gcArgs]) error {
	a := w.app
	if !j.Args.DryRun {
		if err := a.OCI.RetainAll(ctx); err != nil {
			return fmt.Errorf("retention: %w", err)
		}
	}
	start := time.Now()
	res, err := a.Collector().Run(ctx, j.Args.DryRun, nil)
	a.gcMetrics.Observe(res.Deleted, res.BytesFreed, time.Since(start), err)
	if err != nil {
		return fmt.Errorf("garbage collection: %w", err)
	}
	a.Log.Info("garbage collection", "job_id", j.ID, "trigger", j.Args.Trigger, "dry_run", j.Args.DryRun,
		"scanned", res.Scanned, "deleted", res.Deleted, "bytes_freed", res.BytesFreed, "took_ms", res.TookMillis)
	return river.RecordOutput(ctx, res)
}

// purgeArgs removes abandoned staged writes — what a crash mid-upload
// leaves — older than blob.staged_max_age.
type purgeArgs struct{}

func (purgeArgs) Kind() string { return "purge_staged" }

type purgeWorker struct {
	river.WorkerDefaults[purgeArgs]
	app *App
}

func (w *purgeWorker) Work(ctx context.Context, j *river.Job[purgeArgs]) error {
	a := w.app
	n, err := a.Blobs.PurgeStaged(ctx, time.Now().Add(-time.Duration(a.Config.Blob.StagedMaxAge)))
	if err != nil {
		return fmt.Errorf("purging staged writes: %w", err)
	}
	if n > 0 {
		a.Log.Info("purged abandoned staged writes", "count", n, "job_id", j.ID)
	}
	return river.RecordOutput(ctx, map[string]int{"purged": n})
}

// webhookWorker makes one attempt of a webhook delivery; river retries
// it with its exponential backoff up to webhooks.max_attempts.
type webhookWorker struct {
	river.WorkerDefaults[webhook.DeliveryArgs]
	app *App
}

func (w *webhookWorker) Work(ctx context.Context, j *river.Job[webhook.DeliveryArgs]) error {
	return w.app.Webhooks.Deliver(ctx, j.Args.DeliveryID, j.Attempt, j.MaxAttempts)
}

// Timeout leaves the attempt's own timeout room to log its outcome.
func (w *webhookWorker) Timeout(*river.Job[webhook.DeliveryArgs]) time.Duration {
	return time.Duration(w.app.Config.Webhooks.Timeout) + 30*time.Second
}

// webhookPruneWorker drops finished deliveries past webhooks.retention.
type webhookPruneWorker struct {
	river.WorkerDefaults[webhook.PruneArgs]
	app *App
}

func (w *webhookPruneWorker) Work(ctx context.Context, j *river.Job[webhook.PruneArgs]) error {
	n, err := w.app.Webhooks.Prune(ctx, time.Duration(w.app.Config.Webhooks.Retention))
	if err != nil {
		return fmt.Errorf("pruning webhook deliveries: %w", err)
	}
	return river.RecordOutput(ctx, map[string]int64{"pruned": n})
}

// queuedOrRunning are the states in which an equal job is not enqueued
// again (an admin's second GC while one runs gets the first).
var queuedOrRunning = []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending,
	rivertype.JobStateRetryable, rivertype.JobStateRunning, rivertype.JobStateScheduled}

// periodic makes a periodic job unique per period of its interval (in
// every state, finished ones included), so that a leader elected
// mid-period does not run it again in that period.
func periodic(id string, every time.Duration, runOnStart bool, args river.JobArgs) *river.PeriodicJob {
	queue := ""
	if _, ok := kindQueues()[args.Kind()]; ok {
		queue = args.Kind()
	}
	return river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
		return args, &river.InsertOpts{Queue: queue, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByPeriod: every}}
	}, &river.PeriodicJobOpts{ID: id, RunOnStart: runOnStart})
}

// kindQueues are the job kinds added after the first release (which had
// gc and purge_staged, in the default queue), each run in a queue of its
// own with this many workers per process: a replica of an earlier release,
// which works only the queues it knows, then never fetches a kind it has
// no worker for (jobs.Config.KindQueues). A new kind goes here.
func kindQueues() map[string]int {
	return map[string]int{
		"replicate": 2, "replication_schedule": 1, "backup": 1,
		"scan": 1, "scan_rescan": 1, "vulndb_update": 1, "scan_adapter": 2,
		"ldap_sync": 1, "webhook_prune": 1, "lineage_extract": 1,
		"cleanup": 1, "usage_sample": 1,
		"search_index": 1, "search_pending": 1,
	}
}

// openJobs builds the job runner with arca's workers and periodic jobs;
// Serve starts it.
func (a *App) openJobs(ctx context.Context) (*jobs.Runner, error) {
	workers := river.NewWorkers()
	river.AddWorker(workers, &gcWorker{app: a})
	river.AddWorker(workers, &purgeWorker{app: a})
	river.AddWorker(workers, &webhookWorker{app: a})
	river.AddWorker(workers, &webhookPruneWorker{app: a})
	a.lineageWorkers(workers)
	// Staged writes are purged at start and hourly, as before jobs.
	p := []*river.PeriodicJob{periodic("purge_staged", time.Hour, true, purgeArgs{}),
		periodic("webhook_prune", time.Hour, false, webhook.PruneArgs{})}
	p = append(p, a.scanWorkers(workers)...)
	p = append(p, a.ssoJobs(workers)...)
	// GC also runs when a leader is elected, unless it already ran in the
	// current period (of gc.interval, aligned to UTC): a leader keeps its
	// schedule in memory, so without this a cluster redeployed more often
	// than gc.interval would never collect.
	if every := time.Duration(a.Config.GC.Interval); every > 0 {
		p = append(p, periodic("gc", every, true, gcArgs{Trigger: "periodic"}))
	}
	p = append(p, a.backupJobs(workers)...)
	p = append(p, a.replicationJobs(workers)...)
	p = append(p, a.cleanupJobs(workers)...)
	p = append(p, a.searchWorkers(workers)...)
	return jobs.Open(ctx, a.DB, a.Config.DatabaseURL, jobs.Config{
		Workers:    workers,
		Periodic:   p,
		MaxWorkers: a.Config.Jobs.Workers,
		Queues:     map[string]int{webhook.QueueName: a.Config.Webhooks.Workers},
		KindQueues: kindQueues(),
		Timeout:    time.Duration(a.Config.Jobs.Timeout),
		Retention:  time.Duration(a.Config.Jobs.Retention),
		Log:        a.Log,
		// Spans and metrics of every job.
		TracerProvider: tracerProvider(a.Tracing),
		Metrics:        a.Registry,
	})
}

// appJobs is the job queue as the API sees it; with tx set, the jobs are
// inserted in that transaction (see followAudit).
type appJobs struct {
	*jobs.Runner
	tx *sql.Tx
}

// Enqueue adds a job, in j.tx when there is one.
func (j appJobs) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (jobs.Job, error) {
	if j.tx != nil {
		return j.EnqueueTx(ctx, j.tx, args, opts)
	}
	return j.Runner.Enqueue(ctx, args, opts)
}

// followAudit runs fn for every audited event, to queue the jobs the
// event calls for: on SQLite in the transaction that records the event,
// so that the event and its jobs share one commit (and one sync of the
// log) instead of one each on the request's path; on PostgreSQL, whose
// job queue has a connection pool of its own, after the event is
// recorded. Call it once the job runner is open.
func (a *App) followAudit(what string, fn func(ctx context.Context, j appJobs, e audit.Event) error) {
	if a.Jobs.InsertsInTx() {
		a.Audit.SubscribeTx(func(ctx context.Context, tx *sql.Tx, e audit.Event) error {
			return fn(ctx, appJobs{Runner: a.Jobs, tx: tx}, e)
		})
		return
	}
	a.Audit.Subscribe(func(ctx context.Context, e audit.Event) {
		if err := fn(ctx, appJobs{Runner: a.Jobs}, e); err != nil {
			a.Log.WarnContext(ctx, what, "action", e.Action, "subject", e.Subject, "err", err)
		}
	})
}

func (j appJobs) EnqueueGC(ctx context.Context, dryRun bool) (jobs.Job, error) {
	return j.Enqueue(ctx, gcArgs{DryRun: dryRun, Trigger: "admin"},
		&river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}})
}
