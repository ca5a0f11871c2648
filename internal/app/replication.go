package app

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/replication"
)

// Replication runs as jobs: one per run (a policy run by hand, on its
// schedule, or for the changes an audited event names), retried with
// backoff, and one periodic job, once per cluster, that enqueues the
// scheduled runs that are due.

// replicateArgs is one run of a replication policy.
type replicateArgs struct {
	replication.Job
}

func (replicateArgs) Kind() string { return "replicate" }

type replicateWorker struct {
	river.WorkerDefaults[replicateArgs]
	app *App
}

func (w *replicateWorker) Work(ctx context.Context, j *river.Job[replicateArgs]) error {
	return w.app.Replication.Execute(ctx, j.Args.Job, j.ID, j.Attempt)
}

// NextRetry backs off 1s, 2s, 4s ... up to 5 minutes between attempts:
// a replica that was down is caught up soon after it is back.
func (w *replicateWorker) NextRetry(j *river.Job[replicateArgs]) time.Time {
	d := time.Second << min(j.Attempt-1, 9)
	return time.Now().Add(min(d, 5*time.Minute))
}

// replicationScheduleArgs enqueues the scheduled runs that are due.
type replicationScheduleArgs struct{}

func (replicationScheduleArgs) Kind() string { return "replication_schedule" }

type replicationScheduleWorker struct {
	river.WorkerDefaults[replicationScheduleArgs]
	app *App
}

func (w *replicationScheduleWorker) Work(ctx context.Context, j *river.Job[replicationScheduleArgs]) error {
	due, err := w.app.Replication.DueSchedules(ctx, time.Now())
	if err != nil {
		return err
	}
	for _, id := range due {
		// One scheduled run of a policy at a time: while one is queued,
		// running or retrying, the next is not added.
		if _, err := w.app.Jobs.Enqueue(ctx, replicateArgs{replication.Job{PolicyID: id, Cause: replication.CauseSchedule}},
			&river.InsertOpts{MaxAttempts: replicationAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: queuedOrRunning}}); err != nil {
			return err
		}
	}
	return nil
}

// replicationAttempts bounds a run's retries (about 40 minutes of backoff).
const replicationAttempts = 12

func (a *App) replicationJobs(workers *river.Workers) []*river.PeriodicJob {
	river.AddWorker(workers, &replicateWorker{app: a})
	river.AddWorker(workers, &replicationScheduleWorker{app: a})
	return []*river.PeriodicJob{periodic("replication_schedule", time.Minute, true, replicationScheduleArgs{})}
}

// enqueueReplication queues a run (replication.Deps.Enqueue).
func (a *App) enqueueReplication(ctx context.Context, j replication.Job) (int64, error) {
	job, err := a.Jobs.Enqueue(ctx, replicateArgs{j}, &river.InsertOpts{MaxAttempts: replicationAttempts})
	return job.ID, err
}

// inProcess holds the handlers a replication run's local side calls.
type inProcess struct {
	once     sync.Once
	main, s3 http.Handler
}

func (a *App) inProcessHandlers() *inProcess {
	a.local.once.Do(func() {
		a.local.main = a.Handler()
		a.local.s3 = a.S3.Handler()
	})
	return &a.local
}

func (a *App) openReplication() *replication.Service {
	s := replication.New(replication.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Sealer: a.Keys, Log: a.Log, Registry: a.Registry,
		Local:   func() http.Handler { return a.inProcessHandlers().main },
		LocalS3: func() http.Handler { return a.inProcessHandlers().s3 },
		Enqueue: a.enqueueReplication,
		Timeout: time.Minute,
		Audit:   a.Audit,
	})
	a.Audit.Subscribe(s.OnEvent)
	return s
}
