package ui

import (
	"cmp"
	"html/template"
	"net/http"
	"slices"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/usage"
)

type storageData struct {
	Report usage.Report
	Charts []storageChart
}

type storageChart struct {
	Title string
	SVG   template.HTML
}

// maxStorageCharts bounds the repositories charted (the largest ones).
const maxStorageCharts = 6

// storagePage shows storage use: per repository the viewer may read, and
// for administrators per owner and format, with the daily history as
// charts (server-side SVG).
func (h *Handler) storagePage(w http.ResponseWriter, r *http.Request) error {
	if h.Usage == nil {
		return h.notFound(w, r)
	}
	ctx := r.Context()
	p := auth.From(ctx)
	rep, err := h.Usage.Build(ctx, p)
	if err != nil {
		return err
	}
	d := storageData{Report: rep}
	now := time.Now()
	chart := func(title, id string, lines ...[2]string) error {
		var series []ChartSeries
		for _, l := range lines {
			pts, err := h.Usage.History(ctx, l[0], l[1], 90, now)
			if err != nil {
				return err
			}
			s := ChartSeries{Name: cmp.Or(l[1], "total")}
			for _, pt := range pts {
				day, err := time.Parse(time.DateOnly, pt.Day)
				if err != nil {
					continue
				}
				s.X = append(s.X, -now.Sub(day).Hours()/24)
				s.Y = append(s.Y, float64(pt.Bytes)/(1<<20))
			}
			if len(s.X) > 0 {
				series = append(series, s)
			}
		}
		if len(series) == 0 {
			return nil
		}
		c := LineChart{ID: id, Title: title, XLabel: "days from today", YLabel: "MiB", Series: series}
		d.Charts = append(d.Charts, storageChart{Title: title, SVG: c.SVG()})
		return nil
	}
	if p.IsAdmin() {
		if err := chart("All repositories", "chart-total", [2]string{usage.ScopeTotal, ""}); err != nil {
			return err
		}
		var owners [][2]string
		for _, o := range rep.Owners {
			owners = append(owners, [2]string{usage.ScopeOwner, o.Name})
		}
		if err := chart("By owner", "chart-owners", owners...); err != nil {
			return err
		}
	}
	repos := slices.Clone(rep.Repositories)
	slices.SortFunc(repos, func(a, b usage.Line) int { return cmp.Compare(b.Bytes, a.Bytes) })
	var lines [][2]string
	for i, l := range repos {
		if i == maxStorageCharts {
			break
		}
		lines = append(lines, [2]string{usage.ScopeRepository, l.Name})
	}
	if err := chart("Largest repositories", "chart-repos", lines...); err != nil {
		return err
	}
	return h.page(w, r, "storage", "Storage", d)
}
