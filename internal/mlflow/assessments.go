package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Trace assessments (MLflow 3's mlflow.log_feedback, log_expectation,
// update_assessment, delete_assessment): rows of mlflow_assessments, one
// per assessment, answered inside their trace's info too. They follow
// their trace's experiment: reading needs READ, the rest EDIT. Creating an
// assessment that overrides another marks the other invalid; deleting it
// makes the other valid again (mlflow/store/tracking/sqlalchemy_store.py).

type assessmentReply struct {
	Assessment assessment `json:"assessment"`
}

// assessmentNotFound is MLflow's answer for an unknown assessment.
func assessmentNotFound(traceID, id string) error {
	return notExist("Assessment with ID '%s' not found for trace '%s'", id, traceID)
}

// createAssessment is CreateAssessment (POST traces/<id>/assessments).
func (h *Handler) createAssessment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Assessment json.RawMessage `json:"assessment"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	traceID := r.PathValue("trace_id")
	if _, err := h.editableTrace(ctx, traceID); err != nil {
		return err
	}
	a, kind, err := parseAssessment(req.Assessment)
	if err != nil {
		return err
	}
	now := protoTimestamp(meta.Now())
	a.TraceID = traceID
	a.AssessmentID = "a-" + randomHex(16)
	if a.CreateTime == nil {
		a.CreateTime = &now
	}
	a.LastUpdateTime = a.CreateTime
	valid := a.Valid == nil || *a.Valid
	a.Valid = nil
	body, err := json.Marshal(a)
	if err != nil {
		return err
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if a.Overrides != "" {
			res, err := tx.ExecContext(ctx, `UPDATE mlflow_assessments SET valid = 0 WHERE trace_id = $1 AND assessment_id = $2`, traceID, a.Overrides)
			if err != nil {
				return meta.Err(err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return assessmentNotFound(traceID, a.Overrides)
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_assessments (assessment_id, trace_id, name, kind, body, create_time, last_update_time, overrides, valid)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7, $8)`, a.AssessmentID, traceID, a.AssessmentName, kind, string(body), int64(*a.CreateTime), a.Overrides, boolInt(valid))
		err = meta.Err(err)
		if errs.Is(err, errs.Invalid) { // the trace was deleted meanwhile
			return notExist("Trace with ID '%s' not found. It may have been deleted.", traceID)
		}
		return err
	})
	if err != nil {
		return err
	}
	a.Valid = &valid
	return reply(w, assessmentReply{a})
}

// getAssessment is GetAssessmentRequest (GET traces/<id>/assessments/<id>).
func (h *Handler) getAssessment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	traceID := r.PathValue("trace_id")
	exp, err := h.traceExperiment(ctx, traceID)
	if err != nil {
		return err
	}
	if err := h.requireExperiment(ctx, exp, Read); err != nil {
		return err
	}
	a, _, err := loadAssessment(ctx, h.db, traceID, r.PathValue("assessment_id"))
	if err != nil {
		return err
	}
	return reply(w, assessmentReply{a})
}

// updateAssessment is UpdateAssessment (PATCH traces/<id>/assessments/<id>):
// the fields the update mask names.
func (h *Handler) updateAssessment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Assessment json.RawMessage `json:"assessment"`
		UpdateMask *string         `json:"update_mask"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	traceID, id := r.PathValue("trace_id"), r.PathValue("assessment_id")
	if _, err := h.editableTrace(ctx, traceID); err != nil {
		return err
	}
	if !present(req.Assessment) {
		return invalidParam("Missing value for required parameter 'assessment'.")
	}
	if req.UpdateMask == nil {
		return invalidParam("Missing value for required parameter 'update_mask'.")
	}
	var upd assessment
	if err := json.Unmarshal(req.Assessment, &upd); err != nil {
		return jsonError(err)
	}
	var out assessment
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		cur, kind, err := loadAssessment(ctx, tx, traceID, id)
		if err != nil {
			return err
		}
		valid := cur.Valid
		cur.Valid = nil
		out, err = applyUpdate(cur, kind, upd, parseUpdateMask(*req.UpdateMask))
		if err != nil {
			return err
		}
		now := protoTimestamp(meta.Now())
		out.LastUpdateTime = &now
		body, err := json.Marshal(out)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE mlflow_assessments SET name = $1, body = $2, last_update_time = $3
			WHERE trace_id = $4 AND assessment_id = $5`, out.AssessmentName, string(body), int64(now), traceID, id)
		out.Valid = valid
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, assessmentReply{out})
}

// deleteAssessment is DeleteAssessment: deleting an assessment that is
// not there succeeds, as in MLflow.
func (h *Handler) deleteAssessment(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	traceID, id := r.PathValue("trace_id"), r.PathValue("assessment_id")
	if _, err := h.editableTrace(ctx, traceID); err != nil {
		return err
	}
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		var overrides string
		err := tx.QueryRowContext(ctx, `SELECT overrides FROM mlflow_assessments WHERE trace_id = $1 AND assessment_id = $2`, traceID, id).Scan(&overrides)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return meta.Err(err)
		}
		if overrides != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE mlflow_assessments SET valid = 1 WHERE trace_id = $1 AND assessment_id = $2`, traceID, overrides); err != nil {
				return meta.Err(err)
			}
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM mlflow_assessments WHERE trace_id = $1 AND assessment_id = $2`, traceID, id)
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}

// loadAssessment reads one assessment of a trace and its kind.
func loadAssessment(ctx context.Context, q meta.Querier, traceID, id string) (assessment, string, error) {
	var a assessment
	var body, kind string
	var valid int64
	err := q.QueryRowContext(ctx, `SELECT body, kind, valid FROM mlflow_assessments WHERE trace_id = $1 AND assessment_id = $2`,
		traceID, id).Scan(&body, &kind, &valid)
	if errors.Is(err, sql.ErrNoRows) {
		return a, "", assessmentNotFound(traceID, id)
	}
	if err != nil {
		return a, "", meta.Err(err)
	}
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		return a, "", meta.Err(err)
	}
	v := valid != 0
	a.Valid = &v
	return a, kind, nil
}

// attachAssessments adds the assessments of the traces in byID whose IDs
// are args (an IN list of placeholders in), oldest first, to each trace
// info's assessments (after those the client sent with the trace).
func (h *Handler) attachAssessments(ctx context.Context, byID map[string]*storedTrace, in string, args []any) error {
	rows, err := h.db.QueryContext(ctx, `SELECT trace_id, body, valid FROM mlflow_assessments WHERE trace_id IN (`+in+`)
		ORDER BY create_time, assessment_id`, args...)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	found := map[string][]json.RawMessage{}
	for rows.Next() {
		var id, body string
		var valid int64
		if err := rows.Scan(&id, &body, &valid); err != nil {
			return meta.Err(err)
		}
		var a assessment
		if err := json.Unmarshal([]byte(body), &a); err != nil {
			return meta.Err(err)
		}
		v := valid != 0
		a.Valid = &v
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		found[id] = append(found[id], b)
	}
	if err := rows.Err(); err != nil {
		return meta.Err(err)
	}
	for id, list := range found {
		t := byID[id]
		if t == nil {
			continue
		}
		var all []json.RawMessage
		if len(t.info.Assessments) > 0 {
			json.Unmarshal(t.info.Assessments, &all)
		}
		all = append(all, list...)
		b, err := json.Marshal(all)
		if err != nil {
			return err
		}
		t.info.Assessments = b
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
