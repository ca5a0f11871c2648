package ui

import (
	"context"
	"strings"

	"github.com/arcaproject/arca/internal/meta"
)

// AuditRow is one audit event as pages show it.
type AuditRow struct {
	ID         int64
	At         int64
	Actor      string
	Action     string
	Repository string
	Subject    string
	RemoteAddr string
	Detail     string // JSON, as recorded
}

// DetailShort is the detail cut to a length a table cell can show.
func (e AuditRow) DetailShort() string {
	const n = 90
	if r := []rune(e.Detail); len(r) > n {
		return string(r[:n]) + "…"
	}
	return e.Detail
}

// AuditFilter narrows the audit trail; empty fields match everything.
// Action matches as a prefix ("user." finds every user change).
type AuditFilter struct {
	Actor      string
	Action     string
	Repository string
}

// likePrefix escapes s for a LIKE pattern and appends %.
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s) + "%"
}

// listAudit returns events newest first.
func (h *Handler) listAudit(ctx context.Context, f AuditFilter, limit, offset int) ([]AuditRow, error) {
	rows, err := h.db.QueryContext(ctx,
		`SELECT id, at, actor, action, repository, subject, remote_addr, detail FROM audit_events
		 WHERE ($1 = '' OR actor = $1) AND ($2 = '' OR action LIKE $3 ESCAPE '\') AND ($4 = '' OR repository = $4)
		 ORDER BY id DESC LIMIT $5 OFFSET $6`,
		f.Actor, f.Action, likePrefix(f.Action), f.Repository, limit, offset)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		var e AuditRow
		if err := rows.Scan(&e.ID, &e.At, &e.Actor, &e.Action, &e.Repository, &e.Subject, &e.RemoteAddr, &e.Detail); err != nil {
			return nil, meta.Err(err)
		}
		out = append(out, e)
	}
	return out, meta.Err(rows.Err())
}
