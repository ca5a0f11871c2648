package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/meta/metatest"
)

type echoArgs struct {
	Word string `json:"word"`
	Fail int    `json:"fail"` // fail this many attempts first
}

func (echoArgs) Kind() string { return "echo" }

type echoWorker struct {
	river.WorkerDefaults[echoArgs]
	runs atomic.Int64
}

func (w *echoWorker) Work(ctx context.Context, j *river.Job[echoArgs]) error {
	w.runs.Add(1)
	if j.Attempt <= j.Args.Fail {
		return fmt.Errorf("attempt %d fails on purpose", j.Attempt)
	}
	return river.RecordOutput(ctx, map[string]string{"echo": j.Args.Word})
}

// NextRetry retries at once, so the test need not wait out river's backoff.
func (w *echoWorker) NextRetry(*river.Job[echoArgs]) time.Time { return time.Now() }

type tickArgs struct{}

func (tickArgs) Kind() string { return "tick" }

type tickWorker struct {
	river.WorkerDefaults[tickArgs]
	runner string
	mu     *sync.Mutex
	ran    map[int64][]string // job ID → runners that worked it
}

func (w *tickWorker) Work(ctx context.Context, j *river.Job[tickArgs]) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ran[j.ID] = append(w.ran[j.ID], w.runner)
	return nil
}

// open opens a runner on a database of its own connection to url (one
// arca process).
func open(t *testing.T, url, dir string, cfg jobs.Config) (*meta.DB, *jobs.Runner) {
	t.Helper()
	ctx := context.Background()
	db, err := meta.Open(ctx, url, dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := jobs.Open(ctx, db, url, cfg)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.Stop(ctx)
		r.Close()
		db.Close()
	})
	return db, r
}

// each runs fn once per engine with a database URL (and data directory)
// that several processes may open.
func each(t *testing.T, fn func(t *testing.T, url, dir string)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, "", t.TempDir()) })
	t.Run("postgres", func(t *testing.T) { fn(t, metatest.PostgresURL(t), "") })
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestRunnerRunsRetriesAndKeepsHistory(t *testing.T) {
	each(t, func(t *testing.T, url, dir string) {
		ctx := context.Background()
		w := &echoWorker{}
		workers := river.NewWorkers()
		river.AddWorker(workers, w)
		_, r := open(t, url, dir, jobs.Config{Workers: workers})
		if err := r.Start(ctx); err != nil {
			t.Fatal(err)
		}
		ok, err := r.Enqueue(ctx, echoArgs{Word: "hello"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		flaky, err := r.Enqueue(ctx, echoArgs{Word: "again", Fail: 2}, nil)
		if err != nil {
			t.Fatal(err)
		}
		done := func(id int64) func() bool {
			return func() bool {
				j, err := r.Get(ctx, id)
				return err == nil && j.State == "completed"
			}
		}
		waitFor(t, "the first job", 20*time.Second, done(ok.ID))
		waitFor(t, "the retried job", 30*time.Second, done(flaky.ID))

		j, _ := r.Get(ctx, flaky.ID)
		if j.Attempt != 3 || len(j.Errors) != 2 || j.Errors[0].Error != "attempt 1 fails on purpose" {
			t.Errorf("retried job: attempt %d, errors %+v; want 3 attempts and 2 errors", j.Attempt, j.Errors)
		}
		var out map[string]string
		if err := json.Unmarshal(j.Output, &out); err != nil || out["echo"] != "again" {
			t.Errorf("output %s, want the recorded echo", j.Output)
		}
		if len(j.AttemptedBy) == 0 || j.AttemptedBy[0] != r.ID() {
			t.Errorf("attempted_by %v, want %s", j.AttemptedBy, r.ID())
		}
		page, err := r.List(ctx, jobs.ListParams{Kind: "echo", Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Jobs) != 1 || page.Jobs[0].ID != flaky.ID || page.Next == "" {
			t.Fatalf("first page %+v, want the newest job and a next token", page)
		}
		page, err = r.List(ctx, jobs.ListParams{Kind: "echo", After: page.Next})
		if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != ok.ID || page.Next != "" {
			t.Fatalf("second page %+v, %v: want the older job, last page", page, err)
		}
		if _, err := r.List(ctx, jobs.ListParams{State: "bogus"}); !errs.Is(err, errs.Invalid) {
			t.Errorf("unknown state: %v, want Invalid", err)
		}
		if _, err := r.Get(ctx, 999999); !errs.Is(err, errs.NotFound) {
			t.Errorf("missing job: %v, want NotFound", err)
		}
	})
}

// TestPeriodicJobsRunOncePerCluster starts three runners on one database
// with a periodic job every 300 ms: only the elected leader enqueues it, so
// each period's job is worked by exactly one runner, once.
func TestPeriodicJobsRunOncePerCluster(t *testing.T) {
	each(t, func(t *testing.T, url, dir string) {
		ctx := context.Background()
		const every = 300 * time.Millisecond
		var mu sync.Mutex
		ran := map[int64][]string{}
		var runners []*jobs.Runner
		for i := range 3 {
			workers := river.NewWorkers()
			river.AddWorker(workers, &tickWorker{runner: fmt.Sprint("runner", i), mu: &mu, ran: ran})
			periodic := river.NewPeriodicJob(river.PeriodicInterval(every),
				func() (river.JobArgs, *river.InsertOpts) { return tickArgs{}, nil }, &river.PeriodicJobOpts{ID: "tick"})
			_, r := open(t, url, dir, jobs.Config{Workers: workers, Periodic: []*river.PeriodicJob{periodic}})
			runners = append(runners, r)
		}
		for _, r := range runners {
			if err := r.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		waitFor(t, "a leader's first periodic job", 30*time.Second, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(ran) >= 1
		})
		// Then let a fixed window pass: one enqueuer makes about
		// window/every jobs in it, three would make three times as many.
		start := time.Now()
		time.Sleep(3 * time.Second)
		for _, r := range runners {
			stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
			r.Stop(stopCtx)
			cancel()
		}
		elapsed := time.Since(start)
		mu.Lock()
		defer mu.Unlock()
		for id, by := range ran {
			if len(by) != 1 {
				t.Errorf("job %d worked by %v, want exactly one runner", id, by)
			}
		}
		if max := int(elapsed/every) + 3; len(ran) > max {
			t.Errorf("%d periodic jobs in %v, want at most %d (one per period)", len(ran), elapsed, max)
		}
		page, err := runners[0].List(ctx, jobs.ListParams{Kind: "tick", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range page.Jobs {
			if j.State == "completed" && len(j.AttemptedBy) != 1 {
				t.Errorf("job %d attempted by %v", j.ID, j.AttemptedBy)
			}
		}
		t.Logf("%d periodic jobs in %v across 3 runners", len(ran), elapsed.Round(time.Millisecond))
	})
}

type hangArgs struct{}

func (hangArgs) Kind() string { return "hang" }

// hangWorker stands for a process that took a job and then stopped
// answering: it never finishes (until the test releases it), whatever its
// context says. ran reports each attempt with the runner that made it.
type hangWorker struct {
	river.WorkerDefaults[hangArgs]
	runner  string
	hang    bool
	release chan struct{}
	ran     chan string
}

func (w *hangWorker) Work(ctx context.Context, j *river.Job[hangArgs]) error {
	w.ran <- w.runner
	if w.hang {
		<-w.release
	}
	return nil
}

// TestStuckJobIsRetriedElsewhere: a job whose process stops answering
// mid-job is rescued once it has run longer than its timeout and run by
// another process.
// (river's rescuer looks every 30 seconds, so this takes up to about 35.)
func TestStuckJobIsRetriedElsewhere(t *testing.T) {
	url := metatest.PostgresURL(t)
	ctx := context.Background()
	release := make(chan struct{})
	ran := make(chan string, 10)
	mk := func(name string, hang bool) *jobs.Runner {
		workers := river.NewWorkers()
		river.AddWorker(workers, &hangWorker{runner: name, hang: hang, release: release, ran: ran})
		_, r := open(t, url, "", jobs.Config{Workers: workers, MaxWorkers: 1, Timeout: 2 * time.Second})
		return r
	}
	stuck := mk("stuck", true)
	if err := stuck.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer close(release) // before the runners' cleanup stops them
	j, err := stuck.Enqueue(ctx, hangArgs{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := <-ran; got != "stuck" {
		t.Fatalf("first attempt by %s", got)
	}
	healthy := mk("healthy", false)
	if err := healthy.Start(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-ran:
		if got != "healthy" {
			t.Fatalf("second attempt by %s, want the healthy runner (the stuck one has no free slot)", got)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("the stuck job was not retried within 90s")
	}
	waitFor(t, "the retried job to complete", 20*time.Second, func() bool {
		got, err := healthy.Get(ctx, j.ID)
		return err == nil && got.State == "completed"
	})
	got, _ := healthy.Get(ctx, j.ID)
	if got.Attempt != 2 || len(got.AttemptedBy) != 2 || got.AttemptedBy[1] != healthy.ID() {
		t.Errorf("job %+v: want a second attempt by %s", got, healthy.ID())
	}
}
