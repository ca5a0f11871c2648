package blob

import (
	"context"
	"io"
	"time"

	"github.com/arcaproject/arca/internal/errs"
)

// Small blobs live in the metadata database.
//
// A write of a few kilobytes costs the blob store a file, an fdatasync of
// it and a sync of its directory, and then the database's commit syncs its
// own log: three syncs for one object, where the commit alone would do. A
// writer made by CreateInline holds its bytes in memory until they exceed
// the store's inline limit; a write that ends within it never reaches the
// driver, and Commit hands the bytes back in Info.Inline for gc.Record to
// store in the blob's row of the blobs table, in the transaction that
// refers to the blob. Store.Open and Store.Stat find such a blob through
// the InlineSource when the driver does not hold it. See docs/architecture.md,
// "Small blobs live in the database".

// InlineSource finds the bytes of blobs kept in the metadata database.
type InlineSource interface {
	// Inline returns d's bytes and when they were stored, or an
	// errs.NotFound error when the database holds none for d.
	Inline(ctx context.Context, d Digest) ([]byte, time.Time, error)
}

// SetInline makes Open and Stat look blobs the driver does not hold up in
// src, and lets writes by CreateInline of at most max bytes stay out of
// the driver (max 0: every write goes to the driver; reads still find
// inline blobs). Call it before the store is used.
func (s *Store) SetInline(src InlineSource, max int) {
	s.inline, s.inlineMax = src, max
	if src == nil {
		s.inlineMax = 0
	}
}

// InlineMax is the largest write CreateInline keeps out of the driver.
func (s *Store) InlineMax() int { return s.inlineMax }

// CreateInline starts a write like Create, for a caller that records the
// blob with gc.Record in the transaction that refers to it: a write that
// ends within the store's inline limit is not staged in the driver at all,
// and Commit returns its bytes in Info.Inline (never nil then, even for
// zero bytes) for gc.Record to keep.
func (s *Store) CreateInline(ctx context.Context, extra Hashes) (*Writer, error) {
	if s.inlineMax <= 0 {
		return s.Create(ctx, extra)
	}
	w := newWriterCtx(ctx, s, nil, extra)
	w.small = make([]byte, 0, min(s.inlineMax, 4096))
	return w, nil
}

// PutInline is Put through CreateInline: the caller records the returned
// Info with gc.Record (gc.BlobOf carries Info.Inline) in the transaction
// that refers to the blob.
func (s *Store) PutInline(ctx context.Context, r io.Reader, want Expect, extra Hashes) (Info, error) {
	w, err := s.CreateInline(ctx, extra|want.hashes())
	if err != nil {
		return Info{}, err
	}
	return w.commitFrom(ctx, r, want)
}

// InlineReader reads data, the bytes of blob d that its caller read from
// the blob's row itself (an S3 GET reads them with the object's row).
func (s *Store) InlineReader(ctx context.Context, d Digest, data []byte, modTime time.Time) *Reader {
	return &Reader{ctx: ctx, store: s, digest: d, size: int64(len(data)), ModTime: modTime, data: data, inline: true}
}

// stage moves a write held in memory to the driver, once it outgrows the
// inline limit or is suspended.
func (w *Writer) stage() error {
	if w.staged != nil {
		return nil
	}
	sw, err := w.store.driver.Stage(w.ctx)
	if err != nil {
		w.err = errs.Wrap(err, errs.Unavailable, "blob store unavailable")
		return w.err
	}
	w.staged = sw
	if len(w.small) > 0 {
		if _, err := sw.Write(w.small); err != nil {
			w.err = wrapWriteErr(err)
			return w.err
		}
	}
	w.small = nil
	return nil
}

// orInline looks d up among the blobs kept in the database when the
// driver answered driverErr NotFound: it returns their bytes (never nil
// then), or driverErr, or the lookup's own failure.
func (s *Store) orInline(ctx context.Context, d Digest, driverErr error) ([]byte, time.Time, error) {
	if !errs.Is(driverErr, errs.NotFound) || s.inline == nil {
		return nil, time.Time{}, driverErr
	}
	data, at, err := s.inline.Inline(ctx, d)
	switch {
	case err == nil:
		if data == nil {
			data = []byte{}
		}
		return data, at, nil
	case errs.Is(err, errs.NotFound):
		return nil, time.Time{}, driverErr
	default:
		return nil, time.Time{}, err
	}
}

// StatStored is Stat of the driver alone: it does not look for d among
// the blobs kept in the database (which costs a query on the database's
// pool, not allowed inside a transaction).
func (s *Store) StatStored(ctx context.Context, d Digest) (Stat, error) {
	start := time.Now()
	st, err := s.driver.Stat(ctx, d)
	s.observe("stat", ignoreNotFound(err), 0, time.Since(start))
	return st, err
}
