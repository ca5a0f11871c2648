// Package audit records who changed what, for every surface, in the
// metadata database.
package audit

import (
	"context"
	"database/sql"
	"encoding/json"
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
	if e.Actor == "" {
		e.Actor = auth.From(ctx).String()
	}
	if e.RequestID == "" {
		e.RequestID = httpx.RequestID(ctx)
	}
	e.At = meta.Now()
	detail := ""
	if len(e.Detail) > 0 {
		b, _ := json.Marshal(e.Detail)
		detail = string(b)
	}
	ctx = context.WithoutCancel(ctx)
	insert := func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx,
			`INSERT INTO audit_events (at, actor, action, repository, subject, remote_addr, request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
			e.At, e.Actor, e.Action, e.Repository, e.Subject, e.RemoteAddr, e.RequestID, detail).Scan(&e.ID)
	}
	// Through the group commit (meta.DB.WithBatchTx): on SQLite the events
	// of concurrent writes share transactions instead of queueing for the
	// write lock one by one; the transaction subscribers write in it too.
	var subErr error
	err := l.db.WithBatchTx(ctx, func(tx *sql.Tx) error {
		if err := insert(tx); err != nil {
			return err
		}
		for _, fn := range l.txSub {
			if subErr = fn(ctx, tx, e); subErr != nil {
				return subErr
			}
		}
		return nil
	})
	if err != nil && subErr != nil {
		// A subscriber failed, and the event went with it: the event
		// alone, then each subscriber in a transaction of its own.
		err = l.db.WithBatchTx(ctx, insert)
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
