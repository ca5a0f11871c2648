package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// runFor looks up the run a request names (run_id, or run_uuid from old
// clients) and checks the caller's permission on its experiment.
func (h *Handler) runFor(ctx context.Context, runID, runUUID string, need Permission) (*runRow, error) {
	if runID == "" {
		runID = runUUID
	}
	if err := h.knownCaller(ctx); err != nil {
		return nil, err
	}
	if err := required("run_id", runID); err != nil {
		return nil, err
	}
	run, err := runByUUID(ctx, h.db, runID)
	if err != nil {
		return nil, err
	}
	if err := h.requireExperiment(ctx, run.ExperimentID, need); err != nil {
		return nil, err
	}
	return run, nil
}

// createRun: POST runs/create. The run's name and its mlflow.runName tag
// agree (a random name when the client gives neither); user_id is the
// caller's arca user when the client sends none.
func (h *Handler) createRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentID string   `json:"experiment_id"`
		UserID       string   `json:"user_id"`
		RunName      string   `json:"run_name"`
		StartTime    Int64    `json:"start_time"`
		Tags         []RunTag `json:"tags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	expID, err := parseExperimentID(req.ExperimentID)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.requireExperiment(ctx, expID, Edit); err != nil {
		return err
	}
	tags := dedupeRunTags(req.Tags)
	tagName, hasTagName := "", false
	for i := range tags {
		v, err := validateTag("tags["+itoa(int64(i))+"]", tags[i].Key, tags[i].Value)
		if err != nil {
			return err
		}
		tags[i].Value = v
		if tags[i].Key == tagRunName {
			tagName, hasTagName = v, true
		}
	}
	if req.RunName != "" && hasTagName && tagName != req.RunName {
		return invalidParam("both 'run_name' (%q) and the tag 'mlflow.runName' (%q) are given, with different values", req.RunName, tagName)
	}
	name := req.RunName
	if name == "" {
		name = tagName
	}
	if name == "" {
		name = randomName()
	}
	if !hasTagName {
		tags = append(tags, RunTag{Key: tagRunName, Value: name})
	}
	user := req.UserID
	if user == "" {
		user = auth.From(ctx).Name
	}
	run := &runRow{UUID: randomHex(16), ExperimentID: expID, Name: name, UserID: user, Status: "RUNNING",
		StartTime: sql.NullInt64{Int64: int64(req.StartTime), Valid: true}, LifecycleStage: stageActive}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		e, err := experimentByID(ctx, tx, expID)
		if err != nil {
			return err
		}
		if err := e.mustBeActive(); err != nil {
			return err
		}
		run.ArtifactURI = runArtifactURI(e.ArtifactLocation, run.UUID)
		err = tx.QueryRowContext(ctx, `INSERT INTO mlflow_runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			run.UUID, run.ExperimentID, run.Name, run.UserID, run.Status, run.StartTime, run.LifecycleStage, run.ArtifactURI).Scan(&run.ID)
		if err != nil {
			return meta.Err(err)
		}
		return insertRunTags(ctx, h.tx(tx), run.ID, tags)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.run.create", Repository: h.space, Subject: run.UUID, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"experiment_id": itoa(expID)}})
	return reply(w, map[string]Run{"run": {Info: run.info(), Data: RunData{Tags: tags}}})
}

// getRun: GET runs/get.
func (h *Handler) getRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string `json:"run_id"`
		RunUUID string `json:"run_uuid"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.runFor(ctx, req.RunID, req.RunUUID, Read)
	if err != nil {
		return err
	}
	runs, err := loadRuns(ctx, h.q(), []int64{run.ID})
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		return notExist("run with id=%s not found", run.UUID)
	}
	return reply(w, map[string]Run{"run": runs[0]})
}

// updateRun: POST runs/update sets the status, end time and name of an
// active run; fields the client leaves out keep their values.
func (h *Handler) updateRun(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		RunID   string     `json:"run_id"`
		RunUUID string     `json:"run_uuid"`
		Status  *RunStatus `json:"status"`
		EndTime *Int64     `json:"end_time"`
		RunName string     `json:"run_name"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.runFor(ctx, req.RunID, req.RunUUID, Edit)
	if err != nil {
		return err
	}
	var info RunInfo
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		run, err := runByUUID(ctx, tx, run.UUID)
		if err != nil {
			return err
		}
		if err := run.mustBeActive(); err != nil {
			return err
		}
		var set []string
		var args []any
		add := func(col string, v any) {
			args = append(args, v)
			set = append(set, col+" = $"+itoa(int64(len(args))))
		}
		if req.Status != nil {
			run.Status = string(*req.Status)
			add("status", run.Status)
		}
		if req.EndTime != nil {
			run.EndTime = sql.NullInt64{Int64: int64(*req.EndTime), Valid: true}
			add("end_time", run.EndTime)
		}
		if req.RunName != "" {
			run.Name = req.RunName
			add("name", run.Name)
		}
		if len(set) > 0 {
			args = append(args, run.ID)
			if _, err := tx.ExecContext(ctx, `UPDATE mlflow_runs SET `+strings.Join(set, ", ")+` WHERE id = $`+itoa(int64(len(args))), args...); err != nil {
				return meta.Err(err)
			}
		}
		if req.RunName != "" {
			if err := insertRunTags(ctx, h.tx(tx), run.ID, []RunTag{{Key: tagRunName, Value: req.RunName}}); err != nil {
				return err
			}
		}
		info = run.info()
		return nil
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.run.update", Repository: h.space, Subject: info.RunUUID, RemoteAddr: r.RemoteAddr})
	return reply(w, map[string]RunInfo{"run_info": info})
}

// deleteRun: POST runs/delete marks a run deleted (MANAGE, as MLflow's
// auth requires for deletes).
func (h *Handler) deleteRun(w http.ResponseWriter, r *http.Request) error {
	return h.setRunStage(w, r, stageDeleted, "mlflow.run.delete")
}

// restoreRun: POST runs/restore makes a deleted run active again.
func (h *Handler) restoreRun(w http.ResponseWriter, r *http.Request) error {
	return h.setRunStage(w, r, stageActive, "mlflow.run.restore")
}

func (h *Handler) setRunStage(w http.ResponseWriter, r *http.Request, to, action string) error {
	var req struct {
		RunID string `json:"run_id"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	ctx := r.Context()
	run, err := h.runFor(ctx, req.RunID, "", Manage)
	if err != nil {
		return err
	}
	var deleted any
	if to == stageDeleted {
		deleted = meta.Now()
	}
	if _, err := h.db.ExecContext(ctx, `UPDATE mlflow_runs SET lifecycle_stage = $1, deleted_time = $2 WHERE id = $3`,
		to, deleted, run.ID); err != nil {
		return meta.Err(err)
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: h.space, Subject: run.UUID, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"experiment_id": itoa(run.ExperimentID)}})
	return reply(w, nil)
}

// searchRuns: POST runs/search. Experiments the caller cannot read are
// left out of the search, as MLflow's auth does.
func (h *Handler) searchRuns(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		ExperimentIDs []string  `json:"experiment_ids"`
		Filter        string    `json:"filter"`
		RunViewType   *ViewType `json:"run_view_type"`
		MaxResults    *Int64    `json:"max_results"`
		OrderBy       []string  `json:"order_by"`
		PageToken     string    `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	limit, err := pageSize(req.MaxResults, defaultSearchRunsResults, maxSearchResults)
	if err != nil {
		return err
	}
	expIDs, err := parseExperimentIDs(req.ExperimentIDs)
	if err != nil {
		return err
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	ctx := r.Context()
	vis, err := h.visibility(ctx)
	if err != nil {
		return err
	}
	sreq := search.RunsRequest{ExperimentIDs: vis.filter(expIDs), Filter: req.Filter, OrderBy: req.OrderBy,
		Offset: offset, Limit: limit + 1}
	if req.RunViewType != nil {
		sreq.ViewType = string(*req.RunViewType)
	}
	var resp struct {
		Runs          []Run  `json:"runs,omitempty"`
		NextPageToken string `json:"next_page_token,omitempty"`
	}
	if len(sreq.ExperimentIDs) == 0 {
		// Nothing to search, but a malformed filter is still an error.
		if _, err := search.Runs(sreq); err != nil {
			return err
		}
		return reply(w, resp)
	}
	// RunIDs plans the search: a selective filter drives it through its
	// index instead of walking the experiments' runs in order.
	ids, err := search.RunIDs(ctx, h.db, sreq)
	if err != nil {
		return err
	}
	if len(ids) > limit {
		ids = ids[:limit]
		resp.NextPageToken = search.EncodePageToken(offset + limit)
	}
	if resp.Runs, err = loadRuns(ctx, h.q(), ids); err != nil {
		return err
	}
	return reply(w, resp)
}
