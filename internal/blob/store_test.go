package blob_test

import (
	"bytes"
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/blob/fs"
	"github.com/arcaproject/arca/internal/errs"
)

// fullDisk wraps a driver whose staged writes fail with ENOSPC after limit bytes.
type fullDisk struct {
	blob.Driver
	limit int
}

func (d fullDisk) Stage(ctx context.Context) (blob.StagedWriter, error) {
	w, err := d.Driver.Stage(ctx)
	return &fullWriter{StagedWriter: w, left: d.limit}, err
}

type fullWriter struct {
	blob.StagedWriter
	left int
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		n, _ := w.StagedWriter.Write(p[:w.left])
		w.left = 0
		return n, syscall.ENOSPC
	}
	w.left -= len(p)
	return w.StagedWriter.Write(p)
}

func TestFullDiskStoresNothing(t *testing.T) {
	inner, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(fullDisk{Driver: inner, limit: 1000}, nil)
	_, err = s.Put(context.Background(), bytes.NewReader(make([]byte, 5000)), blob.Expect{}, 0)
	if !errs.Is(err, errs.Unavailable) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk = %v, want unavailable wrapping ENOSPC", err)
	}
	n := 0
	s.Walk(context.Background(), func(blob.Stat) error { n++; return nil })
	if n != 0 {
		t.Fatalf("%d blobs visible after a failed write", n)
	}
	if purged, _ := inner.PurgeStaged(context.Background(), timeFarFuture()); purged != 0 {
		t.Fatalf("failed write left %d staged files", purged)
	}
	// Small writes still succeed.
	if _, err := s.Put(context.Background(), bytes.NewReader(make([]byte, 10)), blob.Expect{}, 0); err != nil {
		t.Fatalf("small Put = %v", err)
	}
}

func timeFarFuture() time.Time { return time.Now().Add(24 * time.Hour) }
