// Package webhook sends arca's events to HTTP receivers: subscriptions per
// repository and global, CloudEvents 1.0 JSON (or a Slack-compatible
// {"text": ...}) signed with HMAC-SHA256, delivered durably through the
// job runner with retries, and a delivery log an admin can read and
// redeliver from. docs/webhooks.md is the receiver's side.
//
// Events come from the audit trail (Service.OnAudit, subscribed in the
// composition root): every audited change that has an event type (see
// actions) becomes one delivery per subscription that wants it. Features
// whose events are not audited call Service.Emit.
package webhook

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/riverqueue/river"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/jobs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Sealer seals subscription secrets under a server key
// (internal/keyring.Keyring).
type Sealer interface {
	Seal(ctx context.Context, key string, plaintext, ad []byte) (string, error)
	Unseal(ctx context.Context, key, sealed string, ad []byte) ([]byte, error)
}

// Queue is the job queue deliveries go through (jobs.Runner).
type Queue interface {
	Enqueue(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (jobs.Job, error)
}

// Deps are the service's dependencies.
type Deps struct {
	DB      *meta.DB
	Repos   *repo.Store
	Auth    *auth.Service
	Audit   *audit.Log
	Keys    Sealer
	Queue   Queue
	Metrics *Metrics
	Log     *slog.Logger
	// PublicURL prefixes the events' source.
	PublicURL string
	// Timeout bounds one attempt: connecting, sending and reading the
	// response (default 10s).
	Timeout time.Duration
	// MaxAttempts is how often a delivery is tried before it fails
	// (default 8: river's backoff, attempt⁴ seconds, spreads them over
	// about 80 minutes).
	MaxAttempts int
	// Transport overrides the HTTP transport (tests); nil is one that
	// refuses link-local addresses.
	Transport http.RoundTripper
}

// Service is the webhook subsystem of one arca process.
type Service struct {
	db          *meta.DB
	repos       *repo.Store
	auth        *auth.Service
	audit       *audit.Log
	keys        Sealer
	queue       Queue
	metrics     *Metrics
	log         *slog.Logger
	publicURL   string
	timeout     time.Duration
	maxAttempts int
	client      *http.Client
	surface     httpx.Surface
}

// New returns the service; Routes mounts its API, OnAudit is what the
// audit log calls.
func New(d Deps) *Service {
	s := &Service{db: d.DB, repos: d.Repos, auth: d.Auth, audit: d.Audit, keys: d.Keys, queue: d.Queue, metrics: d.Metrics,
		log: cmp.Or(d.Log, slog.Default()), publicURL: d.PublicURL,
		timeout: cmp.Or(d.Timeout, 10*time.Second), maxAttempts: cmp.Or(d.MaxAttempts, 8)}
	if s.metrics == nil {
		s.metrics = NewMetrics(nil)
	}
	s.client = newClient(d.Transport, s.timeout)
	s.surface = httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: d.Auth, Log: s.log}
	return s
}

// AttemptTimeout is the longest one attempt takes.
func (s *Service) AttemptTimeout() time.Duration { return s.timeout }

// secretKey names the server key that seals subscription secrets.
const secretKey = "webhook_secrets_key"

func secretAD(id int64) []byte { return []byte("webhook:" + strconv.FormatInt(id, 10)) }

// newSecret is a fresh 256-bit signing secret.
func newSecret() string {
	var b [32]byte
	rand.Read(b[:])
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b[:])
}

// OnAudit turns an audited action into deliveries (audit.Log.Subscribe).
// It runs on the request's goroutine, so it only writes the deliveries'
// rows and their jobs; a failure is logged, never returned to the
// request, whose change has already happened.
func (s *Service) OnAudit(ctx context.Context, e audit.Event) {
	ev, ok := fromAudit(e)
	if !ok {
		return
	}
	if _, err := s.Emit(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "webhook: queuing deliveries", "action", e.Action, "audit_id", e.ID, "err", err)
	}
}

// Emit queues one delivery of ev to every enabled subscription that wants
// it and returns how many. It is how features whose events are not
// audited (a refused download, say) reach webhooks; audited ones arrive
// through OnAudit and must not call it too. It only writes rows and jobs.
func (s *Service) Emit(ctx context.Context, ev Event) (int, error) {
	subs, err := s.listeners(ctx, ev.Repository)
	if err != nil {
		return 0, err
	}
	var ce *CloudEvent
	var payload []byte
	var failed []error
	n := 0
	for _, sub := range subs {
		if !matches(sub.Events, ev.Type) {
			continue
		}
		if ce == nil { // one event, one id, for every subscription
			c := cloudEvent(ev, s.publicURL)
			ce = &c
			if payload, err = json.Marshal(c); err != nil {
				return n, errs.Wrap(err, errs.Internal, "encoding an event")
			}
		}
		if _, err := s.enqueue(ctx, sub.ID, *ce, payload, 0); err != nil {
			failed = append(failed, err) // the others still get it
			continue
		}
		n++
	}
	return n, errors.Join(failed...)
}

// enqueue writes a delivery and its job. The two writes are not one
// transaction (river on PostgreSQL has its own pool), so a job that cannot
// be queued leaves the delivery failed with the reason, for an admin to
// redeliver; never a delivery that silently waits forever.
func (s *Service) enqueue(ctx context.Context, subID int64, ce CloudEvent, payload []byte, redeliveryOf int64) (int64, error) {
	id, err := s.insertDelivery(ctx, subID, ce, payload, redeliveryOf)
	if err != nil {
		return 0, err
	}
	_, err = s.queue.Enqueue(ctx, DeliveryArgs{DeliveryID: id}, &river.InsertOpts{Queue: QueueName, MaxAttempts: s.maxAttempts})
	if err != nil {
		s.setState(context.WithoutCancel(ctx), s.db, id, StateFailed, 0, 0, "could not be queued: "+errs.Message(err))
		return id, err
	}
	s.metrics.queued.Inc()
	return id, nil
}

// QueueName is the job queue deliveries run in, with webhooks.workers
// workers per process of its own: they wait on receivers, not on arca.
const QueueName = "webhooks"

// DeliveryArgs is the job of one delivery.
type DeliveryArgs struct {
	DeliveryID int64 `json:"delivery_id"`
}

// Kind is the job kind in the history.
func (DeliveryArgs) Kind() string { return "webhook_delivery" }

// PruneArgs is the periodic removal of finished deliveries older than
// webhooks.retention.
type PruneArgs struct{}

// Kind is the job kind in the history.
func (PruneArgs) Kind() string { return "webhook_prune" }

// Prune removes finished deliveries older than keep.
func (s *Service) Prune(ctx context.Context, keep time.Duration) (int64, error) {
	return s.prune(ctx, time.Now().Add(-keep).UnixMilli())
}

// redeliver queues the event of delivery id again, as a new delivery.
func (s *Service) redeliver(ctx context.Context, subID, id int64) (*Delivery, error) {
	d, err := s.delivery(ctx, subID, id)
	if err != nil {
		return nil, err
	}
	var ce CloudEvent
	if err := json.Unmarshal(d.Payload, &ce); err != nil {
		return nil, errs.Wrap(err, errs.Internal, "corrupt delivery payload")
	}
	nid, err := s.enqueue(ctx, d.SubscriptionID, ce, d.Payload, d.ID)
	if err != nil {
		return nil, err
	}
	return s.delivery(ctx, subID, nid)
}

// ping queues a TypePing event to one subscription, whatever its filter.
func (s *Service) ping(ctx context.Context, sub *Subscription) (*Delivery, error) {
	ce := cloudEvent(Event{Type: TypePing, Repository: sub.Repository, Actor: auth.From(ctx).String(),
		Subject: "webhook/" + strconv.FormatInt(sub.ID, 10)}, s.publicURL)
	payload, err := json.Marshal(ce)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "encoding an event")
	}
	id, err := s.enqueue(ctx, sub.ID, ce, payload, 0)
	if err != nil {
		return nil, err
	}
	return s.delivery(ctx, sub.ID, id)
}
