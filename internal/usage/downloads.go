package usage

import (
	"context"
	"database/sql"
	"log/slog"
	"sync"
	"time"

	"github.com/arcaproject/arca/internal/meta"
)

// Downloads notes when content was last downloaded without a database
// write per download: handlers call Touch, which updates a bounded map in
// memory; Flush writes it in one transaction (every few seconds from Run,
// and at shutdown). A map that is full when a new key comes is flushed
// early in the background; keys arriving before that flush finishes are
// dropped, so memory stays bounded under any load (their time is noted at
// their next download). A nil *Downloads ignores Touch.
type Downloads struct {
	db  *meta.DB
	log *slog.Logger
	max int

	mu      sync.Mutex
	pending map[downloadKey]int64
	kick    chan struct{}
}

type downloadKey struct {
	repo int64
	item string
}

// NewDownloads returns a tracker holding at most max pending keys
// (default 100,000).
func NewDownloads(db *meta.DB, log *slog.Logger, max int) *Downloads {
	if max <= 0 {
		max = 100_000
	}
	return &Downloads{db: db, log: log, max: max, pending: map[downloadKey]int64{}, kick: make(chan struct{}, 1)}
}

// maxItemKey bounds a key's length (longer ones are not tracked).
const maxItemKey = 1024

// Touch notes that item of repository repoID was downloaded now.
func (d *Downloads) Touch(repoID int64, item string) {
	if d == nil || repoID <= 0 || item == "" || len(item) > maxItemKey {
		return
	}
	now := time.Now().UnixMilli()
	k := downloadKey{repoID, item}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.pending[k]; !ok && len(d.pending) >= d.max {
		select {
		case d.kick <- struct{}{}:
		default:
		}
		return
	}
	d.pending[k] = now
}

// Flush writes the pending times.
func (d *Downloads) Flush(ctx context.Context) error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	batch := d.pending
	d.pending = map[downloadKey]int64{}
	d.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	err := d.db.WithTx(ctx, func(tx *sql.Tx) error {
		for k, at := range batch {
			// A repository deleted meanwhile fails its foreign key: skip it.
			if _, err := tx.ExecContext(ctx, `INSERT INTO cleanup_downloads (repository_id, item, last_download_at)
				SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM repositories WHERE id = $1)
				ON CONFLICT (repository_id, item) DO UPDATE SET last_download_at = CASE
				  WHEN excluded.last_download_at > cleanup_downloads.last_download_at THEN excluded.last_download_at
				  ELSE cleanup_downloads.last_download_at END`, k.repo, k.item, at); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	return err
}

// Run flushes every interval (and when the map fills) until ctx ends,
// then once more. A ticker of its own, not a job of the runner: what it
// flushes is this process's own memory (every replica holds its own
// pending times), so no other process could do the work.
func (d *Downloads) Run(ctx context.Context, every time.Duration) {
	if d == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := d.Flush(fctx); err != nil {
				d.log.Warn("writing last download times at shutdown", "err", err)
			}
			cancel()
			return
		case <-t.C:
		case <-d.kick:
		}
		if err := d.Flush(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("writing last download times", "err", err)
		}
	}
}
