package webhook

import "net/http"

// Routes registers the webhook API, readable top to bottom. Global
// subscriptions are a global admin's; a repository's are its admins'
// (auth.Manage on it). A subscription is addressed only under its own
// scope: /api/v1/webhooks/{id} is never a repository's.
func (s *Service) Routes(mux *http.ServeMux) {
	h := &s.surface
	mux.Handle("GET /api/v1/webhooks/events", h.Handle(s.listEventTypes)) // the event types a filter may name

	for _, base := range []string{"/api/v1/webhooks", "/api/v1/repositories/{name}/webhooks"} {
		mux.Handle("GET "+base, h.Handle(s.listSubscriptions))                                          // subscriptions of the scope
		mux.Handle("POST "+base, h.Handle(s.createSubscription))                                        // add one; answers its secret once
		mux.Handle("GET "+base+"/{id}", h.Handle(s.getSubscription))                                    // one subscription
		mux.Handle("PATCH "+base+"/{id}", h.Handle(s.updateSubscription))                               // change url, events, format, enabled, secret
		mux.Handle("DELETE "+base+"/{id}", h.Handle(s.deleteSubscription))                              // remove it with its delivery log
		mux.Handle("POST "+base+"/{id}/ping", h.Handle(s.pingSubscription))                             // queue an io.arca.webhook.ping
		mux.Handle("GET "+base+"/{id}/deliveries", h.Handle(s.listDeliveries))                          // its delivery log, newest first
		mux.Handle("GET "+base+"/{id}/deliveries/{delivery}", h.Handle(s.getDelivery))                  // one delivery: payload and attempts
		mux.Handle("POST "+base+"/{id}/deliveries/{delivery}/redeliver", h.Handle(s.redeliverDelivery)) // send its event again
	}
}
