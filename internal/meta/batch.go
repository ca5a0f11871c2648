package meta

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/arcaproject/arca/internal/errs"
)

// Group commit on SQLite.
//
// SQLite has one writer at a time. Before group commit, concurrent small
// writes (S3 PUTs, manifest PUTs) each began an immediate transaction and
// queued for the write lock in SQLite's busy handler, which polls with
// sleeps of 1 to 100 ms: at concurrency 16 a 4 KiB PUT made about 40
// nanosleep calls and its p99 was set by the poll interval, not by work.
//
// WithBatchTx hands the function to one writer goroutine instead. The
// writer takes every request waiting (up to maxBatch), runs them one
// after the other in one transaction, each inside a savepoint of its own,
// and commits once: a caller whose function fails is rolled back to its
// savepoint alone and gets its own error, while the others commit. The
// wait is bounded by the batch in flight: the writer never lingers for
// more requests, so a lone caller pays nothing, and callers that arrive
// while a batch commits form the next one.
//
// If the transaction itself is lost (a function's statement interrupted
// by its cancelled context makes SQLite roll the whole transaction back,
// which the next savepoint operation detects), or the commit fails, each
// function that had succeeded runs again alone in a transaction of its
// own: WithTx's contract already asks that a function be safe to run more
// than once.

// maxBatch bounds how many callers share one transaction.
const maxBatch = 64

type batchReq struct {
	ctx  context.Context
	fn   func(tx *sql.Tx) error
	done chan batchResult
}

type batchResult struct {
	err      error
	panicked any
}

type batcher struct {
	db      *DB
	reqs    chan *batchReq
	quit    chan struct{}
	stopped chan struct{}
	shared  atomic.Int64 // transactions committed for more than one caller (tests read it)
}

func (db *DB) startBatcher() {
	b := &batcher{db: db, reqs: make(chan *batchReq, maxBatch), quit: make(chan struct{}), stopped: make(chan struct{})}
	db.batch = b
	go b.loop()
}

func (b *batcher) stop() {
	close(b.quit)
	<-b.stopped
}

// WithBatchTx runs fn in a transaction, like WithTx, and has WithTx's
// contract: commit when fn returns nil, roll back otherwise, run fn again
// after an error coded CodeRetry, so fn must be safe to run more than once.
// On SQLite the transaction may be shared with other callers' functions
// (group commit, above); fn must therefore touch the database only through
// tx, and must not wait for another caller's write. On PostgreSQL, whose
// writers run in parallel, it is WithTx.
func (db *DB) WithBatchTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.batch == nil {
		return db.WithTx(ctx, fn)
	}
	return retrying(ctx, func() error { return db.batch.do(ctx, fn) })
}

func (b *batcher) do(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return Err(err)
	}
	r := &batchReq{ctx: ctx, fn: fn, done: make(chan batchResult, 1)}
	select {
	case b.reqs <- r:
	case <-b.quit:
		return errs.E(errs.Unavailable, "metadata database closed")
	case <-ctx.Done():
		return Err(ctx.Err())
	}
	// Once queued, the request is answered even if ctx ends: the writer
	// skips a request whose context is done before running it, and one
	// that already ran must learn whether it committed.
	res := <-r.done
	if res.panicked != nil {
		panic(res.panicked)
	}
	return res.err
}

func (b *batcher) loop() {
	defer close(b.stopped)
	batch := make([]*batchReq, 0, maxBatch)
	for {
		select {
		case <-b.quit:
			b.drain()
			return
		case r := <-b.reqs:
			batch = append(batch[:0], r)
		}
	more:
		for len(batch) < maxBatch {
			select {
			case r := <-b.reqs:
				batch = append(batch, r)
			default:
				break more
			}
		}
		b.run(batch)
		clear(batch)
	}
}

// drain answers the requests still queued when the database closes.
func (b *batcher) drain() {
	for {
		select {
		case r := <-b.reqs:
			r.done <- batchResult{err: errs.E(errs.Unavailable, "metadata database closed")}
		default:
			return
		}
	}
}

// call runs fn, turning a panic into a result that the caller's goroutine
// raises again, so that one handler's panic neither kills the writer nor
// is lost.
func (b *batcher) call(fn func(tx *sql.Tx) error, tx *sql.Tx) (res batchResult) {
	defer func() {
		if p := recover(); p != nil {
			res = batchResult{panicked: p}
		}
	}()
	return batchResult{err: b.db.guard.run(fn, tx)}
}

func (b *batcher) run(batch []*batchReq) {
	if len(batch) == 1 {
		b.single(batch[0])
		return
	}
	ctx := context.Background()
	tx, err := b.db.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.done <- batchResult{err: Err(err)}
		}
		return
	}
	var ok []*batchReq // ran successfully, answered after the commit
	lost := false      // the transaction was rolled back under us
	for i, r := range batch {
		if lost {
			// Run alone, after the others are settled.
			ok = append(ok, batch[i:]...)
			break
		}
		if err := r.ctx.Err(); err != nil {
			r.done <- batchResult{err: Err(err)}
			continue
		}
		if _, err := tx.ExecContext(ctx, `SAVEPOINT batch_call`); err != nil {
			lost = true
			ok = append(ok, batch[i:]...)
			break
		}
		res := b.call(r.fn, tx)
		if res.err == nil && res.panicked == nil {
			if _, err := tx.ExecContext(ctx, `RELEASE batch_call`); err != nil {
				lost = true
				ok = append(ok, r)
				continue
			}
			ok = append(ok, r)
			continue
		}
		if _, err := tx.ExecContext(ctx, `ROLLBACK TO batch_call`); err != nil {
			lost = true
		} else if _, err := tx.ExecContext(ctx, `RELEASE batch_call`); err != nil {
			lost = true
		}
		r.done <- res
	}
	if lost {
		tx.Rollback()
		for _, r := range ok {
			b.single(r)
		}
		return
	}
	if err := tx.Commit(); err != nil {
		// Which function the commit failed for cannot be told: each runs
		// again alone.
		for _, r := range ok {
			b.single(r)
		}
		return
	}
	if len(ok) > 1 {
		b.shared.Add(1)
	}
	for _, r := range ok {
		r.done <- batchResult{}
	}
}

// single runs one request in a transaction of its own.
func (b *batcher) single(r *batchReq) {
	if err := r.ctx.Err(); err != nil {
		r.done <- batchResult{err: Err(err)}
		return
	}
	tx, err := b.db.BeginTx(r.ctx, nil)
	if err != nil {
		r.done <- batchResult{err: Err(err)}
		return
	}
	res := b.call(r.fn, tx)
	if res.err != nil || res.panicked != nil {
		tx.Rollback()
		r.done <- res
		return
	}
	if err := tx.Commit(); err != nil {
		r.done <- batchResult{err: Err(fmt.Errorf("commit: %w", err))}
		return
	}
	r.done <- batchResult{}
}
