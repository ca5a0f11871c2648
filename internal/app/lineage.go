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
// permissions decide who reads its nodes) and subscribes it.
func (a *App) openLineage() {
	a.Lineage = lineage.New(lineage.Deps{DB: a.DB, Repos: a.Repos, Auth: a.Auth, Blobs: a.Blobs, MLflow: a.MLflow, Audit: a.Audit, Log: a.Log})
	a.Audit.Subscribe(a.lineageOnEvent)
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

// lineageOnEvent enqueues the extraction of an event's links.
func (a *App) lineageOnEvent(ctx context.Context, e audit.Event) {
	if !lineage.Wants(e) {
		return
	}
	// What extraction reads, not where the request came from.
	e.RemoteAddr, e.RequestID = "", ""
	if _, err := a.Jobs.Enqueue(ctx, lineageArgs{Event: e}, &river.InsertOpts{MaxAttempts: 5}); err != nil {
		a.Log.WarnContext(ctx, "enqueuing lineage extraction", "action", e.Action, "subject", e.Subject, "err", err)
	}
}

// lineageWorkers registers the lineage worker.
func (a *App) lineageWorkers(workers *river.Workers) {
	river.AddWorker(workers, &lineageWorker{app: a})
}
