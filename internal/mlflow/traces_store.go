package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// Trace rows: mlflow_traces (the info), mlflow_trace_tags, and
// mlflow_trace_runs (links to runs).

// storedTrace is a trace's row with its experiment as a number.
type storedTrace struct {
	info         traceInfo
	experimentID int64
}

const traceColumns = `trace_id, experiment_id, client_request_id, request_time, execution_duration, state,
	request_preview, response_preview, trace_metadata, assessments`

func scanTrace(row interface{ Scan(...any) error }) (*storedTrace, error) {
	var t storedTrace
	var metadata, assessments string
	var duration int64
	err := row.Scan(&t.info.TraceID, &t.experimentID, &t.info.ClientRequestID, &t.info.RequestTime, &duration, &t.info.State,
		&t.info.RequestPreview, &t.info.ResponsePreview, &metadata, &assessments)
	if err != nil {
		return nil, err
	}
	t.info.TraceLocation = experimentTraceLocation(t.experimentID)
	d := protoDuration(duration)
	t.info.ExecutionDuration = &d
	if metadata != "" && metadata != "{}" {
		json.Unmarshal([]byte(metadata), &t.info.TraceMetadata)
	}
	if assessments != "" && assessments != "[]" {
		t.info.Assessments = json.RawMessage(assessments)
	}
	return &t, nil
}

// traceParams returns "$from, $from+1, ..." for n arguments.
func traceParams(from, n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(from+i))
	}
	return b.String()
}

// traceBatch bounds the IDs of one IN list.
const traceBatch = 500

// loadTraces returns the traces with the given IDs, with their tags, in
// the order of ids; IDs without a trace are skipped.
func (h *Handler) loadTraces(ctx context.Context, ids []string) ([]*storedTrace, error) {
	byID := make(map[string]*storedTrace, len(ids))
	for start := 0; start < len(ids); start += traceBatch {
		chunk := ids[start:min(start+traceBatch, len(ids))]
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		in := traceParams(1, len(chunk))
		if err := h.scanTraceRows(ctx, byID, `SELECT `+traceColumns+` FROM mlflow_traces WHERE trace_id IN (`+in+`)`, args); err != nil {
			return nil, err
		}
		rows, err := h.db.QueryContext(ctx, `SELECT trace_id, key, value FROM mlflow_trace_tags WHERE trace_id IN (`+in+`)`, args...)
		if err != nil {
			return nil, meta.Err(err)
		}
		for rows.Next() {
			var id, k, v string
			if err := rows.Scan(&id, &k, &v); err != nil {
				rows.Close()
				return nil, meta.Err(err)
			}
			if t := byID[id]; t != nil {
				if t.info.Tags == nil {
					t.info.Tags = map[string]string{}
				}
				t.info.Tags[k] = v
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, meta.Err(err)
		}
		if err := h.attachAssessments(ctx, byID, in, args); err != nil {
			return nil, err
		}
	}
	out := make([]*storedTrace, 0, len(ids))
	for _, id := range ids {
		if t := byID[id]; t != nil {
			out = append(out, t)
			delete(byID, id) // an ID listed twice is answered once
		}
	}
	return out, nil
}

func (h *Handler) scanTraceRows(ctx context.Context, into map[string]*storedTrace, query string, args []any) error {
	rows, err := h.db.QueryContext(ctx, query, args...)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTrace(rows)
		if err != nil {
			return meta.Err(err)
		}
		into[t.info.TraceID] = t
	}
	return meta.Err(rows.Err())
}

// loadTrace returns one trace, or RESOURCE_DOES_NOT_EXIST with MLflow's
// own message (the client recognises "Trace with ID 'get' not found" from
// servers without GetTrace).
func (h *Handler) loadTrace(ctx context.Context, id string) (*storedTrace, error) {
	ts, err := h.loadTraces(ctx, []string{id})
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, notExist("Trace with ID '%s' not found.", id)
	}
	return ts[0], nil
}

// traceExperiment returns the experiment of a trace.
func (h *Handler) traceExperiment(ctx context.Context, id string) (int64, error) {
	var exp int64
	err := h.db.QueryRowContext(ctx, `SELECT experiment_id FROM mlflow_traces WHERE trace_id = $1`, id).Scan(&exp)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notExist("Trace with ID '%s' not found.", id)
	}
	return exp, meta.Err(err)
}

// saveTrace creates a trace, or updates it when a trace of that ID already
// exists in the same experiment (a client retrying StartTrace): its fields
// are replaced and its tags merged. A trace of that ID in another
// experiment is RESOURCE_ALREADY_EXISTS.
func (h *Handler) saveTrace(ctx context.Context, t *storedTrace) error {
	metadata, _ := json.Marshal(t.info.TraceMetadata)
	if len(t.info.TraceMetadata) == 0 {
		metadata = []byte("{}")
	}
	assessments := "[]"
	if len(t.info.Assessments) > 0 {
		assessments = string(t.info.Assessments)
	}
	var duration int64
	if t.info.ExecutionDuration != nil {
		duration = int64(*t.info.ExecutionDuration)
	}
	return h.db.WithTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO mlflow_traces (`+traceColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (trace_id) DO UPDATE SET client_request_id = excluded.client_request_id,
			  request_time = excluded.request_time, execution_duration = excluded.execution_duration,
			  state = excluded.state, request_preview = excluded.request_preview,
			  response_preview = excluded.response_preview, trace_metadata = excluded.trace_metadata,
			  assessments = excluded.assessments
			WHERE mlflow_traces.experiment_id = excluded.experiment_id`,
			t.info.TraceID, t.experimentID, t.info.ClientRequestID, int64(t.info.RequestTime), duration, t.info.State,
			t.info.RequestPreview, t.info.ResponsePreview, string(metadata), assessments)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return alreadyExists("a trace with ID '%s' already exists in another experiment", t.info.TraceID)
		}
		for k, v := range t.info.Tags {
			if err := upsertTraceTag(ctx, tx, t.info.TraceID, k, v); err != nil {
				return err
			}
		}
		return nil
	})
}

func upsertTraceTag(ctx context.Context, tx interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, id, key, value string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO mlflow_trace_tags (trace_id, key, value) VALUES ($1, $2, $3)
		ON CONFLICT (trace_id, key) DO UPDATE SET value = excluded.value`, id, key, value)
	return meta.Err(err)
}

// deleteTraceRows deletes the traces of an experiment that ids lists (when
// not empty) or that started at or before maxTime (oldest first, at most
// limit when limit > 0). It returns how many went and their artifact
// locations, whose span data the caller removes.
func (h *Handler) deleteTraceRows(ctx context.Context, experimentID int64, ids []string, maxTime *int64, limit int64) (int64, []string, error) {
	var locations []string
	var deleted int64
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		locations, deleted = locations[:0], 0
		var chunks [][]any
		if len(ids) > 0 {
			for start := 0; start < len(ids); start += traceBatch {
				var args []any
				for _, id := range ids[start:min(start+traceBatch, len(ids))] {
					args = append(args, id)
				}
				chunks = append(chunks, args)
			}
		} else {
			q := `SELECT trace_id FROM mlflow_traces WHERE experiment_id = $1 AND request_time <= $2 ORDER BY request_time, trace_id`
			if limit > 0 {
				q += ` LIMIT ` + strconv.FormatInt(limit, 10)
			}
			selected, err := traceStrings(ctx, tx, q, experimentID, *maxTime)
			if err != nil {
				return err
			}
			for start := 0; start < len(selected); start += traceBatch {
				var args []any
				for _, id := range selected[start:min(start+traceBatch, len(selected))] {
					args = append(args, id)
				}
				chunks = append(chunks, args)
			}
		}
		for _, args := range chunks {
			in := traceParams(2, len(args))
			all := append([]any{experimentID}, args...)
			locs, err := traceStrings(ctx, tx, `SELECT g.value FROM mlflow_trace_tags g JOIN mlflow_traces t ON t.trace_id = g.trace_id
				WHERE t.experiment_id = $1 AND g.key = '`+traceArtifactLocationTag+`' AND g.trace_id IN (`+in+`)`, all...)
			if err != nil {
				return err
			}
			locations = append(locations, locs...)
			res, err := tx.ExecContext(ctx, `DELETE FROM mlflow_traces WHERE experiment_id = $1 AND trace_id IN (`+in+`)`, all...)
			if err != nil {
				return meta.Err(err)
			}
			n, _ := res.RowsAffected()
			deleted += n
		}
		return nil
	})
	return deleted, locations, err
}

// traceStrings runs a query of one text column.
func traceStrings(ctx context.Context, tx *sql.Tx, q string, args ...any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, s)
	}
	return out, meta.Err(rows.Err())
}
