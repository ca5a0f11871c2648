package app

import (
	"context"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/lineage"
)

// Lineage: links are extracted from what arrives by a job per audited
// event that may carry some (lineage.Wants), never on the request's
// goroutine.

// openLineage builds the lineage service (after MLflow, whose
// permissions decide who reads its nodes); followLineage subscribes it.
func (a *App) openLineage() {
	a.Lineage = lineage.New(lineage.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, MLflow: a.MLflow, Audit: a.Audit, Log: a.Log})
}

// lineageArgs extracts the links of one audited event.
type lineageArgs struct {
	Event audit.Event `json:"event"`
}

func (lineageArgs) Kind() string { return "lineage_extract" }

type lineageWorker struct {
	river.WorkerDefaults[lineageArgs]
	app *App
}

func (w *lineageWorker) Work(ctx context.Context, j *river.Job[lineageArgs]) error {
	n, err := w.app.Lineage.Extract(ctx, j.Args.Event)
	if err != nil {
		return fmt.Errorf("lineage of %s %s: %w", j.Args.Event.Action, j.Args.Event.Subject, err)
	}
	return river.RecordOutput(ctx, map[string]int{"links": n})
}

// followLineage enqueues the extraction of each event's links.
func (a *App) followLineage() {
	a.followAudit("enqueuing lineage extraction", func(ctx context.Context, j appJobs, e audit.Event) error {
		if !lineage.Wants(e) {
			return nil
		}
		// What extraction reads, not where the request came from.
		e.RemoteAddr, e.RequestID = "", ""
		_, err := j.Enqueue(ctx, lineageArgs{Event: e}, &river.InsertOpts{MaxAttempts: 5})
		return err
	})
}

// lineageWorkers registers the lineage worker.
func (a *App) lineageWorkers(workers *river.Workers) {
	river.AddWorker(workers, &lineageWorker{app: a})
}
