package ui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// repoForm is the repository form's fields. The common settings (a
// proxy's upstream, a group's members) have fields of their own; the rest
// is JSON.
type repoForm struct {
	Name, Format, Kind, Visibility, Description string
	Owner, Quota                                string // quota in bytes, "" for none
	UpstreamURL, UpstreamUser                   string
	HasPassword                                 bool // an upstream password is set (never shown)
	Members                                     string
	Extra                                       string // other settings, JSON
}

type repoFormData struct {
	Form    repoForm
	New     bool
	Formats []string
	Error   string
	Roles   []auth.RoleBinding // edit only
}

// masked is how repo.Repository.Redacted shows a secret; a form that sends
// it back means "keep the stored value".
const masked = repo.Masked

func (h *Handler) newRepository(w http.ResponseWriter, r *http.Request) error {
	f := repoForm{Format: r.URL.Query().Get("format"), Kind: repo.Hosted, Visibility: repo.Private}
	return h.renderRepoForm(w, r, http.StatusOK, repoFormData{Form: f, New: true})
}

func (h *Handler) renderRepoForm(w http.ResponseWriter, r *http.Request, status int, d repoFormData) error {
	d.Formats = h.repos.Formats()
	title := "New repository"
	if !d.New {
		title = "Settings of " + d.Form.Name
		rp, err := h.repos.Get(r.Context(), d.Form.Name)
		if err != nil {
			return err
		}
		if d.Roles, err = h.auth.RepositoryRoles(r.Context(), rp.ID); err != nil {
			return err
		}
	}
	return h.render(w, r, status, "admin_repository", Page{Title: title, Nav: "admin", Data: d})
}

// formOf reads the form's fields.
func formOf(r *http.Request) repoForm {
	v := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	return repoForm{Name: v("name"), Format: v("format"), Kind: v("kind"), Visibility: v("visibility"), Description: v("description"),
		Owner: v("owner"), Quota: v("quota_bytes"),
		UpstreamURL: v("upstream_url"), UpstreamUser: v("upstream_username"), Members: v("members"), Extra: v("settings")}
}

// settings builds a repository's settings from the form: the JSON of the
// others, then the upstream and members fields. A password field left
// empty, and masked secrets in the JSON, keep what old holds.
func (f repoForm) settings(r *http.Request, old map[string]any) (map[string]any, error) {
	s := map[string]any{}
	if f.Extra != "" {
		if err := json.Unmarshal([]byte(f.Extra), &s); err != nil || s == nil {
			return nil, errs.E(errs.Invalid, "Other settings must be a JSON object: %v", err)
		}
	}
	s = restoreMasked(s, old).(map[string]any)
	oldUp, _ := old["upstream"].(map[string]any)
	if f.UpstreamURL != "" {
		up, _ := s["upstream"].(map[string]any)
		if up == nil {
			up = map[string]any{}
		}
		up["url"] = f.UpstreamURL
		delete(up, "username")
		if f.UpstreamUser != "" {
			up["username"] = f.UpstreamUser
		}
		if pw := r.PostFormValue("upstream_password"); pw != "" {
			up["password"] = pw
		} else if p, ok := oldUp["password"]; ok {
			up["password"] = p
		}
		s["upstream"] = up
	}
	if f.Members != "" {
		var ms []any
		for _, m := range strings.FieldsFunc(f.Members, func(c rune) bool { return c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t' }) {
			ms = append(ms, m)
		}
		s["members"] = ms
	}
	if len(s) == 0 {
		return nil, nil
	}
	return s, nil
}

// restoreMasked replaces masked values in v by the values at the same place
// in old.
func restoreMasked(v, old any) any {
	switch t := v.(type) {
	case map[string]any:
		o, _ := old.(map[string]any)
		for k, x := range t {
			t[k] = restoreMasked(x, o[k])
		}
		return t
	case []any:
		o, _ := old.([]any)
		for i, x := range t {
			var ox any
			if i < len(o) {
				ox = o[i]
			}
			t[i] = restoreMasked(x, ox)
		}
		return t
	case string:
		if t == masked && old != nil {
			return old
		}
	}
	return v
}

// formFrom fills the form from a stored repository, secrets masked.
func formFrom(rp *repo.Repository) repoForm {
	f := repoForm{Name: rp.Name, Format: rp.Format, Kind: rp.Kind, Visibility: rp.Visibility, Description: rp.Description, Owner: rp.Owner}
	if rp.QuotaBytes > 0 {
		f.Quota = strconv.FormatInt(rp.QuotaBytes, 10)
	}
	extra := map[string]any{}
	for k, v := range rp.Redacted().Settings {
		extra[k] = v
	}
	if up, ok := extra["upstream"].(map[string]any); ok {
		rest := map[string]any{}
		for k, v := range up {
			switch k {
			case "url":
				f.UpstreamURL, _ = v.(string)
			case "username":
				f.UpstreamUser, _ = v.(string)
			case "password":
				f.HasPassword = true
			default:
				rest[k] = v
			}
		}
		delete(extra, "upstream")
		if len(rest) > 0 {
			extra["upstream"] = rest
		}
	}
	if ms, ok := extra["members"].([]any); ok {
		var names []string
		for _, m := range ms {
			if s, ok := m.(string); ok {
				names = append(names, s)
			}
		}
		f.Members = strings.Join(names, ", ")
		delete(extra, "members")
	}
	if len(extra) > 0 {
		b, _ := json.MarshalIndent(extra, "", "  ")
		f.Extra = string(b)
	}
	return f
}

func (h *Handler) createRepository(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	f := formOf(r)
	show := func(status int, msg string) error {
		return h.renderRepoForm(w, r, status, repoFormData{Form: f, New: true, Error: msg})
	}
	settings, err := f.settings(r, nil)
	if err != nil {
		return formError(err, show)
	}
	quota, err := f.quota()
	if err != nil {
		return formError(err, show)
	}
	rp := &repo.Repository{Name: f.Name, Format: f.Format, Kind: f.Kind, Visibility: f.Visibility, Description: f.Description, Settings: settings,
		Owner: f.Owner, QuotaBytes: quota}
	if err := h.repos.Create(ctx, rp); err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "repository.create", Repository: rp.Name, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"format": rp.Format, "kind": rp.Kind, "visibility": rp.Visibility}})
	return h.redirect(w, r, "/ui/repositories/"+rp.Name, "Repository "+rp.Name+" created.")
}

func (h *Handler) editRepository(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repos.Get(r.Context(), r.PathValue("repo"))
	if err != nil {
		return err
	}
	return h.renderRepoForm(w, r, http.StatusOK, repoFormData{Form: formFrom(rp)})
}

// updateRepository changes visibility, description and settings (name,
// format and kind are fixed at creation).
func (h *Handler) updateRepository(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, r.PathValue("repo"))
	if err != nil {
		return err
	}
	f := formOf(r)
	f.Name, f.Format, f.Kind = rp.Name, rp.Format, rp.Kind
	show := func(status int, msg string) error {
		return h.renderRepoForm(w, r, status, repoFormData{Form: f, Error: msg})
	}
	settings, err := f.settings(r, rp.Settings)
	if err != nil {
		return formError(err, show)
	}
	quota, err := f.quota()
	if err != nil {
		return formError(err, show)
	}
	rp.Visibility, rp.Description, rp.Settings = f.Visibility, f.Description, settings
	rp.Owner, rp.QuotaBytes = f.Owner, quota
	if err := h.repos.Update(ctx, rp); err != nil {
		return formError(err, show)
	}
	h.Audit.Record(ctx, audit.Event{Action: "repository.update", Repository: rp.Name, RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, "/ui/admin/repositories/"+rp.Name, "Saved.")
}

// grantRole gives a user a role on the repository, or takes it away.
func (h *Handler) grantRole(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, r.PathValue("repo"))
	if err != nil {
		return err
	}
	user := strings.TrimSpace(r.PostFormValue("user"))
	show := func(status int, msg string) error {
		return h.renderRepoForm(w, r, status, repoFormData{Form: formFrom(rp), Error: msg})
	}
	role, err := parseGlobalRole(r.PostFormValue("role"))
	if err != nil {
		return formError(err, show)
	}
	if err := h.auth.Grant(ctx, user, rp.ID, role); err != nil {
		return formError(err, show)
	}
	action, msg := "role.grant", user+" is now "+string(role)+" of "+rp.Name+"."
	if role == auth.NoRole {
		action, msg = "role.revoke", user+" no longer has a role on "+rp.Name+"."
	}
	h.Audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: user, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"role": role}})
	return h.redirect(w, r, "/ui/admin/repositories/"+rp.Name, msg)
}

// deleteRepository deletes a repository once its name is typed again.
// Its contents' metadata goes with it; the blobs are left to garbage
// collection.
func (h *Handler) deleteRepository(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, r.PathValue("repo"))
	if err != nil {
		return err
	}
	if r.PostFormValue("confirm") != rp.Name {
		return h.renderRepoForm(w, r, http.StatusBadRequest, repoFormData{Form: formFrom(rp),
			Error: "Type the repository's name to confirm deleting it."})
	}
	if err := h.repos.Delete(ctx, rp.Name); errs.Is(err, errs.Conflict) { // a group's member
		return h.renderRepoForm(w, r, http.StatusConflict, repoFormData{Form: formFrom(rp), Error: errs.Message(err)})
	} else if err != nil {
		return err
	}
	h.Audit.Record(ctx, audit.Event{Action: "repository.delete", Repository: rp.Name, RemoteAddr: r.RemoteAddr})
	return h.redirect(w, r, "/ui/repositories", "Repository "+rp.Name+" deleted.")
}

// quota reads the quota field: bytes, "" or 0 for none.
func (f repoForm) quota() (int64, error) {
	if f.Quota == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(f.Quota, 10, 64)
	if err != nil || n < 0 {
		return 0, errs.E(errs.Invalid, "quota: a number of bytes, 0 for none")
	}
	return n, nil
}
