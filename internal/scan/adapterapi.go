package scan

import (
	"net/http"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
)

// The registrations of external scanners: /api/v1/scanners, for server
// admins only (an adapter is handed pull tokens of every repository it
// scans), each change audited.

// adapterInput is the body of POST and PUT.
type adapterInput struct {
	Name          string `json:"name"`
	URL           string `json:"url"`
	Auth          string `json:"auth"`
	Credential    string `json:"credential"`
	SkipTLSVerify bool   `json:"skip_tls_verify"`
	Enabled       *bool  `json:"enabled"` // default true
}

func (in adapterInput) adapter() *Adapter {
	a := &Adapter{Name: in.Name, URL: in.URL, Auth: in.Auth, Credential: in.Credential, SkipTLSVerify: in.SkipTLSVerify, Enabled: true}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	return a
}

func (h *API) listAdapters(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	list, err := h.scanner.Adapters(r.Context(), false)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, list)
}

func (h *API) getAdapter(w http.ResponseWriter, r *http.Request) error {
	if err := auth.RequireAdmin(auth.From(r.Context())); err != nil {
		return err
	}
	a, err := h.scanner.Adapter(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, a)
}

func (h *API) createAdapter(w http.ResponseWriter, r *http.Request) error {
	return h.saveAdapter(w, r, true)
}

func (h *API) updateAdapter(w http.ResponseWriter, r *http.Request) error {
	return h.saveAdapter(w, r, false)
}

func (h *API) saveAdapter(w http.ResponseWriter, r *http.Request, create bool) error {
	ctx := r.Context()
	if err := auth.RequireAdmin(auth.From(ctx)); err != nil {
		return err
	}
	var in adapterInput
	if err := httpx.DecodeJSON(r, &in); err != nil {
		return err
	}
	if !create {
		if in.Name != "" && in.Name != r.PathValue("name") {
			return errs.E(errs.Invalid, "name: a scanner is not renamed; delete and register it again")
		}
		in.Name = r.PathValue("name")
	}
	a, err := h.scanner.SaveAdapter(ctx, in.adapter(), create, r.RemoteAddr)
	if err != nil {
		return err
	}
	status := http.StatusCreated
	if !create {
		status = http.StatusOK
	}
	return httpx.WriteJSON(w, status, a)
}

func (h *API) deleteAdapter(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := auth.RequireAdmin(auth.From(ctx)); err != nil {
		return err
	}
	name := r.PathValue("name")
	if err := h.scanner.DeleteAdapter(ctx, name, r.RemoteAddr); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
