package ui

import (
	"context"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/meta"
)

// roleChoices are the global roles an administrator may give.
var roleChoices = []string{"", string(auth.Reader), string(auth.Developer), string(auth.Maintainer), string(auth.Admin)}

type usersData struct {
	Users    []*auth.User
	Kind     string // filter: user, robot or ""
	Query    string
	Pager    *Pager
	Roles    []string
	Error    string
	NewRobot string // a robot just created
	NewToken string // its token, shown once
}

// listUsers lists accounts by name, optionally of one kind.
func (h *Handler) listUsers(ctx context.Context, kind, q string, limit, offset int) ([]*auth.User, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT id, name, kind, email, role, disabled, created_at FROM users
		 WHERE ($1 = '' OR kind = $1) AND ($2 = '' OR name LIKE $3 ESCAPE '\') ORDER BY name LIMIT $4 OFFSET $5`,
		kind, q, likeContains(q), limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []*auth.User
	for rows.Next() {
		var u auth.User
		var role string
		if err := rows.Scan(&u.ID, &u.Name, &u.Kind, &u.Email, &role, &u.Disabled, &u.CreatedAt); err != nil {
			return nil, meta.Err(err)
		}
		u.Role = auth.Role(role)
		out = append(out, &u)
	}
	return out, meta.Err(rows.Err())
}

func (h *Handler) users(w http.ResponseWriter, r *http.Request) error {
	return h.renderUsers(w, r, http.StatusOK, usersData{})
}

func (h *Handler) renderUsers(w http.ResponseWriter, r *http.Request, status int, d usersData) error {
	q := r.URL.Query()
	d.Kind, d.Query, d.Roles = q.Get("kind"), strings.TrimSpace(q.Get("q")), roleChoices
	d.Pager = newPager(r, 50)
	list, err := h.listUsers(r.Context(), d.Kind, d.Query, d.Pager.Limit(), d.Pager.Offset())
	if err != nil {
		return err
	}
	d.Users = list[:d.Pager.Keep(len(list))]
	return h.render(w, r, status, "admin_users", Page{Title: "Users and robots", Data: d})
}

// parseGlobalRole reads a role field; "" is no global role.
func parseGlobalRole(s string) (auth.Role, error) {
	if s == "" {
		return auth.NoRole, nil
	}
	return auth.ParseRole(s)
}

func (h *Handler) createUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	show := func(status int, msg string) error { return h.renderUsers(w, r, status, usersData{Error: msg}) }
	role, err := parseGlobalRole(r.PostFormValue("role"))
	if err != nil {
		return formError(err, show)
	}
	name := strings.TrimSpace(r.PostFormValue("name"))
	var u *auth.User
	d := usersData{}
	switch r.PostFormValue("kind") {
	case auth.KindRobot:
		if u, err = h.auth.CreateRobot(ctx, name, role); err == nil {
			d.NewRobot = u.Name
			d.NewToken, _, err = h.auth.CreateToken(ctx, u.Name, "default", 0)
		}
	default:
		if r.PostFormValue("password") != r.PostFormValue("repeat") {
			return show(http.StatusBadRequest, "The passwords differ.")
		}
		u, err = h.auth.CreateUser(ctx, name, r.PostFormValue("password"), strings.TrimSpace(r.PostFormValue("email")), role)
	}
	if err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "user.create", Subject: u.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"kind": u.Kind, "role": u.Role}})
	if d.NewToken != "" {
		return h.renderUsers(w, r, http.StatusOK, d)
	}
	return h.redirect(w, r, "/ui/admin/users", "Created "+u.Kind+" "+u.Name+".")
}

// updateUser applies one row's form: global role and disabled, or a new
// password.
func (h *Handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("user")
	show := func(status int, msg string) error { return h.renderUsers(w, r, status, usersData{Error: msg}) }
	if _, err := h.auth.GetUser(ctx, name); err != nil {
		return formError(err, show)
	}
	detail := map[string]any{}
	if pw := r.PostFormValue("password"); pw != "" {
		if err := h.auth.SetPassword(ctx, name, pw); err != nil {
			return formError(err, show)
		}
		detail["password"] = true
	} else {
		role, err := parseGlobalRole(r.PostFormValue("role"))
		if err != nil {
			return formError(err, show)
		}
		disabled := r.PostFormValue("disabled") == "on"
		if name == auth.From(ctx).Name && (disabled || role != auth.Admin) {
			return show(http.StatusConflict, "You cannot disable yourself or take away your own administrator role.")
		}
		if err := h.auth.SetRole(ctx, name, role); err != nil {
			return formError(err, show)
		}
		if err := h.auth.SetDisabled(ctx, name, disabled); err != nil {
			return formError(err, show)
		}
		detail["role"], detail["disabled"] = role, disabled
	}
	h.Audit.Record(ctx, audit.Event{Action: "user.update", Subject: name, RemoteAddr: r.RemoteAddr, Detail: detail})
	return h.redirect(w, r, "/ui/admin/users", "Updated "+name+".")
}

func (h *Handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	name := r.PathValue("user")
	show := func(status int, msg string) error { return h.renderUsers(w, r, status, usersData{Error: msg}) }
	if name == auth.From(ctx).Name {
		return show(http.StatusConflict, "You cannot delete your own account.")
	}
	if r.PostFormValue("confirm") != "on" {
		return show(http.StatusBadRequest, "Tick the box to confirm deleting "+name+".")
	}
	if err := h.auth.DeleteUser(ctx, name); err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "user.delete", Subject: name, RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, "/ui/admin/users", "Deleted "+name+".")
}
