package ui

import (
	"net/http"

	"github.com/arcaproject/arca/internal/auth"
)

type dashboardData struct {
	Storage Storage
	Formats []FormatCount
	Recent  []AuditRow
	// AllActivity is set when Recent is everyone's (administrators), not
	// only the viewer's own.
	AllActivity bool
}

// dashboard shows storage used and saved, counts per format and recent
// activity: everyone's for administrators, one's own for others.
func (h *Handler) dashboard(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	p := auth.From(ctx)
	st, counts, err := h.stats(ctx)
	if err != nil {
		return err
	}
	f := AuditFilter{Actor: p.Name}
	if p.IsAdmin() {
		f.Actor = ""
	}
	recent, err := h.listAudit(ctx, f, 12, 0)
	if err != nil {
		return err
	}
	return h.page(w, r, "dashboard", "Dashboard", dashboardData{Storage: st, Formats: counts, Recent: recent, AllActivity: p.IsAdmin()})
}
