// Package audit records who changed what, for every surface, in the
// metadata database.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
)

// Event is one audited action.
type Event struct {
	ID         int64          `json:"id"`
	At         int64          `json:"at"`
	Actor      string         `json:"actor"`
	Action     string         `json:"action"` // e.g. "raw.upload", "user.create"
	Repository string         `json:"repository,omitempty"`
	Subject    string         `json:"subject,omitempty"` // what was acted on: a path, a tag, a user
	RemoteAddr string         `json:"remote_addr,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
	Detail     map[string]any `json:"detail,omitempty"`
}

// Log writes audit events.
type Log struct {
	db    *meta.DB
	log   *slog.Logger
	subs  []func(context.Context, Event)
	txSub []TxSubscriber
}

// A TxSubscriber writes what an event calls for (the jobs that index,
// scan or follow it) in the transaction that records the event, through
// tx only: the event and its jobs commit together, with one sync of
// SQLite's log where they took one each, one after the other, on the
// request's path. It must be quick and must not wait for another
// writer. Its error is logged; the event is recorded all the same.
type TxSubscriber func(ctx context.Context, tx *sql.Tx, e Event) error

// SubscribeTx adds fn to what runs in the transaction of each event
// recorded, before the subscribers of Subscribe run. Subscribe before
// serving, as with Subscribe.
func (l *Log) SubscribeTx(fn TxSubscriber) { l.txSub = append(l.txSub, fn) }

// Subscribe adds fn to what runs after each event is recorded: the one
// place features that react to changes (replication, webhooks) hear of
// them. fn runs synchronously on the request's goroutine with a context
// that is not cancelled by the request's end, so it must be quick — enqueue
// a durable job, do not do the work. Subscribe before serving: it is not
// safe to call concurrently with Record.
func (l *Log) Subscribe(fn func(context.Context, Event)) { l.subs = append(l.subs, fn) }

// New returns a Log.
func New(db *meta.DB, log *slog.Logger) *Log { return &Log{db: db, log: log} }

// Record writes e, filling the actor and request ID from ctx. A failure to
// record is logged, not returned: the audited action has already happened.
func (l *Log) Record(ctx context.Context, e Event) {
	ctx = context.WithoutCancel(ctx)
	detail := l.prepare(ctx, &e)
	// Through the group commit (meta.DB.WithBatchTx): on SQLite the events
	// of concurrent writes share transactions instead of queueing for the
	// write lock one by one; the transaction subscribers write in it too.
	var subErr error
	err := l.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		subErr = nil
		return l.write(ctx, tx, &e, detail, l.txSub, &subErr)
	})
	l.finish(ctx, e, detail, err, subErr)
}

// RecordIn writes e in tx, the transaction of the change e records, so
// that the change, its event and the jobs the event calls for (the
// transaction subscribers) commit together, with one sync of SQLite's log
// rather than one after the other. It writes inside a savepoint: when
// recording fails, that alone is rolled back and the change goes on. The
// caller runs the function returned once tx has committed, and only then:
// it runs the other subscribers, and records e the usual way when it
// could not be recorded in tx. If tx runs its function again (a retried
// transaction), the last call's function is the one to run.
func (l *Log) RecordIn(ctx context.Context, tx *sql.Tx, e Event) (committed func()) {
	ctx = context.WithoutCancel(ctx)
	detail := l.prepare(ctx, &e)
	var subErr error
	err := savepoint(ctx, tx, func() error { return l.write(ctx, tx, &e, detail, l.txSub, &subErr) })
	if err != nil {
		l.log.WarnContext(ctx, "audit record in the change's transaction failed; recording it after", "action", e.Action, "err", err)
		return func() { l.Record(ctx, e) }
	}
	return func() { l.finish(ctx, e, detail, nil, nil) }
}

// savepoint runs fn in a savepoint of tx, rolled back alone when fn fails.
func savepoint(ctx context.Context, tx *sql.Tx, fn func() error) error {
	if _, err := tx.ExecContext(ctx, `SAVEPOINT audit_record`); err != nil {
		return err
	}
	if err := fn(); err != nil {
		if _, rerr := tx.ExecContext(ctx, `ROLLBACK TO SAVEPOINT audit_record`); rerr != nil {
			return errors.Join(err, rerr)
		}
		_, rerr := tx.ExecContext(ctx, `RELEASE SAVEPOINT audit_record`)
		return errors.Join(err, rerr)
	}
	_, err := tx.ExecContext(ctx, `RELEASE SAVEPOINT audit_record`)
	return err
}

// prepare fills e's actor, request ID and time, and returns its detail as
// stored.
func (l *Log) prepare(ctx context.Context, e *Event) (detail string) {
	if e.Actor == "" {
		e.Actor = auth.From(ctx).String()
	}
	if e.RequestID == "" {
		e.RequestID = httpx.RequestID(ctx)
	}
	e.At = meta.Now()
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		detail = string(b)
	}
	return detail
}

// write inserts e (setting its ID) and runs subs in tx; a subscriber's
// error is also left in subErr.
func (l *Log) write(ctx context.Context, tx *sql.Tx, e *Event, detail string, subs []TxSubscriber, subErr *error) error {
	err := tx.QueryRowContext(ctx,
		`INSERT INTO audit_events (at, actor, action, repository, subject, remote_addr, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		e.At, e.Actor, e.Action, e.Repository, e.Subject, e.RemoteAddr, e.RequestID, detail).Scan(&e.ID)
	if err != nil {
		return err
	}
	for _, fn := range subs {
		if err := fn(ctx, tx, *e); err != nil {
			*subErr = err
			return err
		}
	}
	return nil
}

// finish follows the writing of e: when a transaction subscriber failed
// (and the event with it), the event alone, then each transaction
// subscriber in a transaction of its own; then the other subscribers.
func (l *Log) finish(ctx context.Context, e Event, detail string, err, subErr error) {
	if err != nil && subErr != nil {
		err = l.db.WithBatchTx(ctx, func(tx *sql.Tx) error { return l.write(ctx, tx, &e, detail, nil, nil) })
		for _, fn := range l.txSub {
			if serr := l.db.WithBatchTx(ctx, func(tx *sql.Tx) error { return fn(ctx, tx, e) }); serr != nil {
				l.log.WarnContext(ctx, "audit subscriber failed", "action", e.Action, "subject", e.Subject, "err", serr)
			}
		}
	}
	if err != nil {
		l.log.ErrorContext(ctx, "audit record failed", "action", e.Action, "err", err)
	}
	for _, fn := range l.subs {
		fn(ctx, e)
	}
}

// List returns events newest first, older than beforeID when it is not 0.
func (l *Log) List(ctx context.Context, beforeID int64, limit int) ([]Event, error) {
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	rows, err := l.db.QueryContext(ctx,
		`SELECT id, at, actor, action, repository, subject, remote_addr, request_id, detail FROM audit_events
		 WHERE ($1 = 0 OR id < $1) ORDER BY id DESC LIMIT $2`, beforeID, limit)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		var detail string
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Repository, &e.Subject, &e.RemoteAddr, &e.RequestID, &detail); err != nil {
			return nil, meta.Err(err)
		}
		if detail != "" {
			if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
				return nil, errs.Wrap(err, errs.Internal, "corrupt audit detail")
			}
		}
		out = append(out, e)
	}
	return out, meta.Err(rows.Err())
}
