package webhook

import (
	"context"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/meta"
)

// What the web UI calls. Each function checks, as the API does, that the
// caller ctx carries may manage the webhooks of repository ("" for the
// global ones): a global admin, or an admin of that repository.

// View is a subscription with its latest deliveries.
type View struct {
	*Subscription
	Recent []*Delivery
}

// Overview lists repository's subscriptions with their recent deliveries
// (at most recent each).
func (s *Service) Overview(ctx context.Context, repository string, recent int) ([]View, error) {
	sc, err := s.scopeFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	subs, err := s.list(ctx, sc)
	if err != nil {
		return nil, err
	}
	out := make([]View, 0, len(subs))
	for _, sub := range subs {
		ds, err := s.deliveries(ctx, sub.ID, 0, recent)
		if err != nil {
			return nil, err
		}
		out = append(out, View{Subscription: sub, Recent: ds})
	}
	return out, nil
}

// Create adds a subscription from a form: events is a comma- or
// space-separated list (empty: all). It returns the subscription with its
// secret, which is not shown again.
func (s *Service) Create(ctx context.Context, repository, url, events, format, remote string) (*Subscription, error) {
	sc, err := s.scopeFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	ev := strings.FieldsFunc(events, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
	return s.create(ctx, sc, SubscriptionInput{URL: &url, Events: &ev, PayloadFormat: &format}, remote)
}

// Delete removes subscription id of repository.
func (s *Service) Delete(ctx context.Context, repository string, id int64, remote string) error {
	sc, err := s.scopeFor(ctx, repository)
	if err != nil {
		return err
	}
	sub, err := s.get(ctx, sc, id)
	if err != nil {
		return err
	}
	if _, err := s.db.ExecContext(ctx, `DELETE FROM webhook_subscriptions WHERE id = $1`, sub.ID); err != nil {
		return meta.Err(err)
	}
	s.record(ctx, remote, "webhook.delete", sub)
	return nil
}

// Ping queues a ping to subscription id of repository.
func (s *Service) Ping(ctx context.Context, repository string, id int64) (*Delivery, error) {
	sc, err := s.scopeFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	sub, err := s.get(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	return s.ping(ctx, sub)
}

// Redeliver queues delivery's event again to subscription id of repository.
func (s *Service) Redeliver(ctx context.Context, repository string, id, delivery int64, remote string) (*Delivery, error) {
	sc, err := s.scopeFor(ctx, repository)
	if err != nil {
		return nil, err
	}
	sub, err := s.get(ctx, sc, id)
	if err != nil {
		return nil, err
	}
	d, err := s.redeliver(ctx, sub.ID, delivery)
	if err != nil {
		return nil, err
	}
	s.audit.Record(ctx, audit.Event{Action: "webhook.redeliver", Repository: sub.Repository, Subject: strconv.FormatInt(sub.ID, 10),
		RemoteAddr: remote, Detail: map[string]any{"delivery": delivery, "new_delivery": d.ID}})
	return d, nil
}

// CanManage reports whether the caller may manage repository's webhooks.
func (s *Service) CanManage(ctx context.Context, repository string) bool {
	_, err := s.scopeFor(ctx, repository)
	return err == nil
}
