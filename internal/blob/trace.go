package blob

import (
	"context"
	"io"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/arcaproject/arca/internal/errs"
)

// Traced wraps a driver so that its operations are spans under the span of
// the context they run with: blob.write (from Stage or Resume to Commit,
// Cancel or Close, with the bytes written), blob.commit, blob.read (from
// Open to the reader's Close, with the bytes read), blob.stat, blob.delete,
// blob.walk and blob.purge_staged. It is the one place blob operations are
// traced; the composition root wraps the driver with it only when tracing
// is on. Operations without a span in their context (probes) make none.
func Traced(d Driver, tp trace.TracerProvider) Driver {
	return &tracedDriver{next: d, tracer: tp.Tracer("github.com/arcaproject/arca/internal/blob")}
}

type tracedDriver struct {
	next   Driver
	tracer trace.Tracer
}

// start begins a span when ctx has one to hang it under.
func (t *tracedDriver) start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ctx, trace.SpanFromContext(ctx) // non-recording
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...))
}

// end ends span, marking it failed when err is a failure (a missing blob
// is an answer, not a failure).
func end(span trace.Span, err error) {
	if err != nil && !errs.Is(err, errs.NotFound) {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func digestAttr(d Digest) attribute.KeyValue { return attribute.String("blob.digest", string(d)) }

func (t *tracedDriver) Stage(ctx context.Context) (StagedWriter, error) {
	_, span := t.start(ctx, "blob.write")
	w, err := t.next.Stage(ctx)
	if err != nil {
		end(span, err)
		return nil, err
	}
	return &tracedWriter{StagedWriter: w, span: span, tracer: t}, nil
}

func (t *tracedDriver) Resume(ctx context.Context, id string, offset int64) (StagedWriter, error) {
	_, span := t.start(ctx, "blob.write", attribute.Int64("blob.offset", offset))
	w, err := t.next.Resume(ctx, id, offset)
	if err != nil {
		end(span, err)
		return nil, err
	}
	return &tracedWriter{StagedWriter: w, span: span, tracer: t}, nil
}

func (t *tracedDriver) Open(ctx context.Context, d Digest, offset int64) (io.ReadCloser, error) {
	_, span := t.start(ctx, "blob.read", digestAttr(d), attribute.Int64("blob.offset", offset))
	rc, err := t.next.Open(ctx, d, offset)
	if err != nil {
		end(span, err)
		return nil, err
	}
	r := &tracedReader{ReadCloser: rc, span: span}
	if s, ok := rc.(io.Seeker); ok { // keep the driver's seeking (see Driver.Open)
		return &tracedSeekReader{tracedReader: r, seeker: s}, nil
	}
	return r, nil
}

func (t *tracedDriver) Stat(ctx context.Context, d Digest) (Stat, error) {
	ctx, span := t.start(ctx, "blob.stat", digestAttr(d))
	st, err := t.next.Stat(ctx, d)
	end(span, err)
	return st, err
}

func (t *tracedDriver) Delete(ctx context.Context, d Digest) error {
	ctx, span := t.start(ctx, "blob.delete", digestAttr(d))
	err := t.next.Delete(ctx, d)
	end(span, err)
	return err
}

func (t *tracedDriver) Walk(ctx context.Context, fn func(Stat) error) error {
	ctx, span := t.start(ctx, "blob.walk")
	n := 0
	err := t.next.Walk(ctx, func(s Stat) error { n++; return fn(s) })
	span.SetAttributes(attribute.Int("blob.count", n))
	end(span, err)
	return err
}

func (t *tracedDriver) PurgeStaged(ctx context.Context, cutoff time.Time) (int, error) {
	ctx, span := t.start(ctx, "blob.purge_staged")
	n, err := t.next.PurgeStaged(ctx, cutoff)
	span.SetAttributes(attribute.Int("blob.count", n))
	end(span, err)
	return n, err
}

func (t *tracedDriver) Ping(ctx context.Context) error { return t.next.Ping(ctx) }

// tracedWriter is a staged write's span, open while the write is.
type tracedWriter struct {
	StagedWriter
	span   trace.Span
	tracer *tracedDriver
	n      int64
	ended  bool
}

func (w *tracedWriter) Write(p []byte) (int, error) {
	n, err := w.StagedWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (w *tracedWriter) finish(outcome string, err error) {
	if w.ended {
		return
	}
	w.ended = true
	w.span.SetAttributes(attribute.Int64("blob.bytes", w.n), attribute.String("blob.outcome", outcome))
	end(w.span, err)
}

func (w *tracedWriter) Commit(ctx context.Context, d Digest) error {
	cctx, span := w.tracer.start(ctx, "blob.commit", digestAttr(d))
	err := w.StagedWriter.Commit(cctx, d)
	end(span, err)
	w.span.SetAttributes(digestAttr(d))
	w.finish("committed", err)
	return err
}

func (w *tracedWriter) Cancel(ctx context.Context) error {
	err := w.StagedWriter.Cancel(ctx)
	w.finish("cancelled", err)
	return err
}

func (w *tracedWriter) Close() error {
	err := w.StagedWriter.Close()
	w.finish("suspended", err)
	return err
}

// tracedReader is a read's span, open until the reader is closed.
type tracedReader struct {
	io.ReadCloser
	span  trace.Span
	n     int64
	ended bool
}

func (r *tracedReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n += int64(n)
	return n, err
}

func (r *tracedReader) Close() error {
	err := r.ReadCloser.Close()
	if !r.ended {
		r.ended = true
		r.span.SetAttributes(attribute.Int64("blob.bytes", r.n))
		end(r.span, err)
	}
	return err
}

type tracedSeekReader struct {
	*tracedReader
	seeker io.Seeker
}

func (r *tracedSeekReader) Seek(offset int64, whence int) (int64, error) {
	return r.seeker.Seek(offset, whence)
}

var _ Driver = (*tracedDriver)(nil)
