package replication

import (
	"context"
	"database/sql"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// What started a run.
const (
	CauseEvent    = "event"
	CauseSchedule = "schedule"
	CauseManual   = "manual"
)

// States of a run.
const (
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// Outcomes of an item.
const (
	Copied  = "copied"
	Skipped = "skipped" // already present at the destination
	Deleted = "deleted"
	Errored = "failed"
)

// Run is one execution of a policy: one attempt of its job (a failed
// attempt is retried with backoff, as a new run that skips what the
// failed one copied).
type Run struct {
	ID         int64  `json:"id"`
	PolicyID   int64  `json:"policy_id"`
	Policy     string `json:"policy,omitempty"`
	JobID      int64  `json:"job_id"`
	Attempt    int    `json:"attempt"`
	Cause      string `json:"cause"`
	State      string `json:"state"`
	StartedAt  int64  `json:"started_at"`
	FinishedAt int64  `json:"finished_at,omitempty"`
	Copied     int64  `json:"copied"`
	Skipped    int64  `json:"skipped"`
	Deleted    int64  `json:"deleted"`
	Failed     int64  `json:"failed"`
	Bytes      int64  `json:"bytes"`
	Error      string `json:"error,omitempty"`
	Items      []Item `json:"items,omitempty"`
}

// Item is what a run did to one thing.
type Item struct {
	Item    string `json:"item"`
	Outcome string `json:"outcome"`
	Bytes   int64  `json:"bytes,omitempty"`
	Error   string `json:"error,omitempty"`
	At      int64  `json:"at"`
}

// maxRunItems bounds the items one run keeps (a full run over a huge
// repository records its counts in full, its first items only).
const maxRunItems = 10_000

func (s *store) startRun(ctx context.Context, r *Run) error {
	r.State, r.StartedAt = Running, meta.Now()
	return meta.Err(s.db.QueryRowContext(ctx, `INSERT INTO replication_runs (policy_id, job_id, attempt, cause, state, started_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, r.PolicyID, r.JobID, r.Attempt, r.Cause, r.State, r.StartedAt).Scan(&r.ID))
}

// addItem records an item and adds it to the run's counts.
func (s *store) addItem(ctx context.Context, r *Run, it Item) error {
	switch it.Outcome {
	case Copied:
		r.Copied++
	case Skipped:
		r.Skipped++
	case Deleted:
		r.Deleted++
	default:
		r.Failed++
	}
	r.Bytes += it.Bytes
	if r.Copied+r.Skipped+r.Deleted+r.Failed > maxRunItems {
		return nil
	}
	it.At = meta.Now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO replication_items (run_id, item, outcome, bytes, error, at) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.ID, it.Item, it.Outcome, it.Bytes, it.Error, it.At)
	return meta.Err(err)
}

func (s *store) finishRun(ctx context.Context, r *Run) error {
	r.FinishedAt = meta.Now()
	_, err := s.db.ExecContext(ctx, `UPDATE replication_runs SET state = $1, finished_at = $2, copied = $3, skipped = $4, deleted = $5,
		failed = $6, bytes = $7, error = $8 WHERE id = $9`, r.State, r.FinishedAt, r.Copied, r.Skipped, r.Deleted, r.Failed, r.Bytes, r.Error, r.ID)
	return meta.Err(err)
}

const runColumns = `r.id, r.policy_id, p.name, r.job_id, r.attempt, r.cause, r.state, r.started_at, r.finished_at,
	r.copied, r.skipped, r.deleted, r.failed, r.bytes, r.error`

func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	err := row.Scan(&r.ID, &r.PolicyID, &r.Policy, &r.JobID, &r.Attempt, &r.Cause, &r.State, &r.StartedAt, &r.FinishedAt,
		&r.Copied, &r.Skipped, &r.Deleted, &r.Failed, &r.Bytes, &r.Error)
	return r, err
}

// runs returns runs newest first: of one policy when policyID is not 0,
// older than before when it is not 0.
func (s *store) runs(ctx context.Context, policyID, before int64, limit int) ([]Run, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+runColumns+` FROM replication_runs r JOIN replication_policies p ON p.id = r.policy_id
		WHERE ($1 = 0 OR r.policy_id = $1) AND ($2 = 0 OR r.id < $2) ORDER BY r.id DESC LIMIT $3`, policyID, before, limit)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// run returns one run with its items (the first limit of them).
func (s *store) run(ctx context.Context, id int64, limit int) (Run, error) {
	r, err := scanRun(s.db.QueryRowContext(ctx, `SELECT `+runColumns+` FROM replication_runs r JOIN replication_policies p ON p.id = r.policy_id WHERE r.id = $1`, id))
	if err == sql.ErrNoRows {
		return r, errs.E(errs.NotFound, "no replication run %d", id)
	}
	if err != nil {
		return r, meta.Err(err)
	}
	if limit <= 0 || limit > maxRunItems {
		limit = 1000
	}
	rows, err := s.db.QueryContext(ctx, `SELECT item, outcome, bytes, error, at FROM replication_items WHERE run_id = $1 ORDER BY id LIMIT $2`, id, limit)
	if err != nil {
		return r, meta.Err(err)
	}
	defer rows.Close()
	r.Items = []Item{}
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Item, &it.Outcome, &it.Bytes, &it.Error, &it.At); err != nil {
			return r, meta.Err(err)
		}
		r.Items = append(r.Items, it)
	}
	return r, meta.Err(rows.Err())
}
