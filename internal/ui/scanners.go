package ui

import (
	"net/http"
	"net/url"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/scan"
)

// The external scanners page (server admins): Harbor Pluggable Scanner
// adapters arca has scan every pushed image, beside its own scanner.

func (h *Handler) scannersPage(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	list, err := h.Scans.Adapters(r.Context(), false)
	if err != nil {
		return err
	}
	return h.render(w, r, http.StatusOK, "scanners", Page{Title: "External scanners", Nav: "admin", Data: struct {
		Adapters    []*scan.Adapter
		RegistryURL string
	}{list, h.Scans.RegistryURL}})
}

// createScanner registers an adapter from the form.
func (h *Handler) createScanner(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	a := &scan.Adapter{Name: r.PostFormValue("name"), URL: r.PostFormValue("url"), Auth: r.PostFormValue("auth"),
		Credential: r.PostFormValue("credential"), SkipTLSVerify: r.PostFormValue("skip_tls_verify") != "", Enabled: true}
	if _, err := h.Scans.SaveAdapter(r.Context(), a, true, r.RemoteAddr); err != nil {
		return err
	}
	return h.redirect(w, r, "/ui/admin/scanners", "Scanner "+a.Name+" registered; pushed images are now also scanned by it.")
}

// scannerAction runs a button of a registration: enable, disable, delete.
func (h *Handler) scannerAction(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	ctx := r.Context()
	name := r.PathValue("name")
	switch action := r.PathValue("action"); action {
	case "enable", "disable":
		a, err := h.Scans.Adapter(ctx, name)
		if err != nil {
			return err
		}
		a.Enabled = action == "enable"
		if _, err := h.Scans.SaveAdapter(ctx, a, false, r.RemoteAddr); err != nil {
			return err
		}
		return h.redirect(w, r, "/ui/admin/scanners", "Scanner "+name+" "+action+"d.")
	case "delete":
		if err := h.Scans.DeleteAdapter(ctx, name, r.RemoteAddr); err != nil {
			return err
		}
		return h.redirect(w, r, "/ui/admin/scanners?deleted="+url.QueryEscape(name), "Scanner "+name+" and its reports deleted.")
	}
	return errs.E(errs.NotFound, "no such scanner action")
}
