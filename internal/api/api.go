// Package api is arca's own JSON API at /api/v1: repositories, users,
// tokens, roles, the audit trail and the background jobs. It is what the arca CLI, the web UI and
// scripts use.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/repo"
)

// Handler serves /api/v1.
type Handler struct {
	gc      *gc.Collector
	jobs    Jobs
	repos   *repo.Store
	auth    *auth.Service
	audit   *audit.Log
	surface httpx.Surface
}

// New returns the API handler.
func New(repos *repo.Store, a *auth.Service, al *audit.Log, log *slog.Logger, collector *gc.Collector, jobs Jobs) *Handler {
	h := &Handler{repos: repos, auth: a, audit: al, gc: collector, jobs: jobs}
	h.surface = httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: a, Log: log}
	return h
}

// Routes registers the API, readable top to bottom.
func (h *Handler) Routes(mux *http.ServeMux) {
	s := &h.surface
	mux.Handle("GET /api/v1/whoami", s.Handle(h.whoami))

	mux.Handle("GET /api/v1/repositories", s.Handle(h.listRepositories))
	mux.Handle("POST /api/v1/repositories", s.Handle(h.createRepository))
	mux.Handle("GET /api/v1/repositories/{name}", s.Handle(h.getRepository))
	mux.Handle("PATCH /api/v1/repositories/{name}", s.Handle(h.updateRepository))
	mux.Handle("DELETE /api/v1/repositories/{name}", s.Handle(h.deleteRepository))
	mux.Handle("GET /api/v1/repositories/{name}/roles", s.Handle(h.listRoles))
	mux.Handle("PUT /api/v1/repositories/{name}/roles/{user}", s.Handle(h.grantRole))
	mux.Handle("DELETE /api/v1/repositories/{name}/roles/{user}", s.Handle(h.revokeRole))

	mux.Handle("GET /api/v1/users", s.Handle(h.listUsers))
	mux.Handle("POST /api/v1/users", s.Handle(h.createUser))
	mux.Handle("GET /api/v1/users/{user}", s.Handle(h.getUser))
	mux.Handle("PATCH /api/v1/users/{user}", s.Handle(h.updateUser))
	mux.Handle("DELETE /api/v1/users/{user}", s.Handle(h.deleteUser))
	mux.Handle("GET /api/v1/users/{user}/tokens", s.Handle(h.listTokens))
	mux.Handle("POST /api/v1/users/{user}/tokens", s.Handle(h.createToken))
	mux.Handle("DELETE /api/v1/users/{user}/tokens/{token}", s.Handle(h.revokeToken))
	mux.Handle("GET /api/v1/users/{user}/s3keys", s.Handle(h.listS3Keys))
	mux.Handle("POST /api/v1/users/{user}/s3keys", s.Handle(h.createS3Key))
	mux.Handle("DELETE /api/v1/users/{user}/s3keys/{key}", s.Handle(h.revokeS3Key))

	mux.Handle("GET /api/v1/audit", s.Handle(h.listAudit))
	mux.Handle("POST /api/v1/gc", s.Handle(h.runGC))
	mux.Handle("GET /api/v1/jobs", s.Handle(h.listJobs))
	mux.Handle("GET /api/v1/jobs/{id}", s.Handle(h.getJob))
	mux.Handle("POST /api/v1/jobs/gc", s.Handle(h.enqueueGC))

	mux.Handle("/api/", s.Handle(func(w http.ResponseWriter, r *http.Request) error {
		return errs.E(errs.NotFound, "no such API endpoint: %s %s", r.Method, r.URL.Path)
	}))
}

func (h *Handler) whoami(w http.ResponseWriter, r *http.Request) error {
	p := auth.From(r.Context())
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{
		"name": p.String(), "kind": p.Kind, "role": p.Role, "anonymous": p.Anonymous(),
	})
}

// visible lists the repositories the caller may read.
func (h *Handler) listRepositories(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	all, err := h.repos.List(ctx, r.URL.Query().Get("format"))
	if err != nil {
		return err
	}
	kind := r.URL.Query().Get("kind")
	out := []*repo.Repository{}
	for _, rp := range all {
		if kind != "" && rp.Kind != kind {
			continue
		}
		if h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read) == nil {
			out = append(out, rp.Redacted())
		}
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (h *Handler) createRepository(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	var rp repo.Repository
	if err := httpx.DecodeJSON(r, &rp); err != nil {
		return err
	}
	if err := h.mayAddMembers(r.Context(), nil, rp.Settings); err != nil {
		return err
	}
	if err := h.repos.Create(r.Context(), &rp); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "repository.create", Repository: rp.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"format": rp.Format, "kind": rp.Kind, "visibility": rp.Visibility}})
	return httpx.WriteJSON(w, http.StatusCreated, rp.Redacted())
}

func (h *Handler) repository(r *http.Request, action auth.Action) (*repo.Repository, error) {
	rp, err := h.repos.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	return rp, h.auth.Authorize(r.Context(), auth.From(r.Context()), rp, action)
}

func (h *Handler) getRepository(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r, auth.Read)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, rp.Redacted())
}

func (h *Handler) updateRepository(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r, auth.Manage)
	if err != nil {
		return err
	}
	var patch struct {
		Visibility  *string         `json:"visibility"`
		Description *string         `json:"description"`
		Settings    *map[string]any `json:"settings"`
		Owner       *string         `json:"owner"`
		QuotaBytes  *int64          `json:"quota_bytes"`
	}
	if err := httpx.DecodeJSON(r, &patch); err != nil {
		return err
	}
	if patch.Visibility != nil {
		rp.Visibility = *patch.Visibility
	}
	if patch.Description != nil {
		rp.Description = *patch.Description
	}
	if patch.Owner != nil {
		rp.Owner = *patch.Owner
	}
	if patch.QuotaBytes != nil {
		rp.QuotaBytes = *patch.QuotaBytes
	}
	if patch.Settings != nil {
		if err := h.mayAddMembers(r.Context(), rp.Settings, *patch.Settings); err != nil {
			return err
		}
		rp.Settings = *patch.Settings
	}
	if err := h.repos.Update(r.Context(), rp); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "repository.update", Repository: rp.Name, RemoteAddr: r.RemoteAddr})
	return httpx.WriteJSON(w, http.StatusOK, rp.Redacted())
}

// mayAddMembers checks that the caller is an admin of every repository
// that after lists as a group member and before did not: a group serves
// its members' content, so adding one is managing it. (Reads through a
// group check the reader's role on each member too; this keeps a group's
// admin from pointing the group at repositories they do not manage.)
// Unknown names are left to the store's validation.
func (h *Handler) mayAddMembers(ctx context.Context, before, after map[string]any) error {
	p := auth.From(ctx)
	old := repo.MemberNames(before)
	for _, name := range repo.MemberNames(after) {
		if slices.Contains(old, name) {
			continue
		}
		m, err := h.repos.Get(ctx, name)
		if errs.Is(err, errs.NotFound) {
			continue
		} else if err != nil {
			return err
		}
		if err := h.auth.Authorize(ctx, p, m, auth.Manage); err != nil {
			if errs.Is(err, errs.Unauthenticated) {
				return err
			}
			return errs.E(errs.Denied, "adding %q to a group needs the admin role on %q", name, name)
		}
	}
	return nil
}

func (h *Handler) deleteRepository(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := h.repos.Delete(r.Context(), name); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "repository.delete", Repository: name, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listRoles(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r, auth.Manage)
	if err != nil {
		return err
	}
	roles, err := h.auth.RepositoryRoles(r.Context(), rp.ID)
	if err != nil {
		return err
	}
	if roles == nil {
		roles = []auth.RoleBinding{}
	}
	return httpx.WriteJSON(w, http.StatusOK, roles)
}

func (h *Handler) grantRole(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r, auth.Manage)
	if err != nil {
		return err
	}
	var body struct {
		Role string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	role, err := auth.ParseRole(body.Role)
	if err != nil {
		return err
	}
	user := r.PathValue("user")
	if err := h.auth.Grant(r.Context(), user, rp.ID, role); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "role.grant", Repository: rp.Name, Subject: user, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"role": role}})
	return httpx.WriteJSON(w, http.StatusOK, auth.RoleBinding{User: user, Role: role})
}

func (h *Handler) revokeRole(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r, auth.Manage)
	if err != nil {
		return err
	}
	user := r.PathValue("user")
	if err := h.auth.Grant(r.Context(), user, rp.ID, auth.NoRole); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "role.revoke", Repository: rp.Name, Subject: user, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	users, err := h.auth.ListUsers(r.Context())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, users)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	var body struct {
		Name     string `json:"name"`
		Kind     string `json:"kind"` // user (default) or robot
		Password string `json:"password"`
		Email    string `json:"email"`
		Role     string `json:"role"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	role := auth.NoRole
	if body.Role != "" {
		var err error
		if role, err = auth.ParseRole(body.Role); err != nil {
			return err
		}
	}
	// A new account comes with a credential that does not expire.
	if err := h.auth.CheckNewAccount(auth.From(r.Context())); err != nil {
		return err
	}
	var u *auth.User
	var err error
	resp := map[string]any{}
	switch body.Kind {
	case "", auth.KindUser:
		u, err = h.auth.CreateUser(r.Context(), body.Name, body.Password, body.Email, role)
	case auth.KindRobot:
		if body.Password != "" {
			return errs.E(errs.Invalid, "robot accounts have no password; they authenticate with the token returned here")
		}
		if u, err = h.auth.CreateRobot(r.Context(), body.Name, role); err == nil {
			var secret string
			secret, _, err = h.auth.CreateToken(r.Context(), u.Name, "default", 0)
			resp["token"] = secret
		}
	default:
		return errs.E(errs.Invalid, "kind must be user or robot")
	}
	if err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "user.create", Subject: u.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"kind": u.Kind, "role": u.Role}})
	resp["user"] = u
	return httpx.WriteJSON(w, http.StatusCreated, resp)
}

// self allows an administrator, or the user named in the path.
func self(r *http.Request) error {
	p := auth.From(r.Context())
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	if p.IsAdmin() || p.Name == r.PathValue("user") {
		return nil
	}
	return errs.E(errs.Denied, "only %s or an administrator may do this", r.PathValue("user"))
}

func (h *Handler) getUser(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	u, err := h.auth.GetUser(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, u)
}

func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	var body struct {
		Password *string `json:"password"`
		// CurrentPassword is required to change one's own password
		// (administrators may set anyone's without it).
		CurrentPassword string  `json:"current_password"`
		Role            *string `json:"role"`
		Disabled        *bool   `json:"disabled"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	ctx, name := r.Context(), r.PathValue("user")
	if (body.Role != nil || body.Disabled != nil) && !auth.From(ctx).IsAdmin() {
		return errs.E(errs.Denied, "only an administrator may change roles or disable accounts")
	}
	if body.Password != nil {
		if err := h.auth.ChangePassword(ctx, auth.From(ctx), name, body.CurrentPassword, *body.Password); err != nil {
			return err
		}
	}
	if body.Role != nil {
		role := auth.NoRole
		if *body.Role != "" {
			var err error
			if role, err = auth.ParseRole(*body.Role); err != nil {
				return err
			}
		}
		if err := h.auth.SetRole(ctx, name, role); err != nil {
			return err
		}
	}
	if body.Disabled != nil {
		if err := h.auth.SetDisabled(ctx, name, *body.Disabled); err != nil {
			return err
		}
	}
	h.audit.Record(ctx, audit.Event{Action: "user.update", Subject: name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"password": body.Password != nil, "role": body.Role, "disabled": body.Disabled}})
	u, err := h.auth.GetUser(ctx, name)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, u)
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	name := r.PathValue("user")
	if name == auth.From(r.Context()).Name {
		return errs.E(errs.Conflict, "you cannot delete your own account")
	}
	if err := h.auth.DeleteUser(r.Context(), name); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "user.delete", Subject: name, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listTokens(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	toks, err := h.auth.ListTokens(r.Context(), r.PathValue("user"))
	if err != nil {
		return err
	}
	if toks == nil {
		toks = []*auth.Token{}
	}
	return httpx.WriteJSON(w, http.StatusOK, toks)
}

func (h *Handler) createToken(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	var body struct {
		Name string `json:"name"`
		TTL  string `json:"ttl"` // Go duration, e.g. "720h"; empty = no expiry
		// ManageCredentials (default true) lets the new token create and
		// revoke tokens and access keys and change passwords.
		ManageCredentials *bool `json:"manage_credentials"`
	}
	if err := httpx.DecodeJSON(r, &body); err != nil {
		return err
	}
	var ttl time.Duration
	if body.TTL != "" {
		var err error
		if ttl, err = time.ParseDuration(body.TTL); err != nil || ttl <= 0 {
			return errs.E(errs.Invalid, "invalid ttl %q: want a positive duration like 720h", body.TTL)
		}
	}
	user := r.PathValue("user")
	spec := auth.TokenSpec{TTL: ttl, NoCredentials: body.ManageCredentials != nil && !*body.ManageCredentials}
	secret, tok, err := h.auth.IssueToken(r.Context(), auth.From(r.Context()), user, body.Name, spec)
	if err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "token.create", Subject: user + "/" + body.Name, RemoteAddr: r.RemoteAddr})
	return httpx.WriteJSON(w, http.StatusCreated, map[string]any{"token": secret, "info": tok})
}

func (h *Handler) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if err := self(r); err != nil {
		return err
	}
	if err := h.auth.CheckCredentials(auth.From(r.Context())); err != nil {
		return err
	}
	user, name := r.PathValue("user"), r.PathValue("token")
	if err := h.auth.RevokeToken(r.Context(), user, name); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "token.revoke", Subject: user + "/" + name, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *Handler) listAudit(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	q := r.URL.Query()
	before, _ := strconv.ParseInt(q.Get("before"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	events, err := h.audit.List(r.Context(), before, limit)
	if err != nil {
		return err
	}
	if events == nil {
		events = []audit.Event{}
	}
	return httpx.WriteJSON(w, http.StatusOK, events)
}

// runGC collects garbage now; ?dry_run=true only reports.
func (h *Handler) runGC(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	res, err := h.gc.Run(r.Context(), dry, nil)
	if err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "gc.run", RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"dry_run": dry, "deleted": res.Deleted, "bytes_freed": res.BytesFreed}})
	return httpx.WriteJSON(w, http.StatusOK, res)
}
