package ui

import (
	"net/http"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
)

type accountData struct {
	User      *auth.User
	Tokens    []*auth.Token
	Keys      []*auth.AccessKey
	NewToken  string // a token secret just created, shown once
	NewKeyID  string
	NewSecret string // an S3 secret just created, shown once
	Error     string
	S3        string // the S3 endpoint URL, "" when not served
}

// tokenTTLs are the lifetimes the token form offers.
var tokenTTLs = map[string]time.Duration{"": 0, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour, "365d": 365 * 24 * time.Hour}

// account shows the signed-in user's tokens and S3 access keys.
func (h *Handler) account(w http.ResponseWriter, r *http.Request) error {
	return h.renderAccount(w, r, http.StatusOK, accountData{})
}

func (h *Handler) renderAccount(w http.ResponseWriter, r *http.Request, status int, d accountData) error {
	ctx := r.Context()
	name := auth.From(ctx).Name
	var err error
	if d.User, err = h.auth.GetUser(ctx, name); err != nil {
		return err
	}
	if d.Tokens, err = h.auth.ListTokens(ctx, name); err != nil {
		return err
	}
	if d.Keys, err = h.auth.ListAccessKeys(ctx, name); err != nil {
		return err
	}
	d.S3 = h.s3URL(r)
	return h.render(w, r, status, "account", Page{Title: "Your account", Data: d})
}

// formError re-renders a form page with a user error (Invalid, Conflict,
// NotFound) as its message and the error's status; other errors propagate.
func formError(err error, show func(status int, msg string) error) error {
	switch errs.KindOf(err) {
	case errs.Invalid, errs.Conflict, errs.NotFound:
		status := http.StatusBadRequest
		if errs.Is(err, errs.Conflict) {
			status = http.StatusConflict
		} else if errs.Is(err, errs.NotFound) {
			status = http.StatusNotFound
		}
		return show(status, errs.Message(err))
	}
	return err
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := auth.From(ctx).Name
	tokenName := strings.TrimSpace(r.PostFormValue("name"))
	ttl, ok := tokenTTLs[r.PostFormValue("ttl")]
	show := func(status int, msg string) error {
		return h.renderAccount(w, r, status, accountData{Error: msg})
	}
	if !ok {
		return show(http.StatusBadRequest, "Choose a lifetime from the list.")
	}
	if tokenName == "" {
		return show(http.StatusBadRequest, "Give the token a name, such as the machine or job that uses it.")
	}
	secret, _, err := h.auth.CreateToken(ctx, name, tokenName, ttl)
	if err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "token.create", Subject: name + "/" + tokenName, RemoteAddr: r.RemoteAddr})
	return h.renderAccount(w, r, http.StatusOK, accountData{NewToken: secret})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, tokenName := auth.From(ctx).Name, r.PostFormValue("name")
	if err := h.auth.RevokeToken(ctx, name, tokenName); err != nil {
		return err
	}
	h.Audit.Record(ctx, audit.Event{Action: "token.revoke", Subject: name + "/" + tokenName, RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, "/ui/account", "Token "+tokenName+" revoked.")
}

func (h *Handler) createS3Key(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := auth.From(ctx).Name
	key, secret, err := h.auth.CreateAccessKey(ctx, name, "", "", strings.TrimSpace(r.PostFormValue("description")))
	if err != nil {
		return formError(err, func(status int, msg string) error {
			return h.renderAccount(w, r, status, accountData{Error: msg})
		})
	}
	h.Audit.Record(ctx, audit.Event{Action: "s3key.create", Subject: name + "/" + key.ID, RemoteAddr: r.RemoteAddr})
	return h.renderAccount(w, r, http.StatusOK, accountData{NewKeyID: key.ID, NewSecret: secret})
}

func (h *Handler) revokeS3Key(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name, id := auth.From(ctx).Name, r.PostFormValue("id")
	if err := h.auth.RevokeAccessKey(ctx, name, id); err != nil {
		return err
	}
	h.Audit.Record(ctx, audit.Event{Action: "s3key.revoke", Subject: name + "/" + id, RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, "/ui/account", "Access key "+id+" revoked.")
}

// changePassword checks the current password (through Login, so guesses
// count towards the lock) before setting the new one.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := auth.From(ctx).Name
	show := func(status int, msg string) error {
		return h.renderAccount(w, r, status, accountData{Error: msg})
	}
	current, next := r.PostFormValue("current"), r.PostFormValue("new")
	if auth.LooksLikeToken(current) {
		return show(http.StatusUnauthorized, "The current password is wrong.")
	}
	if _, err := h.auth.Login(ctx, name, current); err != nil {
		if errs.Is(err, errs.Unauthenticated) {
			return show(http.StatusUnauthorized, "The current password is wrong.")
		}
		if errs.Is(err, errs.TooMany) {
			return show(http.StatusTooManyRequests, errs.Message(err))
		}
		return err
	}
	if next != r.PostFormValue("repeat") {
		return show(http.StatusBadRequest, "The new passwords differ.")
	}
	if err := h.auth.SetPassword(ctx, name, next); err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "user.update", Subject: name, RemoteAddr: r.RemoteAddr, Detail: map[string]any{"password": true}})
	return h.redirect(w, r, "/ui/account", "Password changed.")
}
