package meta

import (
	"context"
	"strings"
	"sync"
	"time"
)

// Writers take turns in process.
//
// Every SQLite transaction arca begins is a write transaction (BEGIN
// IMMEDIATE, _txlock=immediate), and SQLite lets writers wait for its lock
// only by polling: its busy handler sleeps 1, 2, 5, 10 ... 100 ms between
// tries, so a writer that finds the lock taken usually sleeps well past
// the moment it is freed. The writers of one process therefore queue for
// the write turn, handed to the next the moment the previous transaction
// ends: every transaction (arca's, the job queue's, which shares the
// *sql.DB, and the group committer's), and every statement run outside a
// transaction that may write (river's leader election and job fetches are
// single UPDATEs on the pool). A writer that skipped the queue would poll
// in the busy handler while the queue hands the lock from one writer to
// the next, and starve. SQLite's own lock and busy_timeout still order
// them with other processes (arca admin commands).
//
// The queue is first come, first served, with one exception: statements
// on river's leader table go ahead of it. The leader renews its term with
// a single UPDATE and gives the term up when that takes more than five
// seconds; behind a queue of bulk writers (an import of thousands of
// objects, each with its index job) it did, and the leader resigned and
// logged an error while nothing was wrong but the wait. Going first it
// waits for one transaction at most.
//
// The turn is taken in the driver, once database/sql has given the writer
// its connection, never before: one order everywhere (connection, then
// turn). Taking the turn first in WithTx and the connection after deadlocked
// against river, whose transactions waited for the turn holding every
// connection of the pool. A writer waiting for its turn holds a
// connection, so the pool is larger than the number of writers that
// usually wait (connect, in meta.go); the holder of the turn never needs a
// second connection (the pool guard, txguard.go, checks it in tests).
//
// The wait is bounded by txLockWait, after which BEGIN runs anyway, as
// before: a transaction begun while the same goroutine holds another
// fails on SQLite's busy_timeout rather than waiting forever.

// txLockWait bounds the wait for the write turn.
const txLockWait = 10 * time.Second

// writeTurn is the queue of SQLite writers: in process, then among
// processes (proclock_linux.go).
type writeTurn struct {
	mu     sync.Mutex
	held   bool
	first  []chan struct{} // waiting writers that go first (leader election)
	queued []chan struct{} // everyone else, in order of arrival
	procs  *procLock       // nil: no other process is waited for
}

func newWriteTurn(dbPath string) *writeTurn { return &writeTurn{procs: newProcLock(dbPath)} }

// take waits for the turn, up to txLockWait; held says whether it came.
// A writer that goes first is served before every queued one in process.
func (w *writeTurn) take(ctx context.Context, goesFirst bool) (held bool, err error) {
	var expired <-chan time.Time
	if w.tryLocal() {
		if w.procs == nil {
			return true, nil
		}
		t := time.NewTimer(txLockWait)
		defer t.Stop()
		expired = t.C
	} else {
		t := time.NewTimer(txLockWait)
		defer t.Stop()
		expired = t.C
		if held, err := w.waitLocal(ctx, goesFirst, expired); !held {
			return false, err
		}
		if w.procs == nil {
			return true, nil
		}
	}
	held, err = w.procs.acquire(ctx, expired)
	if !held {
		// No turn among processes in time: BEGIN waits in SQLite's busy
		// handler, as it would without one.
		w.giveLocal()
	}
	return held, err
}

// tryLocal takes the turn in process if it is free.
func (w *writeTurn) tryLocal() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.held {
		return false
	}
	w.held = true
	return true
}

// waitLocal queues for the turn in process.
func (w *writeTurn) waitLocal(ctx context.Context, goesFirst bool, expired <-chan time.Time) (held bool, err error) {
	w.mu.Lock()
	if !w.held {
		w.held = true
		w.mu.Unlock()
		return true, nil
	}
	ready := make(chan struct{})
	if goesFirst {
		w.first = append(w.first, ready)
	} else {
		w.queued = append(w.queued, ready)
	}
	w.mu.Unlock()

	select {
	case <-ready:
		return true, nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-expired:
	}
	if w.leave(ready) {
		return false, err
	}
	// Handed the turn while giving up: pass it on.
	<-ready
	if err != nil {
		w.giveLocal()
		return false, err
	}
	return true, nil
}

// leave takes a waiter out of its queue; false if it was handed the turn
// already.
func (w *writeTurn) leave(ready chan struct{}) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, q := range []*[]chan struct{}{&w.first, &w.queued} {
		for i, c := range *q {
			if c == ready {
				*q = append((*q)[:i], (*q)[i+1:]...)
				return true
			}
		}
	}
	return false
}

// give ends the holder's turn.
func (w *writeTurn) give() {
	if w.procs != nil {
		w.procs.release()
	}
	w.giveLocal()
}

// giveLocal hands the turn in process to the next writer, or frees it.
func (w *writeTurn) giveLocal() {
	w.mu.Lock()
	defer w.mu.Unlock()
	var next chan struct{}
	switch {
	case len(w.first) > 0:
		next, w.first = w.first[0], w.first[1:]
	case len(w.queued) > 0:
		next, w.queued = w.queued[0], w.queued[1:]
	default:
		w.held = false
		return
	}
	close(next)
}

// goesFirst says whether a statement renews, takes or gives up the job
// runner's leadership (river's river_leader table): those go ahead of the
// queue.
func goesFirst(query string) bool {
	return strings.Contains(query, "river_leader")
}
