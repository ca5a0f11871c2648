package mlflow

import (
	"context"
	"database/sql"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/mlflow/otlp"
)

// OTLP trace ingestion (POST /mlflow/v1/traces), as MLflow's server
// serves it (mlflow/server/otel_api.py): an OpenTelemetry exporter, or the
// mlflow client itself, sends ExportTraceServiceRequest as protobuf or
// JSON, naming the experiment in the x-mlflow-experiment-id header. Each
// OTLP trace becomes the MLflow trace "tr-<trace id hex>" of that
// experiment, created by its first spans; its spans are rows of
// mlflow_trace_spans, and its mlflow.trace.spansLocation tag says
// TRACKING_STORE, so the client reads them back with GetTrace and
// BatchGetTraces rather than from an artifact.

// Headers MLflow's OTLP endpoint reads.
const (
	otlpExperimentHeader = "X-Mlflow-Experiment-Id"
	otlpRunHeader        = "X-Mlflow-Run-Id"
)

// Bounds of one export: its body, and the body once inflated.
const (
	otlpMaxBody     = 16 << 20
	otlpMaxInflated = 64 << 20
)

// Trace tags and metadata OTLP spans set.
const (
	spansInTrackingStore  = "TRACKING_STORE"
	spanInputsAttr        = "mlflow.spanInputs"
	spanOutputsAttr       = "mlflow.spanOutputs"
	traceTagAttrPrefix    = "mlflow.traceTag."
	traceUserMetadata     = "mlflow.trace.user"
	traceSessionMetadata  = "mlflow.trace.session"
	maxTracePreview       = 1000
	otlpTraceSpanRejected = "trace %s belongs to another experiment"
)

// otlpSurfaceError renders errors of the OTLP route: a google.rpc.Status
// in the request's encoding.
func otlpSurfaceError(w http.ResponseWriter, r *http.Request, err error) {
	enc, _ := otlp.EncodingOf(r.Header.Get("Content-Type"))
	otlp.WriteError(w, enc, err)
}

// exportTraces is the OTLP/HTTP trace export. The caller needs EDIT on
// the experiment (write on the space by default); that is checked before
// the body is read. Spans that cannot be stored (malformed IDs, a trace of
// another experiment) are rejected one by one and counted in the answer's
// partial_success; the rest are stored in one transaction.
func (h *Handler) exportTraces(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	enc, err := otlp.EncodingOf(r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	header := r.Header.Get(otlpExperimentHeader)
	if header == "" {
		return errs.E(errs.Invalid, "missing header %s: name the experiment the spans go to", strings.ToLower(otlpExperimentHeader))
	}
	expID, err := parseTraceExperimentID(header)
	if err != nil {
		return err
	}
	if err := h.requireExperiment(ctx, expID, Edit); err != nil {
		return err
	}
	exp, err := experimentByID(ctx, h.db, expID)
	if err != nil {
		return err
	}
	if err := exp.mustBeActive(); err != nil {
		return err
	}
	body, err := otlp.ReadBody(r.Body, r.Header.Get("Content-Encoding"), otlp.Limits{Body: otlpMaxBody, Decompressed: otlpMaxInflated})
	if err != nil {
		return err
	}
	req, err := otlp.Decode(body, enc)
	if err != nil {
		return err
	}
	spans, rejected := otlp.Spans(req)
	completed, err := h.storeSpans(ctx, expID, exp.ArtifactLocation, spans, &rejected)
	if err != nil {
		return err
	}
	if run := r.Header.Get(otlpRunHeader); run != "" && len(completed) > 0 {
		h.linkExportedTraces(ctx, completed, run)
	}
	h.recordArtifact(r, "mlflow.traces.export", strconv.FormatInt(expID, 10), map[string]any{"spans": len(spans), "rejected": rejected.Spans})
	return otlp.WriteResponse(w, enc, rejected)
}

// traceSpans are the spans of one trace in an export, and what they say
// about the trace.
type traceSpans struct {
	id    string // tr-<hex>
	spans []otlp.Span
	root  *otlp.Span
	start int64 // ms
	end   int64 // ms, 0 when no span has ended
}

func groupSpans(spans []otlp.Span) []*traceSpans {
	byID := map[string]*traceSpans{}
	var out []*traceSpans
	for i := range spans {
		s := &spans[i]
		id := "tr-" + s.TraceID
		t := byID[id]
		if t == nil {
			t = &traceSpans{id: id, start: s.Start / 1e6}
			byID[id] = t
			out = append(out, t)
		}
		t.spans = append(t.spans, *s)
		t.start = min(t.start, s.Start/1e6)
		if s.End > 0 {
			t.end = max(t.end, s.End/1e6)
		}
		if s.Root() {
			t.root = s
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// storeSpans stores an export's spans in one transaction and returns the
// traces whose root span it held. Spans of a trace that lies in another
// experiment are added to rejected.
func (h *Handler) storeSpans(ctx context.Context, expID int64, location string, spans []otlp.Span, rejected *otlp.Rejected) ([]string, error) {
	traces := groupSpans(spans)
	var completed []string
	var refused otlp.Rejected
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		completed, refused = completed[:0], otlp.Rejected{}
		for _, t := range traces {
			ok, err := storeTraceSpans(ctx, tx, expID, location, t, h.db.Dialect == meta.Postgres)
			if err != nil {
				return err
			}
			if !ok {
				refused.Add(int64(len(t.spans)), otlpTraceSpanRejected, t.id)
				continue
			}
			if t.root != nil {
				completed = append(completed, t.id)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rejected.Add(refused.Spans, "%s", refused.Message)
	return completed, nil
}

// storeTraceSpans creates or updates one trace from its spans; false means
// the trace lies in another experiment and nothing was written. The
// client's StartTraceV3 for the same trace may run at the same time: the
// insert yields to it, and the row is then read locked and updated.
func storeTraceSpans(ctx context.Context, tx *sql.Tx, expID int64, location string, t *traceSpans, postgres bool) (bool, error) {
	state := "IN_PROGRESS"
	if t.root != nil {
		state = rootState(t.root)
	}
	duration := max(t.end-t.start, 0)
	var request, response string
	if t.root != nil {
		if v, ok := t.root.Attributes[spanInputsAttr]; ok {
			request = preview(v)
		}
		if v, ok := t.root.Attributes[spanOutputsAttr]; ok {
			response = preview(v)
		}
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO mlflow_traces (trace_id, experiment_id, request_time, execution_duration, state,
		request_preview, response_preview, trace_metadata) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (trace_id) DO NOTHING`,
		t.id, expID, t.start, duration, state, request, response, spanMetadata("", t))
	if err != nil {
		return false, meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		if err := upsertTraceTag(ctx, tx, t.id, traceArtifactLocationTag, traceArtifactLocation(location, t.id)); err != nil {
			return false, err
		}
	} else if ok, err := updateTraceFromSpans(ctx, tx, expID, t, postgres); !ok || err != nil {
		return ok, err
	}
	for _, s := range t.spans {
		if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_trace_spans (trace_id, span_id, parent_span_id, name, start_time_ns, end_time_ns, status, content)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (trace_id, span_id) DO UPDATE SET parent_span_id = excluded.parent_span_id, name = excluded.name,
			  start_time_ns = excluded.start_time_ns, end_time_ns = excluded.end_time_ns, status = excluded.status, content = excluded.content`,
			t.id, s.SpanID, s.ParentID, s.Name, s.Start, s.End, s.Status, string(s.Content)); err != nil {
			return false, meta.Err(err)
		}
	}
	for k, v := range spanTags(t) {
		if err := upsertTraceTag(ctx, tx, t.id, k, v); err != nil {
			return false, err
		}
	}
	return true, nil
}

func rootState(root *otlp.Span) string {
	if root.Status == "ERROR" {
		return "ERROR"
	}
	return "OK"
}

// updateTraceFromSpans merges an export into a trace that exists: its
// time range widens to the spans', a root span ends a trace in progress,
// and previews and metadata the trace lacks are filled in. False means the
// trace lies in another experiment.
func updateTraceFromSpans(ctx context.Context, tx *sql.Tx, expID int64, t *traceSpans, postgres bool) (bool, error) {
	var cur struct {
		exp, start, duration               int64
		state, request, response, metadata string
	}
	q := `SELECT experiment_id, request_time, execution_duration, state, request_preview, response_preview, trace_metadata
		FROM mlflow_traces WHERE trace_id = $1`
	if postgres {
		q += ` FOR UPDATE`
	}
	err := tx.QueryRowContext(ctx, q, t.id).Scan(&cur.exp, &cur.start, &cur.duration, &cur.state, &cur.request, &cur.response, &cur.metadata)
	if err != nil {
		return false, meta.Err(err)
	}
	if cur.exp != expID {
		return false, nil
	}
	state := cur.state
	if t.root != nil && (state == "IN_PROGRESS" || state == "STATE_UNSPECIFIED") {
		state = rootState(t.root)
	}
	start := min(t.start, cur.start)
	end := max(t.end, cur.start+cur.duration)
	request, response := cur.request, cur.response
	if t.root != nil {
		if v, ok := t.root.Attributes[spanInputsAttr]; ok && request == "" {
			request = preview(v)
		}
		if v, ok := t.root.Attributes[spanOutputsAttr]; ok && response == "" {
			response = preview(v)
		}
	}
	_, err = tx.ExecContext(ctx, `UPDATE mlflow_traces SET request_time = $2, execution_duration = $3, state = $4,
		request_preview = $5, response_preview = $6, trace_metadata = $7 WHERE trace_id = $1`,
		t.id, start, max(end-start, 0), state, request, response, spanMetadata(cur.metadata, t))
	return true, meta.Err(err)
}

// spanTags are the trace tags an export sets, in MLflow's order of
// precedence: where the spans are, the resource's attributes (but the
// SDK's own and mlflow.*), and the root span's mlflow.traceTag.<key>
// attributes. Tags MLflow would refuse are skipped.
func spanTags(t *traceSpans) map[string]string {
	tags := map[string]string{traceSpansLocationTag: spansInTrackingStore}
	set := func(k, v string) {
		if traceTagsOwned[k] || !validTraceTagKey(k) {
			return
		}
		if v, err := checkTraceTagSize(k, v); err == nil {
			tags[k] = v
		}
	}
	if len(t.spans) > 0 {
		s := t.spans[0]
		for k, v := range s.Resource {
			if strings.HasPrefix(k, "telemetry.sdk.") || strings.HasPrefix(k, "mlflow.") {
				continue
			}
			if text, ok := s.ResourceText[k]; ok {
				v = text
			}
			set(k, v)
		}
	}
	if t.root != nil {
		for k, v := range t.root.Attributes {
			if key, ok := strings.CutPrefix(k, traceTagAttrPrefix); ok {
				set(key, unquote(v))
			}
		}
	}
	return tags
}

// spanMetadata adds the trace's user and session, from the spans'
// user.id and session.id attributes, to its metadata unless it has them.
func spanMetadata(current string, t *traceSpans) string {
	md := map[string]string{}
	if current != "" {
		jsonUnmarshalString(current, &md)
	}
	for _, s := range t.spans {
		if v, ok := s.Attributes["user.id"]; ok && md[traceUserMetadata] == "" {
			md[traceUserMetadata] = unquote(v)
		}
		if v, ok := s.Attributes["session.id"]; ok && md[traceSessionMetadata] == "" {
			md[traceSessionMetadata] = unquote(v)
		}
	}
	return metadataJSON(md)
}

// preview is a request or response preview as MLflow cuts it from the
// root span's stored inputs or outputs.
func preview(v string) string {
	if r := []rune(v); len(r) > maxTracePreview {
		return string(r[:maxTracePreview-3]) + "..."
	}
	return v
}

// linkExportedTraces links completed traces to the run the exporter named
// (x-mlflow-run-id), as MLflow does: best effort, and only to a run the
// caller may edit.
func (h *Handler) linkExportedTraces(ctx context.Context, traces []string, runID string) {
	var runExp int64
	err := h.db.QueryRowContext(ctx, `SELECT experiment_id FROM mlflow_runs WHERE run_uuid = $1`, runID).Scan(&runExp)
	if err == nil {
		err = h.requireExperiment(ctx, runExp, Edit)
	}
	if err == nil {
		err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
			for _, id := range traces {
				if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_trace_runs (trace_id, run_uuid) VALUES ($1, $2) ON CONFLICT DO NOTHING`, id, runID); err != nil {
					return meta.Err(err)
				}
			}
			return nil
		})
	}
	if err != nil {
		h.log.WarnContext(ctx, "linking exported traces to a run", "run_id", clipString(runID), "err", err)
	}
}
