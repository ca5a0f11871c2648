package blob_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/blobtest"
	"github.com/arcaproject/arca/internal/blob/fs"
)

// The traced driver keeps the driver contract: the conformance suite
// passes through it, with every operation under a span.
func TestTracedConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Driver {
		d, err := fs.New(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return blob.Traced(d, sdktrace.NewTracerProvider())
	})
}

func TestTracedSpans(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(blob.Traced(d, tp), nil)

	// Without a span in the context, nothing is recorded.
	data := bytes.Repeat([]byte("arca"), 1000)
	if _, err := s.Put(context.Background(), bytes.NewReader(data), blob.Expect{}, 0); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Fatalf("%d spans without a parent, want none", n)
	}

	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	info, err := s.Put(ctx, bytes.NewReader(data), blob.Expect{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Open(ctx, info.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Seek(100, io.SeekStart); err != nil { // the fs driver's reader still seeks
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(r); len(got) != len(data)-100 {
		t.Fatalf("read %d bytes after seeking to 100, want %d", len(got), len(data)-100)
	}
	r.Close()
	if _, err := s.Stat(ctx, "sha256:"+blob.Digest(bytes.Repeat([]byte("0"), 64))); err == nil {
		t.Fatal("stat of a missing blob succeeded")
	}
	parent.End()

	byName := map[string]sdktrace.ReadOnlySpan{}
	for _, sp := range exp.GetSpans().Snapshots() {
		byName[sp.Name()] = sp
		if sp.Name() != "request" && sp.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("span %s is not a child of the request", sp.Name())
		}
	}
	for _, name := range []string{"blob.write", "blob.commit", "blob.read", "blob.stat"} {
		if byName[name] == nil {
			t.Errorf("no %s span; have %v", name, byName)
		}
	}
	attr := func(sp sdktrace.ReadOnlySpan, key string) any {
		for _, kv := range sp.Attributes() {
			if string(kv.Key) == key {
				return kv.Value.AsInterface()
			}
		}
		return nil
	}
	if w := byName["blob.write"]; w != nil {
		if got := attr(w, "blob.bytes"); got != int64(len(data)) {
			t.Errorf("blob.write bytes = %v, want %d", got, len(data))
		}
		if got := attr(w, "blob.digest"); got != string(info.Digest) {
			t.Errorf("blob.write digest = %v, want %s", got, info.Digest)
		}
	}
	if rd := byName["blob.read"]; rd != nil && attr(rd, "blob.bytes") != int64(len(data)-100) {
		t.Errorf("blob.read bytes = %v", attr(rd, "blob.bytes"))
	}
	if st := byName["blob.stat"]; st != nil && st.Status().Code != 0 {
		t.Errorf("a missing blob's stat is marked failed: %v", st.Status())
	}
}
