package ui

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/scan"
	"github.com/arcaproject/arca/internal/vulndb"
)

type securityData struct {
	Repository string
	Reports    []*scan.Report
	Counts     map[string]int
	CanScan    bool
	Advisories int
}

// security lists scan reports worst first: of every repository the
// caller may read (the dashboard), or of one (?repository=).
func (h *Handler) security(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	ctx := r.Context()
	d := securityData{Repository: r.URL.Query().Get("repository"), Counts: map[string]int{}}
	if d.Repository != "" {
		rp, err := h.repos.Get(ctx, d.Repository)
		if err != nil {
			return err
		}
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read); err != nil {
			return err
		}
		d.CanScan = h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Write) == nil
	}
	all, err := h.Scans.List(ctx, d.Repository, vulndb.None, 1000)
	if err != nil {
		return err
	}
	may := map[string]bool{}
	for _, rep := range all {
		ok, seen := may[rep.Repository]
		if !seen {
			rp, err := h.repos.Get(ctx, rep.Repository)
			ok = err == nil && h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read) == nil
			may[rep.Repository] = ok
		}
		if ok && len(d.Reports) < 200 {
			d.Reports = append(d.Reports, rep)
			for k, n := range rep.Counts {
				d.Counts[k] += n
			}
		}
	}
	if d.Advisories, _, err = h.Scans.Vulns.Status(ctx); err != nil {
		return err
	}
	return h.page(w, r, "security", "Security", d)
}

// securityReport shows one artifact's findings and components.
func (h *Handler) securityReport(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		return errs.E(errs.NotFound, "no report %q", r.PathValue("id"))
	}
	rep, err := h.Scans.Get(ctx, id)
	if err != nil {
		return err
	}
	rp, err := h.repos.Get(ctx, rep.Repository)
	if err != nil {
		return err
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read); err != nil {
		return errs.E(errs.NotFound, "no report %d", id)
	}
	return h.showReport(w, r, rp, rep)
}

// artifactReport shows the current report of an artifact
// (?repository=&name=&ref=): the page "Scan again" returns to, since a
// rescan replaces the report, and its id, that the button was on.
func (h *Handler) artifactReport(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	ctx := r.Context()
	q := r.URL.Query()
	rp, err := h.repos.Get(ctx, q.Get("repository"))
	if err != nil {
		return err
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read); err != nil {
		// As for a report by id: a repository the user may not read is not
		// told apart from one that does not exist.
		return errs.E(errs.NotFound, "no report of %s in %s", q.Get("name"), q.Get("repository"))
	}
	rep, err := h.Scans.Find(ctx, scan.Target{Kind: rp.Format, Repository: rp.Name, Name: q.Get("name"), Ref: q.Get("ref")})
	if err != nil {
		return err
	}
	return h.showReport(w, r, rp, rep)
}

func (h *Handler) showReport(w http.ResponseWriter, r *http.Request, rp *repo.Repository, rep *scan.Report) error {
	ctx := r.Context()
	canScan := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Write) == nil
	others, err := h.Scans.AdapterReports(ctx, rep.Target)
	if err != nil {
		return err
	}
	return h.page(w, r, "security_report", "Scan of "+rep.Name, struct {
		Report  *scan.Report
		Others  []*scan.Report // external scanners' reports of the same artifact
		CanScan bool
	}{rep, others, canScan})
}

// scanNow queues a scan of a repository, or of one artifact of it.
func (h *Handler) scanNow(w http.ResponseWriter, r *http.Request) error {
	if h.Scans == nil || h.ScanQueue == nil {
		return errs.E(errs.NotFound, "scanning is not enabled")
	}
	ctx := r.Context()
	rp, err := h.repos.Get(ctx, r.FormValue("repository"))
	if err != nil {
		return err
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Write); err != nil {
		return err
	}
	var targets []scan.Target
	if name, ref := r.FormValue("name"), r.FormValue("ref"); name != "" && ref != "" {
		targets = []scan.Target{{Kind: rp.Format, Repository: rp.Name, Name: name, Ref: ref}}
	} else if targets, err = h.Scans.Artifacts(ctx, rp, 10_000); err != nil {
		return err
	}
	for _, t := range targets {
		if err := h.Scans.EnqueueAll(ctx, h.ScanQueue, h.DB, t); err != nil {
			return err
		}
	}
	back := "/ui/security?repository=" + url.QueryEscape(rp.Name)
	if name, ref := r.FormValue("name"), r.FormValue("ref"); name != "" && ref != "" {
		back = "/ui/security/report?" + url.Values{"repository": {rp.Name}, "name": {name}, "ref": {ref}}.Encode()
	}
	return h.redirect(w, r, back, strconv.Itoa(len(targets))+" scans queued; reports update when they finish")
}
