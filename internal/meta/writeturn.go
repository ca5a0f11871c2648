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
// transaction ends. SQLite's own lock and busy_timeout still order them
// with other processes (arca admin commands).
//
// WithTx takes the turn before it asks the pool for a connection, so that
// writers waiting their turn hold no connection and reads are never
// starved of one by a queue of writers. Transactions begun on the pool
// directly (the job queue's: river shares the *sql.DB, and the group
// committer's) take the turn in the driver (stmtcache.go), holding their
// connection while they wait; they are few.
//
// The wait is bounded by txLockWait, after which BEGIN runs anyway, as
// before: a transaction begun while the same goroutine holds another
// (which the pool guard, txguard.go, catches in tests) fails on SQLite's
// busy_timeout rather than waiting forever.

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

type turnTakenKey struct{}

// turnTaken marks ctx as that of a transaction whose caller has waited
// for the turn already: the driver does not wait again.
func turnTaken(ctx context.Context) context.Context {
	return context.WithValue(ctx, turnTakenKey{}, true)
}

func isTurnTaken(ctx context.Context) bool { return ctx.Value(turnTakenKey{}) != nil }
