package ui

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/webhook"
)

// The webhook pages: the global subscriptions (global admins) and a
// repository's (its admins), each with its recent deliveries and a
// redeliver button. internal/webhook checks who may manage what.

type webhooksData struct {
	Repository string // "" for the global page
	Hooks      []webhook.View
	Types      []string
	// Created is the subscription just added, with its secret, shown once.
	Created *webhook.Subscription
}

func (d webhooksData) Base() string {
	if d.Repository == "" {
		return "/ui/admin/webhooks"
	}
	return "/ui/repositories/" + url.PathEscape(d.Repository) + "/webhooks"
}

func (h *Handler) webhooksPage(w http.ResponseWriter, r *http.Request, repository string, created *webhook.Subscription) error {
	if h.Webhooks == nil {
		return errs.E(errs.NotFound, "webhooks are not served")
	}
	hooks, err := h.Webhooks.Overview(r.Context(), repository, 10)
	if err != nil {
		return err
	}
	title, nav := "Webhooks", "admin"
	if repository != "" {
		title, nav = "Webhooks of "+repository, "repositories"
	}
	p := Page{Title: title, Nav: nav, Data: webhooksData{Repository: repository, Hooks: hooks, Types: webhook.Types(), Created: created}}
	status := http.StatusOK
	if created != nil {
		status = http.StatusCreated
	}
	return h.render(w, r, status, "webhooks", p)
}

func (h *Handler) globalWebhooks(w http.ResponseWriter, r *http.Request) error {
	return h.webhooksPage(w, r, "", nil)
}

func (h *Handler) repoWebhooks(w http.ResponseWriter, r *http.Request) error {
	return h.webhooksPage(w, r, r.PathValue("repo"), nil)
}

// createWebhook adds a subscription and shows the page with its secret,
// which is never shown again (it is not put in a redirect's cookie).
func (h *Handler) createWebhook(w http.ResponseWriter, r *http.Request) error {
	if h.Webhooks == nil {
		return errs.E(errs.NotFound, "webhooks are not served")
	}
	repository := r.PostFormValue("repository")
	sub, err := h.Webhooks.Create(r.Context(), repository, r.PostFormValue("url"), r.PostFormValue("events"), r.PostFormValue("payload_format"), r.RemoteAddr)
	if err != nil {
		return err
	}
	return h.webhooksPage(w, r, repository, sub)
}

// webhookAction runs a button of a subscription: ping, delete, redeliver.
func (h *Handler) webhookAction(w http.ResponseWriter, r *http.Request) error {
	if h.Webhooks == nil {
		return errs.E(errs.NotFound, "webhooks are not served")
	}
	ctx := r.Context()
	repository := r.PostFormValue("repository")
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "no webhook %q", r.PathValue("id"))
	}
	back := webhooksData{Repository: repository}.Base()
	switch r.PathValue("action") {
	case "ping":
		d, err := h.Webhooks.Ping(ctx, repository, id)
		if err != nil {
			return err
		}
		return h.redirect(w, r, back, "Ping queued as delivery "+strconv.FormatInt(d.ID, 10)+".")
	case "delete":
		if err := h.Webhooks.Delete(ctx, repository, id, r.RemoteAddr); err != nil {
			return err
		}
		return h.redirect(w, r, back, "Webhook deleted.")
	case "redeliver":
		did, err := strconv.ParseInt(r.PostFormValue("delivery"), 10, 64)
		if err != nil {
			return errs.E(errs.Invalid, "which delivery?")
		}
		d, err := h.Webhooks.Redeliver(ctx, repository, id, did, r.RemoteAddr)
		if err != nil {
			return err
		}
		return h.redirect(w, r, back, "Redelivery queued as delivery "+strconv.FormatInt(d.ID, 10)+".")
	}
	return errs.E(errs.NotFound, "no such webhook action")
}
