package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
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

// TestResumedWriteVerifiedAtCommit changes a suspended write's staged bytes
// behind the store's back (as a racing writer or a broken disk would): the
// store must refuse to publish them under the digest its hash states
// describe.
func TestResumedWriteVerifiedAtCommit(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	d, err := fs.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(d, nil)
	w, err := s.Create(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("first chunk "))
	st, err := w.Suspend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "staging", st.ID), []byte("other chunk "), 0o640); err != nil {
		t.Fatal(err)
	}
	w, err = s.Resume(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("second chunk"))
	want := sha256.Sum256([]byte("first chunk second chunk"))
	dg := blob.FromSum(want[:])
	if _, err := w.Commit(ctx, blob.Expect{Digest: dg}); errs.CodeOf(err) != "DIGEST_INVALID" {
		t.Fatalf("Commit of tampered staged bytes = %v, want DIGEST_INVALID", err)
	}
	if _, err := s.Stat(ctx, dg); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Stat after a refused commit = %v, want not found", err)
	}

	// Untouched, the same sequence publishes.
	w, _ = s.Create(ctx, 0)
	w.Write([]byte("first chunk "))
	st, _ = w.Suspend(ctx)
	w, err = s.Resume(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("second chunk"))
	if _, err := w.Commit(ctx, blob.Expect{Digest: dg}); err != nil {
		t.Fatalf("Commit of a resumed write = %v", err)
	}
}

// TestOneWriterPerStagedWrite resumes one staged write twice at once: the
// filesystem driver gives it to one writer and refuses the other, and a
// write committed meanwhile cannot be resumed at all.
func TestOneWriterPerStagedWrite(t *testing.T) {
	ctx := context.Background()
	d, err := fs.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := blob.New(d, nil)
	w, _ := s.Create(ctx, 0)
	w.Write([]byte("abc"))
	st, err := w.Suspend(ctx)
	if err != nil {
		t.Fatal(err)
	}
	first, err := s.Resume(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, st); !errs.Is(err, errs.Conflict) {
		t.Fatalf("second Resume while the first writes = %v, want conflict", err)
	}
	if _, err := first.Commit(ctx, blob.Expect{}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, st); !errs.Is(err, errs.NotFound) {
		t.Fatalf("Resume after Commit = %v, want not found", err)
	}
}
