package webhook

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
)

// maxPerScope bounds the subscriptions of one repository (or the global
// ones): every event queries and fans out to them.
const maxPerScope = 100

// scope resolves the request's scope and checks the caller may manage
// it: a global admin for /api/v1/webhooks, a repository admin for
// /api/v1/repositories/{name}/webhooks.
func (s *Service) scope(r *http.Request) (scope, error) {
	return s.scopeFor(r.Context(), r.PathValue("name"))
}

// scopeFor resolves repository's webhooks ("" for the global ones) for
// the caller ctx carries, refusing a caller who may not manage them.
func (s *Service) scopeFor(ctx context.Context, repository string) (scope, error) {
	p := auth.From(ctx)
	if repository == "" {
		return scope{}, auth.RequireAdmin(p)
	}
	if p.Anonymous() {
		return scope{}, errs.E(errs.Unauthenticated, "authentication required")
	}
	rp, err := s.repos.Get(ctx, repository)
	if err != nil {
		return scope{}, err
	}
	if err := s.auth.Authorize(ctx, p, rp, auth.Manage); err != nil {
		return scope{}, err
	}
	return scope{repoID: rp.ID, repo: rp.Name}, nil
}

// subscription resolves {id} within the request's scope.
func (s *Service) subscription(r *http.Request) (scope, *Subscription, error) {
	sc, err := s.scope(r)
	if err != nil {
		return sc, nil, err
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return sc, nil, errs.E(errs.NotFound, "no webhook %q", r.PathValue("id"))
	}
	sub, err := s.get(r.Context(), sc, id)
	return sc, sub, err
}

func (s *Service) listEventTypes(w http.ResponseWriter, r *http.Request) error {
	if auth.From(r.Context()).Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	return httpx.WriteJSON(w, http.StatusOK, Types())
}

func (s *Service) listSubscriptions(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.scope(r)
	if err != nil {
		return err
	}
	subs, err := s.list(r.Context(), sc)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, subs)
}

func (s *Service) getSubscription(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.subscription(r)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, sub)
}

// SubscriptionInput is the body of a create (every field) or an update
// (the fields present).
type SubscriptionInput struct {
	URL           *string   `json:"url"`
	Events        *[]string `json:"events"`
	PayloadFormat *string   `json:"payload_format"`
	Enabled       *bool     `json:"enabled"`
	Description   *string   `json:"description"`
	// Secret sets the signing secret; "" on create generates one. On
	// update, RotateSecret generates a new one.
	Secret       *string `json:"secret"`
	RotateSecret bool    `json:"rotate_secret"`
}

// apply checks in and copies it onto sub; it returns the new secret when
// one is set.
func (in SubscriptionInput) apply(sub *Subscription, creating bool) (secret string, err error) {
	if in.URL != nil {
		if err := CheckURL(*in.URL); err != nil {
			return "", err
		}
		sub.URL = *in.URL
	} else if creating {
		return "", errs.E(errs.Invalid, "url is required")
	}
	if in.Events != nil {
		ev := *in.Events
		if len(ev) > 50 {
			return "", errs.E(errs.Invalid, "at most 50 event filters")
		}
		if err := checkFilter(ev); err != nil {
			return "", errs.E(errs.Invalid, "%v", err)
		}
		sub.Events = ev
	}
	if sub.Events == nil {
		sub.Events = []string{}
	}
	if in.PayloadFormat != nil {
		switch *in.PayloadFormat {
		case FormatCloudEvents, FormatSlack:
			sub.PayloadFormat = *in.PayloadFormat
		case "":
			sub.PayloadFormat = FormatCloudEvents
		default:
			return "", errs.E(errs.Invalid, "payload_format is cloudevents or slack, not %q", *in.PayloadFormat)
		}
	} else if creating {
		sub.PayloadFormat = FormatCloudEvents
	}
	if in.Enabled != nil {
		sub.Enabled = *in.Enabled
	} else if creating {
		sub.Enabled = true
	}
	if in.Description != nil {
		if len(*in.Description) > 1000 {
			return "", errs.E(errs.Invalid, "description longer than 1000 bytes")
		}
		sub.Description = *in.Description
	}
	switch {
	case in.Secret != nil && *in.Secret != "":
		if len(*in.Secret) < 16 || len(*in.Secret) > 256 {
			return "", errs.E(errs.Invalid, "secret must be 16 to 256 bytes")
		}
		return *in.Secret, nil
	case creating || in.RotateSecret:
		return newSecret(), nil
	}
	return "", nil
}

func (s *Service) createSubscription(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.scope(r)
	if err != nil {
		return err
	}
	var in SubscriptionInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	sub, err := s.create(r.Context(), sc, in, r.RemoteAddr)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusCreated, sub)
}

// create adds a subscription to sc (checked by the caller) and returns it
// with its secret.
func (s *Service) create(ctx context.Context, sc scope, in SubscriptionInput, remote string) (*Subscription, error) {
	sub := &Subscription{Repository: sc.repo, CreatedBy: auth.From(ctx).String()}
	secret, err := in.apply(sub, true)
	if err != nil {
		return nil, err
	}
	events, _ := json.Marshal(sub.Events)
	var repoID any
	if sc.repoID != 0 {
		repoID = sc.repoID
	}
	if err := s.primeKey(ctx); err != nil {
		return nil, err
	}
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM webhook_subscriptions WHERE repository_id IS NOT DISTINCT FROM $1`, repoID).Scan(&n); err != nil {
			return err
		}
		if n >= maxPerScope {
			return errs.E(errs.Conflict, "at most %d webhooks per repository (and globally)", maxPerScope)
		}
		now := meta.Now()
		sub.CreatedAt, sub.UpdatedAt = now, now
		if err := tx.QueryRowContext(ctx, `INSERT INTO webhook_subscriptions
			(repository_id, url, events, payload_format, enabled, description, created_by, created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
			repoID, sub.URL, string(events), sub.PayloadFormat, boolInt(sub.Enabled), sub.Description, sub.CreatedBy, now).Scan(&sub.ID); err != nil {
			return err
		}
		return s.storeSecret(ctx, tx, sub.ID, secret)
	})
	if err != nil {
		return nil, meta.Err(err)
	}
	s.record(ctx, remote, "webhook.create", sub)
	sub.Secret = secret
	return sub, nil
}

func (s *Service) storeSecret(ctx context.Context, q meta.Querier, id int64, secret string) error {
	sealed, err := s.keys.Seal(ctx, secretKey, []byte(secret), secretAD(id))
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `UPDATE webhook_subscriptions SET secret = $2 WHERE id = $1`, id, sealed)
	return err
}

// primeKey makes sure the sealing key exists before a transaction seals
// with it: creating it writes on another connection, which on SQLite would
// wait for the transaction's own write lock.
func (s *Service) primeKey(ctx context.Context) error {
	_, err := s.keys.Seal(ctx, secretKey, nil, nil)
	return err
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Service) updateSubscription(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.subscription(r)
	if err != nil {
		return err
	}
	var in SubscriptionInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	secret, err := in.apply(sub, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	events, _ := json.Marshal(sub.Events)
	sub.UpdatedAt = meta.Now()
	if err := s.primeKey(ctx); err != nil {
		return err
	}
	err = s.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE webhook_subscriptions SET url = $2, events = $3, payload_format = $4, enabled = $5,
			description = $6, updated_at = $7 WHERE id = $1`,
			sub.ID, sub.URL, string(events), sub.PayloadFormat, boolInt(sub.Enabled), sub.Description, sub.UpdatedAt); err != nil {
			return err
		}
		if secret == "" {
			return nil
		}
		return s.storeSecret(ctx, tx, sub.ID, secret)
	})
	if err != nil {
		return meta.Err(err)
	}
	s.record(r.Context(), r.RemoteAddr, "webhook.update", sub)
	sub.Secret = secret
	return httpx.WriteJSON(w, http.StatusOK, sub)
}

func (s *Service) deleteSubscription(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.subscription(r)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(r.Context(), `DELETE FROM webhook_subscriptions WHERE id = $1`, sub.ID); err != nil {
		return meta.Err(err)
	}
	s.record(r.Context(), r.RemoteAddr, "webhook.delete", sub)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Service) pingSubscription(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.subscription(r)
	if err != nil {
		return err
	}
	d, err := s.ping(r.Context(), sub)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusAccepted, d)
}

// listDeliveries answers ?before=<id>&limit=<n> (at most 200).
func (s *Service) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	_, sub, err := s.subscription(r)
	if err != nil {
		return err
	}
	before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	ds, err := s.deliveries(r.Context(), sub.ID, before, limit)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, ds)
}

func (s *Service) deliveryOf(r *http.Request) (*Subscription, int64, error) {
	_, sub, err := s.subscription(r)
	if err != nil {
		return nil, 0, err
	}
	id, err := strconv.ParseInt(r.PathValue("delivery"), 10, 64)
	if err != nil {
		return nil, 0, errs.E(errs.NotFound, "no delivery %q", r.PathValue("delivery"))
	}
	return sub, id, nil
}

func (s *Service) getDelivery(w http.ResponseWriter, r *http.Request) error {
	sub, id, err := s.deliveryOf(r)
	if err != nil {
		return err
	}
	d, err := s.delivery(r.Context(), sub.ID, id)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, d)
}

func (s *Service) redeliverDelivery(w http.ResponseWriter, r *http.Request) error {
	sub, id, err := s.deliveryOf(r)
	if err != nil {
		return err
	}
	d, err := s.redeliver(r.Context(), sub.ID, id)
	if err != nil {
		return err
	}
	s.audit.Record(r.Context(), audit.Event{Action: "webhook.redeliver", Repository: sub.Repository, Subject: strconv.FormatInt(sub.ID, 10),
		RemoteAddr: r.RemoteAddr, Detail: map[string]any{"delivery": id, "new_delivery": d.ID}})
	return httpx.WriteJSON(w, http.StatusAccepted, d)
}

// record audits a subscription change (never the secret).
func (s *Service) record(ctx context.Context, remote, action string, sub *Subscription) {
	s.audit.Record(ctx, audit.Event{Action: action, Repository: sub.Repository, Subject: strconv.FormatInt(sub.ID, 10),
		RemoteAddr: remote, Detail: map[string]any{"url": redactURL(sub.URL), "events": strings.Join(sub.Events, ",")}})
}

// redactURL drops a URL's query, where receivers often keep tokens.
func redactURL(raw string) string {
	u, _, _ := strings.Cut(raw, "?")
	return u
}
