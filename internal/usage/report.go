package usage

import (
	"context"
	"database/sql"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Service measures, samples and serves storage use.
type Service struct {
	DB    *meta.DB
	Repos *repo.Store
	Auth  *auth.Service
	Log   *slog.Logger
	// PricePerGBMonth prices a GB (2^30 bytes) held for a month; Currency
	// labels it.
	PricePerGBMonth float64
	Currency        string

	// measuring shares one measurement among concurrent callers of
	// Build: a measurement walks every reference, and GET /api/v1/usage
	// is open to every signed-in user, so callers at once wait for the
	// one in flight instead of each starting their own.
	measuring singleflight.Group
}

// measure is Measure of scope, shared with concurrent callers.
func (s *Service) measure(ctx context.Context, scope string) ([]Line, error) {
	v, err, _ := s.measuring.Do(scope, func() (any, error) { return Measure(ctx, s.DB, scope) })
	if err != nil {
		return nil, err
	}
	return append([]Line(nil), v.([]Line)...), nil
}

const gib = 1 << 30

func (s *Service) cost(bytes int64) float64 {
	if s.PricePerGBMonth <= 0 {
		return 0
	}
	return float64(bytes) / gib * s.PricePerGBMonth
}

// Report is GET /api/v1/usage's answer.
type Report struct {
	// Repositories are those the caller may read; Owners, Formats and
	// the totals are for admins only.
	Repositories []Line  `json:"repositories"`
	Owners       []Line  `json:"owners,omitempty"`
	Formats      []Line  `json:"formats,omitempty"`
	Total        *Line   `json:"total,omitempty"`
	Recorded     int64   `json:"recorded_bytes,omitempty"` // every blob, garbage included
	Price        float64 `json:"price_per_gb_month,omitempty"`
	Currency     string  `json:"currency,omitempty"`
}

// Build measures storage now, as p may see it.
func (s *Service) Build(ctx context.Context, p auth.Principal) (Report, error) {
	rep := Report{Repositories: []Line{}, Price: s.PricePerGBMonth, Currency: s.Currency}
	repos, err := s.Repos.List(ctx, "")
	if err != nil {
		return rep, err
	}
	byName := map[string]*repo.Repository{}
	for _, rp := range repos {
		byName[rp.Name] = rp
	}
	lines, err := s.measure(ctx, ScopeRepository)
	if err != nil {
		return rep, err
	}
	for _, l := range lines {
		rp := byName[l.Name]
		if rp == nil || s.Auth.Authorize(ctx, p, rp, auth.Read) != nil {
			continue
		}
		l.Format, l.Owner, l.Cost = rp.Format, rp.Owner, s.cost(l.Bytes)
		rep.Repositories = append(rep.Repositories, l)
	}
	if !p.IsAdmin() {
		return rep, nil
	}
	for _, sc := range []struct {
		scope string
		into  *[]Line
	}{{ScopeOwner, &rep.Owners}, {ScopeFormat, &rep.Formats}} {
		ls, err := s.measure(ctx, sc.scope)
		if err != nil {
			return rep, err
		}
		for i := range ls {
			ls[i].Cost = s.cost(ls[i].Bytes)
		}
		*sc.into = ls
	}
	ref, recorded, err := Total(ctx, s.DB)
	if err != nil {
		return rep, err
	}
	rep.Total = &Line{Scope: ScopeTotal, Bytes: ref, UniqueBytes: ref, Cost: s.cost(ref)}
	rep.Recorded = recorded
	return rep, nil
}

// Sample writes today's (UTC) sample of every scope into the history,
// replacing an earlier sample of the same day.
func (s *Service) Sample(ctx context.Context, now time.Time) (int, error) {
	day := now.UTC().Format(time.DateOnly)
	var all []Line
	for _, sc := range []string{ScopeRepository, ScopeOwner, ScopeFormat} {
		ls, err := Measure(ctx, s.DB, sc)
		if err != nil {
			return 0, err
		}
		all = append(all, ls...)
	}
	ref, _, err := Total(ctx, s.DB)
	if err != nil {
		return 0, err
	}
	all = append(all, Line{Scope: ScopeTotal, Bytes: ref, UniqueBytes: ref})
	err = s.DB.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM usage_history WHERE day = $1`, day); err != nil {
			return meta.Err(err)
		}
		for _, l := range all {
			if _, err := tx.ExecContext(ctx, `INSERT INTO usage_history (day, scope, name, bytes, unique_bytes, sampled_at) VALUES ($1, $2, $3, $4, $5, $6)`,
				day, l.Scope, l.Name, l.Bytes, l.UniqueBytes, now.UnixMilli()); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	return len(all), err
}

// Point is one day of a history.
type Point struct {
	Day         string  `json:"day"`
	Bytes       int64   `json:"bytes"`
	UniqueBytes int64   `json:"unique_bytes"`
	Cost        float64 `json:"cost_per_month,omitempty"`
}

// History returns the samples of one scope and name, oldest first, for
// the last days days.
func (s *Service) History(ctx context.Context, scope, name string, days int, now time.Time) ([]Point, error) {
	from := now.UTC().AddDate(0, 0, -days).Format(time.DateOnly)
	rows, err := s.DB.QueryContext(ctx, `SELECT day, bytes, unique_bytes FROM usage_history WHERE scope = $1 AND name = $2 AND day > $3 ORDER BY day`, scope, name, from)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	out := []Point{}
	for rows.Next() {
		var p Point
		if err := rows.Scan(&p.Day, &p.Bytes, &p.UniqueBytes); err != nil {
			return nil, meta.Err(err)
		}
		p.Cost = s.cost(p.Bytes)
		out = append(out, p)
	}
	return out, meta.Err(rows.Err())
}

// mayRead checks that p may see the history of scope/name: a repository
// it may read; owners, formats and the total are for admins.
func (s *Service) mayRead(ctx context.Context, p auth.Principal, scope, name string) error {
	switch scope {
	case ScopeRepository:
		rp, err := s.Repos.Get(ctx, name)
		if errs.Is(err, errs.NotFound) {
			if p.Anonymous() {
				return errs.E(errs.Unauthenticated, "authentication required")
			}
			return errs.E(errs.NotFound, "repository %q not found", name)
		} else if err != nil {
			return err
		}
		if err := s.Auth.Authorize(ctx, p, rp, auth.Read); err != nil {
			if errs.Is(err, errs.Unauthenticated) {
				return err
			}
			return errs.E(errs.NotFound, "repository %q not found", name) // no hint that it exists
		}
		return nil
	case ScopeOwner, ScopeFormat, ScopeTotal:
		return auth.RequireAdmin(p)
	}
	return errs.E(errs.Invalid, "scope %q: want repository, owner, format or total", scope)
}

// Routes registers GET /api/v1/usage and its history.
func (s *Service) Routes(mux *http.ServeMux) {
	sf := &httpx.Surface{Name: "api", WriteError: httpx.WriteJSONError, Auth: s.Auth, Log: s.Log}
	mux.Handle("GET /api/v1/usage", sf.Handle(s.getUsage))                // now: repositories (readable), owners, formats, total (admins)
	mux.Handle("GET /api/v1/usage/history", sf.Handle(s.getUsageHistory)) // ?scope=&name=&days=
}

func (s *Service) getUsage(w http.ResponseWriter, r *http.Request) error {
	p := auth.From(r.Context())
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	rep, err := s.Build(r.Context(), p)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, rep)
}

func (s *Service) getUsageHistory(w http.ResponseWriter, r *http.Request) error {
	p := auth.From(r.Context())
	if p.Anonymous() {
		return errs.E(errs.Unauthenticated, "authentication required")
	}
	q := r.URL.Query()
	scope, name := q.Get("scope"), q.Get("name")
	if scope == "" {
		scope = ScopeTotal
	}
	days, _ := strconv.Atoi(q.Get("days"))
	if days <= 0 || days > 3660 {
		days = 90
	}
	if err := s.mayRead(r.Context(), p, scope, name); err != nil {
		return err
	}
	pts, err := s.History(r.Context(), scope, name, days, time.Now())
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"scope": scope, "name": name, "points": pts})
}

// Collector exports the latest sample as gauges:
// arca_storage_usage_bytes{scope, name, share="unique"|"shared"}.
type Collector struct{ db *meta.DB }

// NewCollector returns the collector of the latest usage sample.
func NewCollector(db *meta.DB) *Collector { return &Collector{db: db} }

var usageDesc = prometheus.NewDesc("arca_storage_usage_bytes",
	"Bytes of distinct content per repository, owner, format and in total at the latest daily sample, unique to it or shared with others.",
	[]string{"scope", "name", "share"}, nil)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- usageDesc }

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.db.QueryContext(ctx, `SELECT scope, name, bytes, unique_bytes FROM usage_history WHERE day = (SELECT MAX(day) FROM usage_history)`)
	if err != nil {
		return
	}
	defer rows.Close()
	for rows.Next() {
		var scope, name string
		var bytes, unique int64
		if rows.Scan(&scope, &name, &bytes, &unique) != nil {
			return
		}
		ch <- prometheus.MustNewConstMetric(usageDesc, prometheus.GaugeValue, float64(unique), scope, name, "unique")
		ch <- prometheus.MustNewConstMetric(usageDesc, prometheus.GaugeValue, float64(bytes-unique), scope, name, "shared")
	}
}
