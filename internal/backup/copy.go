package backup

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dustin/go-humanize"
	"golang.org/x/sync/errgroup"

	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// copyWorkers is how many blobs are copied at once.
const copyWorkers = 4

// copyStats counts a copy of blobs from one store to another.
type copyStats struct {
	Blobs, Bytes   int64 // all the blobs the copy was asked for
	Copied, Copies int64 // blobs copied and their bytes
	Present        int64 // blobs the destination already held
	Missing        []string
}

// progress prints a line to w at most every interval.
type progress struct {
	w        io.Writer
	mu       sync.Mutex
	last     time.Time
	interval time.Duration
}

func (p *progress) printf(force bool, format string, args ...any) {
	if p == nil || p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !force && time.Since(p.last) < p.interval {
		return
	}
	p.last = time.Now()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// copyBlobs copies each blob of refs that dst does not hold (by a walk of
// dst, a blob of the same size counts as held: its name is its content's
// digest) from src to dst. Each copy is written through blob.Store.Put,
// which verifies the sha256 and size of the bytes as they pass. A blob
// missing from src is listed in Missing, not an error: the caller decides.
func copyBlobs(ctx context.Context, src, dst *blob.Store, refs []BlobRef, prog *progress, verb string) (copyStats, error) {
	var st copyStats
	held := map[blob.Digest]int64{}
	if err := dst.Walk(ctx, func(s blob.Stat) error {
		held[s.Digest] = s.Size
		return nil
	}); err != nil {
		return st, fmt.Errorf("listing the blobs already %s: %w", verb, err)
	}
	var todo []BlobRef
	for _, r := range refs {
		st.Blobs++
		st.Bytes += r.Size
		if size, ok := held[blob.Digest(r.Digest)]; ok && size == r.Size {
			st.Present++
			continue
		}
		todo = append(todo, r)
	}
	var done, copied, bytes atomic.Int64
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyWorkers)
	for _, r := range todo {
		g.Go(func() error {
			err := copyBlob(gctx, src, dst, r)
			if errs.Is(err, errs.NotFound) {
				mu.Lock()
				st.Missing = append(st.Missing, r.Digest)
				mu.Unlock()
			} else if err != nil {
				return fmt.Errorf("copying %s: %w", r.Digest, err)
			} else {
				copied.Add(1)
				bytes.Add(r.Size)
			}
			n := done.Add(1)
			prog.printf(false, "blobs: %d of %d to copy done (%s); %d already %s", n, len(todo), humanize.IBytes(uint64(bytes.Load())), st.Present, verb)
			return nil
		})
	}
	err := g.Wait()
	st.Copied, st.Copies = copied.Load(), bytes.Load()
	return st, err
}

func copyBlob(ctx context.Context, src, dst *blob.Store, r BlobRef) error {
	d, err := blob.ParseDigest(r.Digest)
	if err != nil {
		return err
	}
	rd, err := src.Open(ctx, d)
	if err != nil {
		return err
	}
	defer rd.Close()
	_, err = dst.Put(ctx, rd, blob.Expect{Digest: d, Size: r.Size, SizeKnown: true}, 0)
	return err
}
