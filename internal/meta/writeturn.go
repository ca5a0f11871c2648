package meta

import (
	"context"
	"time"
)

// Writers take turns in process.
//
// Every SQLite transaction arca begins is a write transaction (BEGIN
// IMMEDIATE, _txlock=immediate), and SQLite lets writers wait for its lock
// only by polling: its busy handler sleeps 1, 2, 5, 10 ... 100 ms between
// tries, so a writer that finds the lock taken usually sleeps well past
// the moment it is freed. The writers of one process therefore queue on
// a one-slot channel, the write turn, woken the moment the previous
// transaction ends: every transaction (arca's, the job queue's, which
// shares the *sql.DB, and the group committer's), and every statement run
// outside a transaction that may write (river's leader election and job
// fetches are single UPDATEs on the pool). A writer that skipped the queue
// would poll in the busy handler while the queue hands the lock from one
// writer to the next, and starve. SQLite's own lock and busy_timeout still
// order them with other processes (arca admin commands).
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

// writeTurn is the in-process queue of SQLite writers.
type writeTurn chan struct{}

func newWriteTurn() writeTurn { return make(writeTurn, 1) }

// take waits for the turn, up to txLockWait; held says whether it came.
func (w writeTurn) take(ctx context.Context) (held bool, err error) {
	select {
	case w <- struct{}{}:
		return true, nil
	default:
	}
	t := time.NewTimer(txLockWait)
	defer t.Stop()
	select {
	case w <- struct{}{}:
		return true, nil
	case <-ctx.Done():
		return false, ctx.Err()
	case <-t.C:
		return false, nil
	}
}

func (w writeTurn) give() { <-w }
