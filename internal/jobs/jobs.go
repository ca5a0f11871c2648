// Package jobs is arca's one home for background work: a durable job queue
// in the metadata database (river, on SQLite through database/sql and on
// PostgreSQL through a pgx pool of its own), with leader election for
// periodic jobs, retries with backoff, and a history an admin can read.
//
// The package knows nothing of what the jobs do: the composition root
// registers workers (river.Worker) and periodic jobs, and the runner
// migrates river's tables, starts and stops the client, enqueues, and lists
// jobs in arca's own JSON shape.
package jobs

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"github.com/riverqueue/river/rivertype"
	"go.opentelemetry.io/otel/trace"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Config is what the composition root gives the runner.
type Config struct {
	// Workers are the job kinds this process can run. A process with no
	// workers only enqueues and lists (the command line).
	Workers *river.Workers
	// Periodic jobs are enqueued by the elected leader only, so each runs
	// once per cluster per schedule.
	Periodic []*river.PeriodicJob
	// MaxWorkers is how many jobs this process runs at once (default 2).
	MaxWorkers int
	// Queues are further queues beside the default one, with how many of
	// their jobs this process runs at once: work that waits on other
	// servers (webhook deliveries) gets its own, so that it neither waits
	// behind a long GC nor holds the default queue's workers.
	Queues map[string]int
	// KindQueues are job kinds that run in a queue of their own, named
	// after the kind, with how many of them this process runs at once.
	// During a rolling update the previous release's processes share the
	// queue tables; river hands a process only jobs of the queues it works,
	// so a kind the previous release does not know must not be in a queue
	// it works (there it would fail as "unhandled" and use up attempts).
	// Every kind added after the first release therefore gets its own
	// queue; TestRollingUpgrade catches one that does not. Enqueue puts
	// these kinds in their queue; periodic jobs must set it themselves.
	KindQueues map[string]int
	// Timeout is the longest a job may run (default one hour): past it
	// the job's context is cancelled, and a job whose process died (it is
	// still "running" in the database) is retried by another process. A
	// worker's own Timeout overrides it for its kind.
	Timeout time.Duration
	// Retention is how long finished jobs stay in the history (default
	// seven days).
	Retention time.Duration
	Log       *slog.Logger
	// TracerProvider, when not nil, makes every insert and every attempt
	// a span (observe.go).
	TracerProvider trace.TracerProvider
	// Metrics, when not nil, receives the attempts' metrics and the
	// queue's depth by kind and state (observe.go).
	Metrics prometheus.Registerer
}

// client is the part of river.Client that does not depend on the
// driver's transaction type, so one Runner holds either engine's client.
type client interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	JobList(ctx context.Context, params *river.JobListParams) (*river.JobListResult, error)
	JobGet(ctx context.Context, id int64) (*rivertype.JobRow, error)
}

// Runner is the job queue of one arca process.
type Runner struct {
	client client
	// insertTx inserts in a transaction of the metadata database (SQLite,
	// where river shares arca's *sql.DB); nil on PostgreSQL, where river
	// has its own pgx pool.
	insertTx   func(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	pool       *pgxpool.Pool // PostgreSQL only; closed by Close
	id         string
	started    bool
	kindQueues map[string]int
}

// batchedInserts is river's SQLite client with Insert taken through the
// group committer (meta.DB.WithBatchTx): the jobs concurrent requests
// enqueue share commits instead of each taking the write lock and syncing
// the log on its own.
type batchedInserts struct {
	*river.Client[*sql.Tx]
	db *meta.DB
}

func (c batchedInserts) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (res *rivertype.JobInsertResult, err error) {
	err = c.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		res, err = c.InsertTx(ctx, tx, args, opts)
		return err
	})
	return res, err
}

// Open migrates river's tables (on PostgreSQL under the advisory lock that
// arca's own migrations take, so that replicas starting at once take
// turns) and builds the runner. databaseURL is the URL db was opened
// with: on PostgreSQL river needs a pgx pool, built from the same URL.
func Open(ctx context.Context, db *meta.DB, databaseURL string, cfg Config) (*Runner, error) {
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s_%d_%d", cmp.Or(host, "arca"), os.Getpid(), time.Now().UnixMilli())
	rc := &river.Config{
		ID:           id,
		Logger:       cmp.Or(cfg.Log, slog.Default()).With("component", "jobs"),
		PeriodicJobs: cfg.Periodic,
		// River's rescuer retries a job that has been running longer than
		// its timeout and RescueStuckJobsAfter; it looks every 30 seconds.
		// Without a timeout a job of a dead process would stay running.
		JobTimeout:           cmp.Or(cfg.Timeout, time.Hour),
		RescueStuckJobsAfter: cmp.Or(cfg.Timeout, time.Hour),
		// Stop waits this long for jobs in flight, then cancels them.
		SoftStopTimeout:             25 * time.Second,
		CompletedJobRetentionPeriod: cmp.Or(cfg.Retention, 7*24*time.Hour),
		CancelledJobRetentionPeriod: cmp.Or(cfg.Retention, 7*24*time.Hour),
		DiscardedJobRetentionPeriod: cmp.Or(cfg.Retention, 7*24*time.Hour),
		MaxAttempts:                 5,
		Middleware:                  middleware(db, cfg.TracerProvider, cfg.Metrics),
	}
	if cfg.Workers != nil {
		rc.Workers = cfg.Workers
		rc.Queues = map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: cmp.Or(cfg.MaxWorkers, 2)}}
		for q, n := range cfg.KindQueues {
			rc.Queues[q] = river.QueueConfig{MaxWorkers: max(n, 1)}
		}
		for q, n := range cfg.Queues {
			rc.Queues[q] = river.QueueConfig{MaxWorkers: max(n, 1)}
		}
	}
	r := &Runner{id: id, kindQueues: cfg.KindQueues}
	switch db.Dialect {
	case meta.Postgres:
		pcfg, err := pgxpool.ParseConfig(databaseURL)
		if err != nil {
			return nil, fmt.Errorf("jobs: database URL: %w", err)
		}
		pcfg.MaxConns = 8
		pool, err := pgxpool.NewWithConfig(ctx, pcfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: connecting: %w", err)
		}
		driver := riverpgxv5.New(pool)
		err = db.WithLock(ctx, "migrations", func() error { return migrate(ctx, driver) })
		if err == nil {
			r.client, err = river.NewClient(driver, rc)
		}
		if err != nil {
			pool.Close()
			return nil, err
		}
		r.pool = pool
	default:
		driver := riversqlite.New(db.DB)
		if err := migrate(ctx, driver); err != nil {
			return nil, err
		}
		c, err := river.NewClient(driver, rc)
		if err != nil {
			return nil, fmt.Errorf("jobs: %w", err)
		}
		r.client = batchedInserts{Client: c, db: db}
		r.insertTx = c.InsertTx
	}
	return r, nil
}

func migrate[TTx any](ctx context.Context, driver riverdriver.Driver[TTx]) error {
	m, err := rivermigrate.New(driver, &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("jobs: applying the job queue's migrations: %w", err)
	}
	return nil
}

// ID names this process among the runners sharing the database; a job's
// attempted_by lists these.
func (r *Runner) ID() string { return r.id }

// Start begins working jobs and, when elected leader, enqueuing periodic
// ones. It returns at once; Stop ends the work.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.client.Start(ctx); err != nil {
		return fmt.Errorf("jobs: starting: %w", err)
	}
	r.started = true
	return nil
}

// Stop waits for jobs in flight to finish — for up to 25 seconds, then
// cancels them (a cancelled job is retried later, by any process) — and
// gives up leadership. It returns early with ctx's error if ctx ends first.
func (r *Runner) Stop(ctx context.Context) error {
	if !r.started {
		return nil
	}
	r.started = false
	return r.client.Stop(ctx)
}

// Close releases the runner's own connections (PostgreSQL); Stop first.
func (r *Runner) Close() {
	if r.pool != nil {
		r.pool.Close()
	}
}

// Enqueue adds a job. When opts (or the args' own InsertOpts) make it
// unique and an equal job is already queued or running, that job is
// returned with Duplicate set.
func (r *Runner) Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (Job, error) {
	res, err := r.client.Insert(ctx, args, r.queued(args, opts))
	return inserted(res, err)
}

// InsertsInTx says whether EnqueueTx can insert in a transaction of the
// metadata database: on SQLite, not on PostgreSQL.
func (r *Runner) InsertsInTx() bool { return r.insertTx != nil }

// EnqueueTx is Enqueue in tx, a transaction of the metadata database, so
// that the job commits with the change that calls for it (and in the same
// sync). Only where InsertsInTx.
func (r *Runner) EnqueueTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (Job, error) {
	if r.insertTx == nil {
		return Job{}, errs.E(errs.Internal, "jobs: no inserts in a transaction of the metadata database on this engine")
	}
	res, err := r.insertTx(ctx, tx, args, r.queued(args, opts))
	return inserted(res, err)
}

// queued puts a job of a kind with a queue of its own in that queue.
func (r *Runner) queued(args river.JobArgs, opts *river.InsertOpts) *river.InsertOpts {
	if _, ok := r.kindQueues[args.Kind()]; ok && (opts == nil || opts.Queue == "") {
		o := river.InsertOpts{}
		if opts != nil {
			o = *opts
		}
		o.Queue = args.Kind()
		opts = &o
	}
	return opts
}

func inserted(res *rivertype.JobInsertResult, err error) (Job, error) {
	if err != nil {
		return Job{}, errs.Wrap(err, errs.Unavailable, "enqueuing a job")
	}
	j := view(res.Job)
	j.Duplicate = res.UniqueSkippedAsDuplicate
	return j, nil
}

// Get returns one job.
func (r *Runner) Get(ctx context.Context, id int64) (Job, error) {
	row, err := r.client.JobGet(ctx, id)
	if errors.Is(err, river.ErrNotFound) {
		return Job{}, errs.E(errs.NotFound, "no job %d", id)
	}
	if err != nil {
		return Job{}, errs.Wrap(err, errs.Unavailable, "reading a job")
	}
	return view(row), nil
}

// ListParams selects jobs, newest first.
type ListParams struct {
	Kind  string
	State string // one of river's states (available, running, completed, retryable, discarded, ...)
	Limit int    // default 100, at most 1000
	After string // the Next of the previous page
}

// Page is a page of jobs; Next continues it ("" on the last page).
type Page struct {
	Jobs []Job  `json:"jobs"`
	Next string `json:"next,omitempty"`
}

// List returns a page of the job history.
func (r *Runner) List(ctx context.Context, p ListParams) (Page, error) {
	limit := p.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	lp := river.NewJobListParams().OrderBy(river.JobListOrderByID, river.SortOrderDesc).First(limit)
	if p.Kind != "" {
		lp = lp.Kinds(p.Kind)
	}
	if p.State != "" {
		st := rivertype.JobState(p.State)
		if !validState(st) {
			return Page{}, errs.E(errs.Invalid, "unknown job state %q", p.State)
		}
		lp = lp.States(st)
	}
	if p.After != "" {
		var c river.JobListCursor
		if err := c.UnmarshalText([]byte(p.After)); err != nil {
			return Page{}, errs.E(errs.Invalid, "bad page token")
		}
		lp = lp.After(&c)
	}
	res, err := r.client.JobList(ctx, lp)
	if err != nil {
		return Page{}, errs.Wrap(err, errs.Unavailable, "listing jobs")
	}
	page := Page{Jobs: make([]Job, 0, len(res.Jobs))}
	for _, row := range res.Jobs {
		page.Jobs = append(page.Jobs, view(row))
	}
	if len(res.Jobs) == limit && res.LastCursor != nil {
		if b, err := res.LastCursor.MarshalText(); err == nil {
			page.Next = string(b)
		}
	}
	return page, nil
}

func validState(s rivertype.JobState) bool {
	for _, v := range rivertype.JobStates() {
		if v == s {
			return true
		}
	}
	return false
}

// Job is a job as the API shows it.
type Job struct {
	ID          int64           `json:"id"`
	Kind        string          `json:"kind"`
	State       string          `json:"state"`
	Args        json.RawMessage `json:"args"`
	Attempt     int             `json:"attempt"`
	MaxAttempts int             `json:"max_attempts"`
	// AttemptedBy names the processes (Runner.ID) that ran it, in order.
	AttemptedBy []string       `json:"attempted_by"`
	Errors      []AttemptError `json:"errors,omitempty"`
	// Output is what the worker recorded (river.RecordOutput).
	Output      json.RawMessage `json:"output,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	ScheduledAt time.Time       `json:"scheduled_at"`
	AttemptedAt *time.Time      `json:"attempted_at,omitempty"`
	FinalizedAt *time.Time      `json:"finalized_at,omitempty"`
	// Duplicate is set by Enqueue when an equal unique job was returned
	// instead of a new one.
	Duplicate bool `json:"duplicate,omitempty"`
}

// AttemptError is one failed attempt.
type AttemptError struct {
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Error   string    `json:"error"`
}

func view(row *rivertype.JobRow) Job {
	j := Job{ID: row.ID, Kind: row.Kind, State: string(row.State), Args: json.RawMessage(row.EncodedArgs),
		Attempt: row.Attempt, MaxAttempts: row.MaxAttempts, AttemptedBy: row.AttemptedBy,
		CreatedAt: row.CreatedAt, ScheduledAt: row.ScheduledAt, AttemptedAt: row.AttemptedAt, FinalizedAt: row.FinalizedAt}
	if len(j.Args) == 0 {
		j.Args = json.RawMessage("{}")
	}
	if j.AttemptedBy == nil {
		j.AttemptedBy = []string{}
	}
	if out := row.Output(); len(out) > 0 {
		j.Output = json.RawMessage(out)
	}
	for _, e := range row.Errors {
		j.Errors = append(j.Errors, AttemptError{At: e.At, Attempt: e.Attempt, Error: e.Error})
	}
	return j
}
