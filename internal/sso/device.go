package sso

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// DeviceLogin is the endpoint pair behind `arca login`: arca runs the
// OAuth device authorization flow with the provider on the CLI's behalf
// and, once the user approved it there, syncs the account (groups and
// roles, as a browser sign-in does) and mints an arca token for the CLI.
// The provider's device code never leaves arca; the CLI holds only a
// request ID.
type DeviceLogin struct {
	OIDC     *OIDC
	Auth     *auth.Service
	Audit    *audit.Log
	Log      *slog.Logger
	TokenTTL time.Duration
	// polls bounds polls in flight (each holds a request up to ~1.5s).
	polls *semaphore.Weighted
}

// Routes registers the two endpoints; both are open to anonymous callers
// (that is the point), bounded by the per-address limit of password
// checks (starts) and a cap on polls in flight.
func (d *DeviceLogin) Routes(mux *http.ServeMux) {
	d.polls = semaphore.NewWeighted(64)
	s := httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Log: d.Log}
	mux.Handle("POST /api/v1/sso/device", s.Handle(d.start))       // begin: user code and where to enter it
	mux.Handle("POST /api/v1/sso/device/token", s.Handle(d.token)) // poll: 202 while pending, then the token
}

func (d *DeviceLogin) start(w http.ResponseWriter, r *http.Request) error {
	if err := d.Auth.AllowAnonymous(r.Context()); err != nil {
		return err
	}
	st, err := d.OIDC.StartDevice(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, st)
}

func (d *DeviceLogin) token(w http.ResponseWriter, r *http.Request) error {
	var body struct {
		RequestID string `json:"request_id"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	if body.RequestID == "" || len(body.RequestID) > 100 {
		return errs.E(errs.Invalid, "request_id is required")
	}
	ctx := r.Context()
	if !d.polls.TryAcquire(1) {
		return errs.E(errs.Unavailable, "too many device sign-ins are polling; retry shortly")
	}
	id, done, err := d.OIDC.PollDevice(ctx, body.RequestID)
	d.polls.Release(1)
	if err != nil {
		return err
	}
	if !done {
		return httpx.WriteJSON(w, http.StatusAccepted, map[string]string{"status": "authorization_pending"})
	}
	p, err := d.Auth.SyncExternal(ctx, id)
	if err != nil {
		return err
	}
	name := fmt.Sprintf("arca-login-%s-%s", time.Now().UTC().Format("20060102T150405Z"), auth.RandomSecret(3))
	secret, tok, err := d.Auth.CreateToken(ctx, p.Name, name, d.TokenTTL)
	if err != nil {
		return err
	}
	d.Audit.Record(auth.WithPrincipal(ctx, p), audit.Event{Action: "token.create", Subject: p.Name + "/" + name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"via": "device flow", "groups": id.Groups}})
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"user": p.Name, "token": secret, "info": tok})
}
