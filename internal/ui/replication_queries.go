package ui

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// ReplicationPolicy is a replication policy as the admin pages show it:
// never its credentials.
type ReplicationPolicy struct {
	ID               int64
	Name             string
	Repository       string
	Format           string
	Direction        string
	OnEvent, Enabled bool
	RemoteURL        string
	RemoteRepository string
	Schedule         string
	Deletes          bool
	BandwidthLimit   int64
	Names, Versions  []string
	Referrers        bool
	LastRun          *ReplicationRun
}

// ReplicationRun is one run of a policy, with its items on its own page.
type ReplicationRun struct {
	ID, PolicyID                     int64
	Policy                           string
	JobID                            int64
	Attempt                          int
	Cause, State                     string
	StartedAt, FinishedAt            int64
	Copied, Skipped, Deleted, Failed int64
	Bytes                            int64
	Error                            string
	Items                            []ReplicationItem
}

// ReplicationItem is what a run did to one item.
type ReplicationItem struct {
	Item, Outcome, Error string
	Bytes, At            int64
}

// replicationPolicies lists the policies with their newest runs.
func (h *Handler) replicationPolicies(ctx context.Context) ([]ReplicationPolicy, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT p.id, p.name, r.name, r.format, p.direction, p.on_event, p.enabled, p.config
		FROM replication_policies p JOIN repositories r ON r.id = p.repository_id ORDER BY p.name`)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ReplicationPolicy
	for rows.Next() {
		var p ReplicationPolicy
		var cfg string
		if err := rows.Scan(&p.ID, &p.Name, &p.Repository, &p.Format, &p.Direction, &p.OnEvent, &p.Enabled, &cfg); err != nil {
			return nil, meta.Err(err)
		}
		var c struct {
			Remote struct {
				URL        string `json:"url"`
				Repository string `json:"repository"`
			} `json:"remote"`
			Filter struct {
				Names     []string `json:"names"`
				Versions  []string `json:"versions"`
				Referrers bool     `json:"referrers"`
			} `json:"filter"`
			Schedule       string `json:"schedule"`
			Deletes        bool   `json:"deletes"`
			BandwidthLimit int64  `json:"bandwidth_limit"`
		}
		json.Unmarshal([]byte(cfg), &c) // shown as far as it reads
		p.RemoteURL, p.RemoteRepository = c.Remote.URL, c.Remote.Repository
		p.Names, p.Versions, p.Referrers = c.Filter.Names, c.Filter.Versions, c.Filter.Referrers
		p.Schedule, p.Deletes, p.BandwidthLimit = c.Schedule, c.Deletes, c.BandwidthLimit
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	for i := range out {
		runs, err := h.replicationRuns(ctx, out[i].ID, 1)
		if err != nil {
			return nil, err
		}
		if len(runs) > 0 {
			out[i].LastRun = &runs[0]
		}
	}
	return out, nil
}

const replicationRunColumns = `r.id, r.policy_id, p.name, r.job_id, r.attempt, r.cause, r.state, r.started_at, r.finished_at,
	r.copied, r.skipped, r.deleted, r.failed, r.bytes, r.error FROM replication_runs r JOIN replication_policies p ON p.id = r.policy_id`

func scanReplicationRun(row interface{ Scan(...any) error }) (ReplicationRun, error) {
	var r ReplicationRun
	err := row.Scan(&r.ID, &r.PolicyID, &r.Policy, &r.JobID, &r.Attempt, &r.Cause, &r.State, &r.StartedAt, &r.FinishedAt,
		&r.Copied, &r.Skipped, &r.Deleted, &r.Failed, &r.Bytes, &r.Error)
	return r, err
}

// replicationRuns returns the newest runs, of one policy when policyID is
// not 0.
func (h *Handler) replicationRuns(ctx context.Context, policyID int64, limit int) ([]ReplicationRun, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT `+replicationRunColumns+` WHERE ($1 = 0 OR r.policy_id = $1) ORDER BY r.id DESC LIMIT $2`, policyID, limit)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []ReplicationRun
	for rows.Next() {
		r, err := scanReplicationRun(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, r)
	}
	return out, meta.Err(rows.Err())
}

// replicationRun returns one run with its first items.
func (h *Handler) replicationRun(ctx context.Context, id int64) (ReplicationRun, error) {
	r, err := scanReplicationRun(h.db.QueryRowContext(ctx, `SELECT `+replicationRunColumns+` WHERE r.id = $1`, id))
	if err == sql.ErrNoRows {
		return r, errs.E(errs.NotFound, "no replication run %d", id)
	} else if err != nil {
		return r, meta.Err(err)
	}
	rows, err := h.db.QueryContext(ctx, `SELECT item, outcome, error, bytes, at FROM replication_items WHERE run_id = $1 ORDER BY id LIMIT 1000`, id)
	if err != nil {
		return r, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var it ReplicationItem
		if err := rows.Scan(&it.Item, &it.Outcome, &it.Error, &it.Bytes, &it.At); err != nil {
			return r, meta.Err(err)
		}
		r.Items = append(r.Items, it)
	}
	return r, meta.Err(rows.Err())
}
