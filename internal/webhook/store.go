package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Subscription is where events are sent.
type Subscription struct {
	ID int64 `json:"id"`
	// Repository is the repository whose events it receives; "" for a
	// global subscription, which receives every repository's events and
	// the server's own.
	Repository string `json:"repository,omitempty"`
	URL        string `json:"url"`
	// Events are the CloudEvents types it receives (an entry ending in *
	// is a prefix); empty receives all.
	Events []string `json:"events"`
	// PayloadFormat is "cloudevents" (the default) or "slack" ({"text": ...}).
	PayloadFormat string `json:"payload_format"`
	Enabled       bool   `json:"enabled"`
	Description   string `json:"description,omitempty"`
	CreatedBy     string `json:"created_by"`
	CreatedAt     int64  `json:"created_at"`
	UpdatedAt     int64  `json:"updated_at"`
	// Secret is shown once, in the answer that set it.
	Secret string `json:"secret,omitempty"`

	repositoryID sql.NullInt64
	sealed       string
}

// The payload formats.
const (
	FormatCloudEvents = "cloudevents"
	FormatSlack       = "slack"
)

// Delivery is one event sent (or being sent) to one subscription.
type Delivery struct {
	ID             int64           `json:"id"`
	SubscriptionID int64           `json:"subscription_id"`
	EventID        string          `json:"event_id"`
	EventType      string          `json:"event_type"`
	Subject        string          `json:"subject,omitempty"`
	State          string          `json:"state"` // queued, retrying, delivered, failed
	Attempts       int             `json:"attempts"`
	LastStatus     int             `json:"last_status,omitempty"`
	LastError      string          `json:"last_error,omitempty"`
	RedeliveryOf   int64           `json:"redelivery_of,omitempty"`
	CreatedAt      int64           `json:"created_at"`
	FinishedAt     int64           `json:"finished_at,omitempty"`
	Payload        json.RawMessage `json:"payload,omitempty"`
	AttemptLog     []Attempt       `json:"attempt_log,omitempty"`
}

// The states of a delivery.
const (
	StateQueued    = "queued"
	StateRetrying  = "retrying"
	StateDelivered = "delivered"
	StateFailed    = "failed"
)

// Attempt is one try of a delivery.
type Attempt struct {
	Attempt    int    `json:"attempt"`
	StartedAt  int64  `json:"started_at"`
	DurationMS int64  `json:"duration_ms"`
	StatusCode int    `json:"status_code,omitempty"`
	Response   string `json:"response,omitempty"`
	Error      string `json:"error,omitempty"`
}

const subscriptionColumns = `s.id, s.repository_id, COALESCE(r.name, ''), s.url, s.secret, s.events, s.payload_format, s.enabled,
	s.description, s.created_by, s.created_at, s.updated_at`

const subscriptionFrom = ` FROM webhook_subscriptions s LEFT JOIN repositories r ON r.id = s.repository_id`

func scanSubscription(row interface{ Scan(...any) error }) (*Subscription, error) {
	var s Subscription
	var events string
	var enabled int
	if err := row.Scan(&s.ID, &s.repositoryID, &s.Repository, &s.URL, &s.sealed, &events, &s.PayloadFormat, &enabled,
		&s.Description, &s.CreatedBy, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	s.Enabled = enabled != 0
	if err := json.Unmarshal([]byte(events), &s.Events); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt webhook event filter")
	}
	if s.Events == nil {
		s.Events = []string{}
	}
	return &s, nil
}

// scope is where a subscription lives: one repository's (repoID set) or
// the global ones.
type scope struct {
	repoID int64 // 0 for global
	repo   string
}

func (sc scope) where() (string, []any) {
	if sc.repoID == 0 {
		return ` WHERE s.repository_id IS NULL`, nil
	}
	return ` WHERE s.repository_id = $1`, []any{sc.repoID}
}

func (s *Service) list(ctx context.Context, sc scope) ([]*Subscription, error) {
	where, args := sc.where()
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+where+` ORDER BY s.id`, args...)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Subscription{}
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, sub)
	}
	return out, meta.Err(rows.Err())
}

// get returns the subscription id of scope sc; one of another scope is
// not found.
func (s *Service) get(ctx context.Context, sc scope, id int64) (*Subscription, error) {
	where, args := sc.where()
	args = append(args, id)
	sub, err := scanSubscription(s.db.QueryRowContext(ctx,
		`SELECT `+subscriptionColumns+subscriptionFrom+where+` AND s.id = $`+strconv.Itoa(len(args)), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no webhook %d here", id)
	}
	return sub, meta.Err(err)
}

// byID returns any subscription, for the delivery worker.
func (s *Service) byID(ctx context.Context, id int64) (*Subscription, error) {
	sub, err := scanSubscription(s.db.QueryRowContext(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+` WHERE s.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no webhook %d", id)
	}
	return sub, meta.Err(err)
}

// listeners are the enabled subscriptions an event of repository (by
// name; "" for server events) reaches: the global ones and the
// repository's own.
func (s *Service) listeners(ctx context.Context, repository string) ([]*Subscription, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+`
		WHERE s.enabled = 1 AND (s.repository_id IS NULL OR ($1 <> '' AND r.name = $1)) ORDER BY s.id`, repository)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*Subscription
	for rows.Next() {
		sub, err := scanSubscription(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, sub)
	}
	return out, meta.Err(rows.Err())
}

const deliveryColumns = `id, subscription_id, event_id, event_type, subject, state, attempts, last_status, last_error,
	COALESCE(redelivery_of, 0), created_at, COALESCE(finished_at, 0)`

func scanDelivery(row interface{ Scan(...any) error }, withPayload bool) (*Delivery, error) {
	var d Delivery
	dest := []any{&d.ID, &d.SubscriptionID, &d.EventID, &d.EventType, &d.Subject, &d.State, &d.Attempts, &d.LastStatus,
		&d.LastError, &d.RedeliveryOf, &d.CreatedAt, &d.FinishedAt}
	var payload string
	if withPayload {
		dest = append(dest, &payload)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if withPayload {
		d.Payload = json.RawMessage(payload)
	}
	return &d, nil
}

// deliveries returns a subscription's deliveries, newest first, older
// than before when it is not 0.
func (s *Service) deliveries(ctx context.Context, subID, before int64, limit int) ([]*Delivery, error) {
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+deliveryColumns+` FROM webhook_deliveries
		WHERE subscription_id = $1 AND ($2 = 0 OR id < $2) ORDER BY id DESC LIMIT $3`, subID, before, limit)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []*Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows, false)
		if err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, d)
	}
	return out, meta.Err(rows.Err())
}

// delivery returns one delivery of subscription subID (0: any) with its
// payload and attempts.
func (s *Service) delivery(ctx context.Context, subID, id int64) (*Delivery, error) {
	d, err := scanDelivery(s.db.QueryRowContext(ctx, `SELECT `+deliveryColumns+`, payload FROM webhook_deliveries
		WHERE id = $1 AND ($2 = 0 OR subscription_id = $2)`, id, subID), true)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errs.E(errs.NotFound, "no delivery %d", id)
	}
	if err != nil {
		return nil, meta.Err(err)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT attempt, started_at, duration_ms, status_code, response, error
		FROM webhook_attempts WHERE delivery_id = $1 ORDER BY attempt, id`, id)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var a Attempt
		if err := rows.Scan(&a.Attempt, &a.StartedAt, &a.DurationMS, &a.StatusCode, &a.Response, &a.Error); err != nil {
			return nil, meta.Err(err)
		}
		d.AttemptLog = append(d.AttemptLog, a)
	}
	return d, meta.Err(rows.Err())
}

// insertDelivery adds a queued delivery and returns its ID.
func (s *Service) insertDelivery(ctx context.Context, subID int64, ce CloudEvent, payload []byte, redeliveryOf int64) (int64, error) {
	var id int64
	var of any
	if redeliveryOf != 0 {
		of = redeliveryOf
	}
	err := s.db.QueryRowContext(ctx, `INSERT INTO webhook_deliveries
		(subscription_id, event_id, event_type, subject, payload, state, redelivery_of, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
		subID, ce.ID, ce.Type, ce.Subject, string(payload), StateQueued, of, meta.Now()).Scan(&id)
	return id, meta.Err(err)
}

// recordAttempt logs one attempt and moves the delivery to state.
func (s *Service) recordAttempt(ctx context.Context, deliveryID int64, a Attempt, state string) error {
	return s.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_attempts (delivery_id, attempt, started_at, duration_ms, status_code, response, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, deliveryID, a.Attempt, a.StartedAt, a.DurationMS, a.StatusCode, a.Response, a.Error); err != nil {
			return err
		}
		return s.setState(ctx, tx, deliveryID, state, a.Attempt, a.StatusCode, a.Error)
	})
}

func (s *Service) setState(ctx context.Context, q meta.Querier, deliveryID int64, state string, attempts, status int, lastErr string) error {
	var finished any
	if state == StateDelivered || state == StateFailed {
		finished = meta.Now()
	}
	_, err := q.ExecContext(ctx, `UPDATE webhook_deliveries SET state = $2, attempts = $3, last_status = $4, last_error = $5, finished_at = $6
		WHERE id = $1`, deliveryID, state, attempts, status, lastErr, finished)
	return meta.Err(err)
}

// payloadOf returns a delivery's stored CloudEvent.
func (s *Service) payloadOf(ctx context.Context, deliveryID int64) (subID int64, payload []byte, err error) {
	var p string
	err = s.db.QueryRowContext(ctx, `SELECT subscription_id, payload FROM webhook_deliveries WHERE id = $1`, deliveryID).Scan(&subID, &p)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, errs.E(errs.NotFound, "no delivery %d", deliveryID)
	}
	return subID, []byte(p), meta.Err(err)
}

// prune removes deliveries (and their attempts) finished before cutoff.
func (s *Service) prune(ctx context.Context, cutoff int64) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE finished_at IS NOT NULL AND finished_at < $1`, cutoff)
	if err != nil {
		return 0, meta.Err(err)
	}
	return res.RowsAffected()
}
