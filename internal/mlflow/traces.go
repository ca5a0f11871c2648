package mlflow

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"path"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/search"
)

// Traces, as the MLflow 3 client logs them to a tracking server: when a
// traced call ends, StartTraceV3 stores the trace's info, and the answer's
// mlflow.artifactLocation tag tells the client where to upload the spans
// (traces.json, through the artifact proxy). Reading a trace is the
// reverse: the info from here, the spans from the artifact. A client that
// exports spans over OTLP first (otlp_ingest.go) finds the trace's spans
// in the tracking store instead (mlflow.trace.spansLocation TRACKING_STORE),
// uploads no artifact, and reads them with GetTrace (traces_spans.go).

// traceTagsOwned are tags only arca sets: where the spans are.
var traceTagsOwned = map[string]bool{
	traceArtifactLocationTag:       true,
	traceSpansLocationTag:          true,
	"mlflow.trace.archiveLocation": true,
	"mlflow.trace.archivalFailure": true,
}

// validTraceID accepts the IDs clients generate ("tr-<32 hex>", and
// longer forms), refusing what cannot sit in a URL path segment.
func validTraceID(id string) error {
	if id == "" || len(id) > 256 || strings.ContainsFunc(id, func(c rune) bool { return c <= ' ' || c == '/' || c == '\\' || c == 0x7f }) {
		return invalidParam("invalid trace ID %q", clipString(id))
	}
	return nil
}

func clipString(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// checkTraceTag validates a tag set on a trace (SetTraceTag) as MLflow's
// store does and returns the value, truncated to MLflow's limit.
func checkTraceTag(key, value string) (string, error) {
	if key != "" && !validTraceTagKey(key) {
		return "", invalidParam("invalid value %q for parameter 'key' supplied: names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colon(:) and slashes (/), and must not resolve to other names when treated as paths", clipString(key))
	}
	return checkTraceTagSize(key, value)
}

// checkTraceTagSize applies MLflow's limits of trace tags: all that
// StartTrace checks of the tags a client logs with a trace, which MLflow
// stores whatever their names.
func checkTraceTagSize(key, value string) (string, error) {
	if key == "" {
		return "", invalidParam("missing value for required parameter 'key'")
	}
	if utf8.RuneCountInString(key) > maxTraceTagKey {
		return "", invalidParam("'key' exceeds the maximum length of %d characters", maxTraceTagKey)
	}
	n := utf8.RuneCountInString(value)
	if key == traceNameTag && n > maxTraceName {
		return "", invalidParam("Trace name exceeds the maximum length of %d characters", maxTraceName)
	}
	if n > maxTraceTagValue {
		value = string([]rune(value)[:maxTraceTagValue])
	}
	return value, nil
}

// validTraceTagKey is MLflow's rule for tag names: letters, digits, "_",
// "-", ".", " ", ":" and "/", and a name that is its own clean path.
func validTraceTagKey(k string) bool {
	for _, c := range k {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("_-. :/", c) {
			return false
		}
	}
	c := path.Clean(k)
	return c == k && c != "." && !strings.HasPrefix(c, "..") && !strings.HasPrefix(c, "/")
}

// parseTraceExperimentID reads an experiment ID as the client sends it.
func parseTraceExperimentID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 0 {
		return 0, invalidParam("invalid experiment ID %q", clipString(s))
	}
	return id, nil
}

type traceReply struct {
	Trace traceMessage `json:"trace"`
}

// startTrace is StartTraceV3 (POST /api/3.0/mlflow/traces).
func (h *Handler) startTrace(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Trace *struct {
			TraceInfo *traceInfo `json:"trace_info"`
		} `json:"trace"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Trace == nil || req.Trace.TraceInfo == nil {
		return invalidParam("missing value for required parameter 'trace'")
	}
	info := req.Trace.TraceInfo
	if err := validTraceID(info.TraceID); err != nil {
		return err
	}
	loc := info.TraceLocation.MlflowExperiment
	if loc == nil || loc.ExperimentID == "" {
		return invalidParam("a trace must be located in an experiment (trace_location.mlflow_experiment.experiment_id)")
	}
	expID, err := parseTraceExperimentID(loc.ExperimentID)
	if err != nil {
		return err
	}
	if err := h.requireExperiment(ctx, expID, Edit); err != nil {
		return err
	}
	var location, stage string
	err = h.db.QueryRowContext(ctx, `SELECT artifact_location, lifecycle_stage FROM mlflow_experiments WHERE id = $1`, expID).Scan(&location, &stage)
	if errors.Is(err, sql.ErrNoRows) {
		return notExist("No Experiment with id=%d exists", expID)
	}
	if err != nil {
		return meta.Err(err)
	}
	if stage != "active" {
		return invalidParam("The experiment %d must be in the 'active' state. Current state is %s.", expID, stage)
	}
	if info.State == "" {
		info.State = "STATE_UNSPECIFIED"
	}
	if !traceStates[info.State] {
		return invalidParam("invalid trace state %q", clipString(info.State))
	}
	tags := make(map[string]string, len(info.Tags)+1)
	for k, v := range info.Tags {
		if traceTagsOwned[k] {
			continue
		}
		if tags[k], err = checkTraceTagSize(k, v); err != nil {
			return err
		}
	}
	tags[traceArtifactLocationTag] = traceArtifactLocation(location, info.TraceID)
	info.Tags = tags
	if err := h.saveTrace(ctx, &storedTrace{info: *info, experimentID: expID}); err != nil {
		return err
	}
	t, err := h.loadTrace(ctx, info.TraceID)
	if err != nil {
		return err
	}
	return reply(w, traceReply{traceMessage{t.info}})
}

// readableTrace loads a trace the caller may read.
func (h *Handler) readableTrace(ctx context.Context, id string) (*storedTrace, error) {
	t, err := h.loadTrace(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := h.requireExperiment(ctx, t.experimentID, Read); err != nil {
		return nil, err
	}
	return t, nil
}

// getTraceInfo is GetTraceInfoV3 (GET /api/3.0/mlflow/traces/<id>).
func (h *Handler) getTraceInfo(w http.ResponseWriter, r *http.Request) error {
	t, err := h.readableTrace(r.Context(), r.PathValue("trace_id"))
	if err != nil {
		return err
	}
	return reply(w, traceReply{traceMessage{t.info}})
}

// Search page sizes of SearchTracesV3.
const (
	defaultTraceResults = 100
	maxTraceResults     = 500
)

// searchTraces is SearchTracesV3 (POST /api/3.0/mlflow/traces/search).
func (h *Handler) searchTraces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Locations  []traceLocation `json:"locations"`
		Filter     string          `json:"filter"`
		MaxResults *Int64          `json:"max_results"`
		OrderBy    []string        `json:"order_by"`
		PageToken  string          `json:"page_token"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	var experiments []int64
	for _, l := range req.Locations {
		if l.MlflowExperiment == nil {
			return invalidParam("arca searches traces of experiments only (locations[].mlflow_experiment)")
		}
		id, err := parseTraceExperimentID(l.MlflowExperiment.ExperimentID)
		if err != nil {
			return err
		}
		experiments = append(experiments, id)
	}
	if len(experiments) == 0 {
		return invalidParam("missing value for required parameter 'locations'")
	}
	limit := defaultTraceResults
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > maxTraceResults {
			return invalidParam("max_results must be between 1 and %d, got %d", maxTraceResults, *req.MaxResults)
		}
		limit = int(*req.MaxResults)
	}
	for _, id := range experiments {
		if err := h.requireExperiment(ctx, id, Read); err != nil {
			return err
		}
	}
	offset, err := search.DecodePageToken(req.PageToken)
	if err != nil {
		return err
	}
	q, err := search.Traces(search.TracesRequest{ExperimentIDs: experiments, Filter: req.Filter, OrderBy: req.OrderBy,
		Offset: offset, Limit: limit + 1, Postgres: h.db.Dialect == meta.Postgres})
	if err != nil {
		return err
	}
	ids, err := h.traceIDs(ctx, q)
	if err != nil {
		return err
	}
	var res struct {
		Traces        []traceInfo `json:"traces,omitempty"`
		NextPageToken string      `json:"next_page_token,omitempty"`
	}
	if len(ids) > limit {
		ids = ids[:limit]
		res.NextPageToken = search.EncodePageToken(offset + limit)
	}
	found, err := h.loadTraces(ctx, ids)
	if err != nil {
		return err
	}
	for _, t := range found {
		res.Traces = append(res.Traces, t.info)
	}
	return reply(w, res)
}

// traceIDs runs a search query that selects trace IDs.
func (h *Handler) traceIDs(ctx context.Context, q search.Query) ([]string, error) {
	rows, err := h.db.QueryContext(ctx, q.SQL, q.Args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, meta.Err(err)
		}
		ids = append(ids, id)
	}
	return ids, meta.Err(rows.Err())
}

// deleteTraces is DeleteTraces: by IDs, or the oldest traces up to a time
// (at most max_traces of them). The traces' span data goes with them.
func (h *Handler) deleteTraces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		ExperimentID       string   `json:"experiment_id"`
		MaxTimestampMillis *Int64   `json:"max_timestamp_millis"`
		MaxTraces          *Int64   `json:"max_traces"`
		RequestIDs         []string `json:"request_ids"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.ExperimentID == "" {
		return invalidParam("missing value for required parameter 'experiment_id'")
	}
	expID, err := parseTraceExperimentID(req.ExperimentID)
	if err != nil {
		return err
	}
	switch {
	case req.MaxTimestampMillis == nil && len(req.RequestIDs) == 0:
		return invalidParam("Either `max_timestamp_millis` or `trace_ids` must be specified.")
	case req.MaxTimestampMillis != nil && len(req.RequestIDs) > 0:
		return invalidParam("Only one of `max_timestamp_millis` and `trace_ids` can be specified.")
	case len(req.RequestIDs) > 0 && req.MaxTraces != nil:
		return invalidParam("`max_traces` can't be specified if `trace_ids` is specified.")
	case req.MaxTraces != nil && *req.MaxTraces <= 0:
		return invalidParam("`max_traces` must be a positive integer, received %d.", *req.MaxTraces)
	}
	if err := h.requireExperiment(ctx, expID, Manage); err != nil {
		return err
	}
	var maxTime *int64
	if req.MaxTimestampMillis != nil {
		v := int64(*req.MaxTimestampMillis)
		maxTime = &v
	}
	var limit int64
	if req.MaxTraces != nil {
		limit = int64(*req.MaxTraces)
	}
	n, locations, err := h.deleteTraceRows(ctx, expID, req.RequestIDs, maxTime, limit)
	if err != nil {
		return err
	}
	h.deleteTraceData(ctx, locations)
	if n > 0 {
		h.recordArtifact(r, "mlflow.traces.delete", strconv.FormatInt(expID, 10), map[string]any{"traces": n})
	}
	return reply(w, struct {
		TracesDeleted int64 `json:"traces_deleted"`
	}{n})
}

// deleteTraceData removes the span data of deleted traces from the
// artifact bucket. It is best effort: the traces are gone either way, and
// what is left is only unreferenced objects.
func (h *Handler) deleteTraceData(ctx context.Context, locations []string) {
	if len(locations) == 0 {
		return
	}
	bucket, err := h.artifactBucket(ctx)
	if err != nil {
		h.log.WarnContext(ctx, "deleting trace data", "err", err)
		return
	}
	for _, loc := range locations {
		key, ok := proxiedKey(loc)
		if !ok || key == "" {
			continue
		}
		if _, err := cleanArtifactPath(key); err != nil {
			continue
		}
		if _, err := h.deleteArtifactTree(ctx, bucket, key); err != nil {
			h.log.WarnContext(ctx, "deleting trace data", "location", loc, "err", err)
			return
		}
	}
}

// editableTrace returns the experiment of a trace the caller may edit.
func (h *Handler) editableTrace(ctx context.Context, id string) (int64, error) {
	exp, err := h.traceExperiment(ctx, id)
	if err != nil {
		return 0, err
	}
	return exp, h.requireExperiment(ctx, exp, Edit)
}

// setTraceTag is SetTraceTag (v2) and SetTraceTagV3.
func (h *Handler) setTraceTag(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Key   string `json:"key"`
		Value string `json:"value"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("trace_id")
	value, err := checkTraceTag(req.Key, req.Value)
	if err != nil {
		return err
	}
	if traceTagsOwned[req.Key] {
		return invalidParam("Tag '%s' is immutable and cannot be set on a trace.", req.Key)
	}
	if _, err := h.editableTrace(ctx, id); err != nil {
		return err
	}
	if err := upsertTraceTag(ctx, h.db, id, req.Key, value); err != nil {
		if errs.Is(err, errs.Invalid) { // the trace was deleted meanwhile
			return notExist("Trace with ID '%s' not found.", id)
		}
		return err
	}
	return reply(w, nil)
}

// deleteTraceTag is DeleteTraceTag (v2) and DeleteTraceTagV3.
func (h *Handler) deleteTraceTag(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		Key string `json:"key"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	id := r.PathValue("trace_id")
	if req.Key == "" {
		return invalidParam("missing value for required parameter 'key'")
	}
	if traceTagsOwned[req.Key] && req.Key != "mlflow.trace.archivalFailure" {
		return invalidParam("Tag '%s' is immutable and cannot be deleted on a trace.", req.Key)
	}
	if _, err := h.editableTrace(ctx, id); err != nil {
		return err
	}
	res, err := h.db.ExecContext(ctx, `DELETE FROM mlflow_trace_tags WHERE trace_id = $1 AND key = $2`, id, req.Key)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notExist("No trace tag with key '%s' for trace with ID '%s'", req.Key, id)
	}
	return reply(w, nil)
}

// batchGetTraceInfos is BatchGetTraceInfos: the infos of the listed
// traces that exist (and, when experiment_ids is given, lie in one of
// them), in the order asked.
func (h *Handler) batchGetTraceInfos(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		TraceIDs      []string `json:"trace_ids"`
		ExperimentIDs []string `json:"experiment_ids"`
	}
	if err := decode(r, &req); err != nil {
		return err
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
	var res struct {
		TraceInfos []traceInfo `json:"trace_infos,omitempty"`
	}
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
		res.TraceInfos = append(res.TraceInfos, t.info)
	}
	return reply(w, res)
}

// linkTracesToRun is LinkTracesToRun: traces (at most 100) become
// associated with a run, so that searches on the run's ID find them.
func (h *Handler) linkTracesToRun(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var req struct {
		TraceIDs []string `json:"trace_ids"`
		RunID    string   `json:"run_id"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.RunID == "" {
		return invalidParam("missing value for required parameter 'run_id'")
	}
	if len(req.TraceIDs) > maxTraceLinks {
		return invalidParam("Cannot link more than %d traces to a run in a single request. Provided %d traces.", maxTraceLinks, len(req.TraceIDs))
	}
	var runExp int64
	var stage string
	err := h.db.QueryRowContext(ctx, `SELECT experiment_id, lifecycle_stage FROM mlflow_runs WHERE run_uuid = $1`, req.RunID).Scan(&runExp, &stage)
	if errors.Is(err, sql.ErrNoRows) {
		return notExist("Run with id=%s not found", req.RunID)
	}
	if err != nil {
		return meta.Err(err)
	}
	if err := h.requireExperiment(ctx, runExp, Edit); err != nil {
		return err
	}
	if stage != "active" {
		return invalidState("The run %s must be in the 'active' state. Current state is %s.", req.RunID, stage)
	}
	found, err := h.loadTraces(ctx, req.TraceIDs)
	if err != nil {
		return err
	}
	checked := map[int64]bool{runExp: true}
	for _, t := range found {
		if !checked[t.experimentID] {
			if err := h.requireExperiment(ctx, t.experimentID, Read); err != nil {
				return err
			}
			checked[t.experimentID] = true
		}
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		for _, t := range found {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_trace_runs (trace_id, run_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING`,
				t.info.TraceID, req.RunID); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return reply(w, nil)
}
