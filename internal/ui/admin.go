package ui

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/gc"
)

type adminData struct {
	Users, Robots, Repositories, Sessions int64
	LastGC                                *gcRun
}

// adminHome links the administration pages with a few numbers.
func (h *Handler) adminHome(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var d adminData
	err := h.db.QueryRowContext(ctx, `SELECT
		(SELECT COUNT(*) FROM users WHERE kind = 'user'), (SELECT COUNT(*) FROM users WHERE kind = 'robot'),
		(SELECT COUNT(*) FROM repositories), (SELECT COUNT(*) FROM ui_sessions WHERE expires_at > $1)`, nowMillis()).
		Scan(&d.Users, &d.Robots, &d.Repositories, &d.Sessions)
	if err != nil {
		return err
	}
	runs, err := h.gcRuns(r, 1)
	if err != nil {
		return err
	}
	if len(runs) > 0 {
		d.LastGC = &runs[0]
	}
	return h.page(w, r, "admin", "Administration", d)
}

// gcRun is one garbage collection as the audit trail recorded it.
type gcRun struct {
	AuditRow
	Result gc.Result
}

// gcRuns returns the last n garbage collections run from the UI or the
// API (the audit trail's gc.run events).
func (h *Handler) gcRuns(r *http.Request, n int) ([]gcRun, error) {
	rows, err := h.listAudit(r.Context(), AuditFilter{Action: "gc.run"}, n, 0)
	if err != nil {
		return nil, err
	}
	out := make([]gcRun, 0, len(rows))
	for _, e := range rows {
		if e.Action != "gc.run" {
			continue
		}
		run := gcRun{AuditRow: e}
		json.Unmarshal([]byte(e.Detail), &run.Result) // older events hold fewer fields
		out = append(out, run)
	}
	return out, nil
}

type gcData struct {
	Runs []gcRun
	Now  *gc.Result // the run this request made
}

func (h *Handler) gcPage(w http.ResponseWriter, r *http.Request) error {
	runs, err := h.gcRuns(r, 20)
	if err != nil {
		return err
	}
	return h.page(w, r, "admin_gc", "Garbage collection", gcData{Runs: runs})
}

// runGC collects garbage now (or only reports, for a dry run) and shows
// the result. It runs within the request: on a large store that takes a
// while, as `arca gc` does.
func (h *Handler) runGC(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	dry := r.PostFormValue("mode") != "run"
	res, err := h.GC.Run(ctx, dry, nil)
	if err != nil {
		return err
	}
	detail := map[string]any{}
	b, _ := json.Marshal(res)
	json.Unmarshal(b, &detail)
	h.Audit.Record(ctx, audit.Event{Action: "gc.run", RemoteAddr: r.RemoteAddr, Detail: detail})
	runs, err := h.gcRuns(r, 20)
	if err != nil {
		return err
	}
	return h.page(w, r, "admin_gc", "Garbage collection", gcData{Runs: runs, Now: &res})
}

type auditData struct {
	Events []AuditRow
	Filter AuditFilter
	Pager  *Pager
}

// audit shows the audit trail, newest first, filtered by actor, action
// (prefix) and repository.
func (h *Handler) audit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := AuditFilter{Actor: strings.TrimSpace(q.Get("actor")), Action: strings.TrimSpace(q.Get("action")), Repository: strings.TrimSpace(q.Get("repository"))}
	pg := newPager(r, 100)
	rows, err := h.listAudit(r.Context(), f, pg.Limit(), pg.Offset())
	if err != nil {
		return err
	}
	rows = rows[:pg.Keep(len(rows))]
	return h.page(w, r, "admin_audit", "Audit trail", auditData{Events: rows, Filter: f, Pager: pg})
}
