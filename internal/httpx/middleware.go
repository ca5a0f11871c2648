package httpx

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

type requestInfo struct {
	id      string
	surface string
	user    string
	kind    string // of user: anonymous, user or robot
	route   string // the route template that served the request
	repo    string // the repository named in the path, for traces only
}

type infoKey struct{}

// RequestID returns the request ID carried by ctx, or "".
func RequestID(ctx context.Context) string {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return ri.id
	}
	return ""
}

// SetSurface records which surface serves the request, for metrics and logs.
func SetSurface(ctx context.Context, name string) {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		ri.surface = name
	}
}

// SetUser records who the request acts as, for the request log line.
func SetUser(ctx context.Context, name string) {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		ri.user = name
	}
}

// SetPrincipal records who the request acts as (name and kind), for the
// request log line, metrics and the request's span.
func SetPrincipal(ctx context.Context, p auth.Principal) {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		ri.user = p.String()
		ri.kind = cmp.Or(p.Kind, "anonymous")
	}
}

// SetRoute records the route template that serves the request (a
// surface that matches its own paths, as OCI does, names its routes this
// way; ServeMux patterns are recorded by Surface.Handle). It is a metrics
// label, so it must come from a fixed set, never from the request.
func SetRoute(ctx context.Context, template string) {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		ri.route = template
	}
}

// SetRepository records the repository a request names, for its span and
// log line (never a metrics label: the path chooses it).
func SetRepository(ctx context.Context, name string) {
	if ri, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		ri.repo = name
	}
}

// LogHandler wraps a slog.Handler so that every record logged with a
// request's context carries its request_id, and, when the context carries
// a trace (tracing is on), its trace_id and span_id.
type LogHandler struct{ slog.Handler }

// Handle adds the request ID and the trace context.
func (h LogHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper.
func (h LogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return LogHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper.
func (h LogHandler) WithGroup(name string) slog.Handler { return LogHandler{h.Handler.WithGroup(name)} }

// recorder captures the status and size of a response.
type recorder struct {
	http.ResponseWriter
	status  int
	written int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.written += int64(n)
	return n, err
}

// ReadFrom keeps io.Copy's sendfile path for file-backed bodies.
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := io.Copy(r.ResponseWriter, src)
	r.written += n
	return n, err
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingBody counts the bytes a handler reads from a request body.
type countingBody struct {
	io.ReadCloser
	n int64
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n += int64(n)
	return n, err
}

// Instrument wraps the whole server: it assigns a request ID (honouring a
// sane incoming X-Request-Id), recovers panics, rejects paths with dot or
// empty segments, logs one line per request and records metrics.
func Instrument(next http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return instrument(next, log, m, true)
}

// InstrumentAnyPath is Instrument for a surface whose paths are opaque
// keys (S3, where "a//b" and "./x" are valid object keys): it does not
// reject dot or empty segments, and the surface must not rely on
// http.ServeMux path cleaning.
func InstrumentAnyPath(next http.Handler, log *slog.Logger, m *Metrics) http.Handler {
	return instrument(next, log, m, false)
}

func instrument(next http.Handler, log *slog.Logger, m *Metrics, checkPath bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := r.Header.Get("X-Request-Id")
		if len(id) == 0 || len(id) > 64 || strings.ContainsFunc(id, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			id = NewRequestID()
		}
		ri := &requestInfo{id: id, surface: "other", user: "anonymous", kind: "anonymous"}
		ctx := context.WithValue(r.Context(), infoKey{}, ri)
		r = r.WithContext(ctx)
		w.Header().Set("X-Request-Id", id)
		rec := &recorder{ResponseWriter: w}
		var body *countingBody
		if r.Body != nil && r.Body != http.NoBody {
			body = &countingBody{ReadCloser: r.Body}
			r.Body = body
		}
		m.inflight.Inc()
		defer func() {
			m.inflight.Dec()
			// Surfaces recover their own panics (Surface.Handle) and
			// answer in their format; this catches the rest. An aborted
			// handler is still logged and counted, then the panic goes
			// on to net/http, which closes the connection.
			p := recover()
			aborted := p == http.ErrAbortHandler
			if p != nil && !aborted {
				log.ErrorContext(ctx, "panic", "panic", p, "stack", string(debug.Stack()))
				if rec.status == 0 {
					WriteJSONError(rec, r, errs.E(errs.Internal, "internal error"))
				}
			}
			if aborted && rec.status == 0 {
				rec.status = http.StatusInternalServerError
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			var in int64
			if body != nil {
				in = body.n
			}
			took := time.Since(start)
			route := ri.routeLabel()
			m.observe(ri.surface, route, r.Method, status, took, in, rec.written)
			if span := trace.SpanFromContext(ctx); span.IsRecording() {
				annotate(span, ri, r.Method, route, in, rec.written)
			}
			level := slog.LevelInfo
			if status >= 500 {
				level = slog.LevelWarn
			}
			attrs := [11]slog.Attr{slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", status), slog.String("surface", ri.surface), slog.String("user", ri.user),
				slog.Int64("bytes_in", in), slog.Int64("bytes_out", rec.written),
				slog.Duration("took", took), slog.String("remote", r.RemoteAddr), slog.String("route", route)}
			n := 10
			if ri.repo != "" {
				attrs[n] = slog.String("repository", ri.repo)
				n++
			}
			log.LogAttrs(ctx, level, "request", attrs[:n]...)
			if aborted {
				panic(p)
			}
		}()
		if checkPath {
			if err := CheckPath(r.URL.Path); err != nil {
				WriteJSONError(rec, r, err)
				return
			}
		}
		next.ServeHTTP(rec, r)
	})
}

// CheckPath rejects a decoded URL path with "." or ".." segments, empty
// segments, backslashes or control characters, so that no surface ever
// sees one — and so that http.ServeMux never answers one with a redirect.
func CheckPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return errs.E(errs.Invalid, "invalid path: must be absolute")
	}
	if strings.ContainsFunc(p, func(c rune) bool { return c < 0x20 || c == 0x7f || c == '\\' }) {
		return errs.E(errs.Invalid, "invalid path: control characters or backslashes")
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		switch {
		case seg == "." || seg == "..":
			return errs.E(errs.Invalid, "invalid path: %q segments are not allowed", seg)
		case seg == "" && i != len(segs)-1:
			return errs.E(errs.Invalid, "invalid path: empty segment")
		}
	}
	return nil
}

// statusLabel keeps the status label's cardinality small and exact.
func statusLabel(code int) string { return strconv.Itoa(code) }
