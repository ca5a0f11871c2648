package mlflow

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Reading traces with their spans: GetTrace and BatchGetTraces, which the
// client calls for traces whose spans are in the tracking store
// (mlflow.trace.spansLocation TRACKING_STORE, what OTLP export stores).
// Spans are answered as OTLP protobuf JSON, as MLflow's Trace message
// carries them.

// fullTrace is the Trace message with its spans.
type fullTrace struct {
	TraceInfo traceInfo         `json:"trace_info"`
	Spans     []json.RawMessage `json:"spans"`
}

// maxBatchTraces bounds the IDs of one BatchGetTraces (the client asks for
// 10 at a time).
const maxBatchTraces = 100

// getTrace is GetTrace (GET /api/3.0/mlflow/traces/get).
func (h *Handler) getTrace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		TraceID      string `json:"trace_id"`
		AllowPartial *Bool  `json:"allow_partial"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.TraceID == "" {
		return invalidParam("missing value for required parameter 'trace_id'")
	}
	t, err := h.readableTrace(ctx, req.TraceID)
	if err != nil {
		return err
	}
	traces, err := h.withSpans(ctx, []*storedTrace{t})
	if err != nil {
		return err
	}
	return reply(w, struct {
		Trace fullTrace `json:"trace"`
	}{traces[0]})
}

// batchGetTraces is BatchGetTraces (GET /api/3.0/mlflow/traces/batchGet):
// the listed traces that exist (and lie in experiment_ids, when given),
// with their spans.
func (h *Handler) batchGetTraces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		TraceIDs      []string `json:"trace_ids"`
		ExperimentIDs []string `json:"experiment_ids"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if len(req.TraceIDs) == 0 {
		return invalidParam("missing value for required parameter 'trace_ids'")
	}
	if len(req.TraceIDs) > maxBatchTraces {
		return invalidParam("at most %d trace_ids may be asked for at once, got %d", maxBatchTraces, len(req.TraceIDs))
	}
	var within map[int64]bool
	if len(req.ExperimentIDs) > 0 {
		within = map[int64]bool{}
		for _, s := range req.ExperimentIDs {
			id, err := parseTraceExperimentID(s)
			if err != nil {
				return err
			}
			within[id] = true
		}
	}
	found, err := h.loadTraces(ctx, req.TraceIDs)
	if err != nil {
		return err
	}
	var kept []*storedTrace
	checked := map[int64]bool{}
	for _, t := range found {
		if within != nil && !within[t.experimentID] {
			continue
		}
		if !checked[t.experimentID] {
			if err := h.requireExperiment(ctx, t.experimentID, Read); err != nil {
				return err
			}
			checked[t.experimentID] = true
		}
		kept = append(kept, t)
	}
	res := struct {
		Traces []fullTrace `json:"traces"`
	}{Traces: []fullTrace{}}
	if res.Traces, err = h.withSpans(ctx, kept); err != nil {
		return err
	}
	return reply(w, res)
}

// withSpans returns the traces with their stored spans, each trace's spans
// in order of start.
func (h *Handler) withSpans(ctx context.Context, traces []*storedTrace) ([]fullTrace, error) {
	out := make([]fullTrace, 0, len(traces))
	if len(traces) == 0 {
		return out, nil
	}
	args := make([]any, len(traces))
	for i, t := range traces {
		args[i] = t.info.TraceID
	}
	rows, err := h.db.QueryContext(ctx, `SELECT trace_id, content FROM mlflow_trace_spans WHERE trace_id IN (`+traceParams(1, len(args))+`)
		ORDER BY trace_id, start_time_ns, span_id`, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	spans := map[string][]json.RawMessage{}
	for rows.Next() {
		var id, content string
		if err := rows.Scan(&id, &content); err != nil {
			return nil, meta.Err(err)
		}
		spans[id] = append(spans[id], json.RawMessage(content))
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	for _, t := range traces {
		s := spans[t.info.TraceID]
		if s == nil {
			s = []json.RawMessage{}
		}
		out = append(out, fullTrace{TraceInfo: t.info, Spans: s})
	}
	return out, nil
}

// unquote is the text of a stored attribute value: a JSON string's
// content, anything else as it is (MLflow's _try_parse_json_string).
func unquote(v string) string {
	var s string
	if json.Unmarshal([]byte(v), &s) == nil {
		return s
	}
	return v
}

func jsonUnmarshalString(s string, v any) { _ = json.Unmarshal([]byte(s), v) }

func metadataJSON(v map[string]string) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// maxLinkedPrompts bounds the prompt versions of one LinkPromptsToTrace.
const maxLinkedPrompts = 100

// linkPromptsToTrace is LinkPromptsToTrace (POST .../traces/link-prompts):
// the client reports the prompt versions a traced call loaded. It needs
// EDIT on the trace's experiment, as MLflow's auth asks; the prompts need
// not exist, as in MLflow. A traces search finds the links with
// prompt = "name/version".
func (h *Handler) linkPromptsToTrace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		TraceID        string `json:"trace_id"`
		PromptVersions []struct {
			Name    string `json:"name"`
			Version string `json:"version"`
		} `json:"prompt_versions"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.TraceID == "" {
		return invalidParam("missing value for required parameter 'trace_id'")
	}
	if len(req.PromptVersions) == 0 {
		return invalidParam("missing value for required parameter 'prompt_versions'")
	}
	if len(req.PromptVersions) > maxLinkedPrompts {
		return invalidParam("at most %d prompt versions may be linked at once, got %d", maxLinkedPrompts, len(req.PromptVersions))
	}
	for _, pv := range req.PromptVersions {
		if pv.Name == "" || len(pv.Name) > 256 || strings.Contains(pv.Name, "/") {
			return invalidParam("invalid prompt name %q", clipString(pv.Name))
		}
		if n, err := strconv.ParseInt(pv.Version, 10, 64); err != nil || n < 1 {
			return invalidParam("invalid version %q of prompt %q: want a positive integer", clipString(pv.Version), pv.Name)
		}
	}
	if _, err := h.editableTrace(ctx, req.TraceID); err != nil {
		return err
	}
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, pv := range req.PromptVersions {
			v, _ := strconv.ParseInt(pv.Version, 10, 64)
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_trace_prompts (trace_id, prompt_name, prompt_version) VALUES ($1, $2, $3)
				ON CONFLICT DO NOTHING`, req.TraceID, pv.Name, strconv.FormatInt(v, 10)); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	if errs.Is(err, errs.Invalid) { // the trace was deleted meanwhile
		return notExist("Trace with ID '%s' not found.", req.TraceID)
	}
	if err != nil {
		return err
	}
	return reply(w, nil)
}
