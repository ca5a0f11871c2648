package cleanup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path"
	"slices"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// Deps are what the cleanup service needs.
type Deps struct {
	DB    *meta.DB
	Repos *repo.Store
	Audit *audit.Log
	Log   *slog.Logger
	// Main and S3 return arca's main and S3 handlers: a run deletes
	// through them, in process.
	Main, S3 func() http.Handler
	// Flush writes download times noted in memory (nil: none), so a
	// plan sees the latest.
	Flush func(ctx context.Context) error
	// Now is the clock (tests move it); nil for time.Now.
	Now func() time.Time
}

// Service plans, previews and runs cleanup policies.
type Service struct {
	d        Deps
	Policies Store
}

// New returns the cleanup service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{d: d, Policies: Store{db: d.DB}}
}

// maxListed bounds the items a preview or run lists in its answer (all
// are counted).
const maxListed = 1000

// Preview is what a policy would delete and what that would free.
type Preview struct {
	Policy string `json:"policy"`
	// Items are the first 1000 items it would delete; ItemCount all of them.
	Items     []*Item `json:"items"`
	ItemCount int     `json:"item_count"`
	// ItemBytes is the items' sizes summed (shared content counted for
	// each); FreedBytes the bytes of the blobs that nothing would refer
	// to afterwards — what garbage collection frees once the grace window
	// has passed — and FreedBlobs their number.
	ItemBytes  int64 `json:"item_bytes"`
	FreedBytes int64 `json:"freed_bytes"`
	FreedBlobs int   `json:"freed_blobs"`
}

// Result is what a run deleted.
type Result struct {
	Policy    string   `json:"policy"`
	Deleted   int      `json:"deleted"`
	ItemBytes int64    `json:"item_bytes"`
	Failed    int      `json:"failed"`
	Errors    []string `json:"errors,omitempty"` // the first ten
	Items     []*Item  `json:"items"`            // the first 1000 deleted
	TookMs    int64    `json:"took_ms"`
}

// Plan lists what p deletes now, in the order a run deletes it.
func (s *Service) Plan(ctx context.Context, p *Policy) ([]*Item, error) {
	if s.d.Flush != nil {
		if err := s.d.Flush(ctx); err != nil {
			return nil, err
		}
	}
	repos, err := s.d.Repos.List(ctx, p.Format)
	if err != nil {
		return nil, err
	}
	var out []*Item
	for _, rp := range repos {
		if (p.Repository != "" && rp.Name != p.Repository) || rp.Kind != repo.Hosted {
			continue
		}
		items, err := listers[p.Format](ctx, s.d.DB, rp.Name, rp.ID)
		if err != nil {
			return nil, fmt.Errorf("listing %s: %w", rp.Name, err)
		}
		if err := s.lastDownloads(ctx, rp.ID, items); err != nil {
			return nil, err
		}
		out = append(out, s.selectItems(p.Criteria, items)...)
	}
	return out, nil
}

func (s *Service) lastDownloads(ctx context.Context, repoID int64, items []*Item) error {
	rows, err := s.d.DB.QueryContext(ctx, `SELECT item, last_download_at FROM cleanup_downloads WHERE repository_id = $1`, repoID)
	if err != nil {
		return meta.Err(err)
	}
	defer rows.Close()
	last := map[string]int64{}
	for rows.Next() {
		var k string
		var at int64
		if err := rows.Scan(&k, &at); err != nil {
			return meta.Err(err)
		}
		last[k] = at
	}
	if err := rows.Err(); err != nil {
		return meta.Err(err)
	}
	for _, it := range items {
		for _, k := range it.keys {
			it.LastDownloadAt = max(it.LastDownloadAt, last[k])
		}
	}
	return nil
}

// selectItems applies the criteria to one repository's items.
func (s *Service) selectItems(c Criteria, items []*Item) []*Item {
	now := s.d.Now().UnixMilli()
	day := int64(24 * time.Hour / time.Millisecond)
	newestFirst(items)
	kept := map[string]int{}
	var out []*Item
	for _, it := range items {
		if c.Name != "" && !match(c.Name, it.Name) {
			continue
		}
		if c.KeepLast > 0 && kept[it.group] < c.KeepLast {
			kept[it.group]++
			continue
		}
		versions := []string{it.Version}
		if it.tagged {
			versions = it.Tags
		}
		switch {
		case c.Version != "" && !slices.ContainsFunc(versions, func(v string) bool { return match(c.Version, v) }):
		case slices.ContainsFunc(versions, func(v string) bool {
			return slices.ContainsFunc(c.KeepVersions, func(p string) bool { return match(p, v) })
		}):
		case c.OlderThanDays > 0 && it.CreatedAt > now-int64(c.OlderThanDays)*day:
		case c.NotDownloadedDays > 0 && max(it.CreatedAt, it.LastDownloadAt) > now-int64(c.NotDownloadedDays)*day:
		case c.Prerelease && !it.Prerelease:
		case c.Untagged && (!it.tagged || len(it.Tags) > 0):
		case c.MinSizeBytes > 0 && it.Size < c.MinSizeBytes:
		default:
			out = append(out, it)
		}
	}
	return out
}

func match(pattern, s string) bool {
	ok, _ := path.Match(pattern, s)
	return ok
}

// Preview performs p's deletions in a transaction that it rolls back and
// reports what they would free.
func (s *Service) Preview(ctx context.Context, p *Policy) (Preview, error) {
	pv := Preview{Policy: p.Name, Items: []*Item{}}
	items, err := s.Plan(ctx, p)
	if err != nil {
		return pv, err
	}
	pv.ItemCount = len(items)
	for i, it := range items {
		pv.ItemBytes += it.Size
		if i < maxListed {
			pv.Items = append(pv.Items, it)
		}
	}
	free, bytes, err := FreedBy(ctx, s.d.DB, items)
	pv.FreedBytes, pv.FreedBlobs = bytes, len(free)
	return pv, err
}

// FreedBy is the blobs that deleting items would leave unreferenced,
// and their bytes: the deletions are made in a transaction that is
// rolled back.
func FreedBy(ctx context.Context, db *meta.DB, items []*Item) ([]string, int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, 0, meta.Err(err)
	}
	defer tx.Rollback()
	var digests []string
	images := map[[2]any][]string{} // (repository id, image) -> children
	for _, it := range items {
		if err := it.simulate(ctx, tx); err != nil {
			return nil, 0, err
		}
		digests = append(digests, it.digests...)
		if it.children != nil {
			k := [2]any{it.repoID, it.Name}
			images[k] = append(images[k], it.children...)
		}
	}
	for k, children := range images {
		links, err := danglingLinks(ctx, tx, k[0].(int64), k[1].(string), children)
		if err != nil {
			return nil, 0, err
		}
		for _, l := range links {
			if _, err := tx.ExecContext(ctx, `DELETE FROM oci_blobs WHERE repository_id = $1 AND name = $2 AND digest = $3`, k[0], k[1], l); err != nil {
				return nil, 0, meta.Err(err)
			}
		}
	}
	return gc.Unreferenced(ctx, tx, digests)
}

// Run deletes what p selects now, each item through its format's own
// delete endpoint. Items that fail (an immutable tag, a race with a
// client) are counted and the run goes on.
func (s *Service) Run(ctx context.Context, p *Policy) (Result, error) {
	start := time.Now()
	res := Result{Policy: p.Name, Items: []*Item{}}
	items, err := s.Plan(ctx, p)
	if err != nil {
		return res, err
	}
	as := auth.Principal{UserID: -1, Name: "cleanup:" + p.Name, Kind: auth.KindRobot, Role: auth.Admin}
	images := map[[2]any][]string{}
	fail := func(what string, err error) {
		res.Failed++
		if len(res.Errors) < 10 {
			res.Errors = append(res.Errors, what+": "+err.Error())
		}
	}
	for _, it := range items {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var err error
		for _, d := range it.dels {
			if err = s.call(ctx, as, d); err != nil {
				break
			}
		}
		if err != nil {
			fail(it.Repository+"/"+it.Name+" "+it.Version, err)
			continue
		}
		res.Deleted++
		res.ItemBytes += it.Size
		if len(res.Items) < maxListed {
			res.Items = append(res.Items, it)
		}
		if it.children != nil {
			k := [2]any{it.repoID, it.Name}
			images[k] = append(images[k], it.children...)
		}
	}
	// OCI: the image's links to layers and configs that no remaining
	// manifest uses go too, through the registry's blob delete.
	for _, it := range items {
		k := [2]any{it.repoID, it.Name}
		children, ok := images[k]
		if !ok {
			continue
		}
		delete(images, k)
		links, err := danglingLinks(ctx, s.d.DB, it.repoID, it.Name, children)
		if err != nil {
			return res, err
		}
		for _, l := range links {
			if err := s.call(ctx, as, request{"DELETE", "/v2/" + it.Repository + "/" + it.Name + "/blobs/" + l, false}); err != nil {
				fail(it.Repository+"/"+it.Name+"@"+l, err)
			}
		}
	}
	res.TookMs = time.Since(start).Milliseconds()
	s.d.Audit.Record(ctx, audit.Event{Actor: "arca", Action: "cleanup.run", Subject: p.Name, Repository: p.Repository,
		Detail: map[string]any{"deleted": res.Deleted, "failed": res.Failed, "item_bytes": res.ItemBytes}})
	if err := s.Policies.noteRun(ctx, p.Name, map[string]any{"deleted": res.Deleted, "failed": res.Failed, "item_bytes": res.ItemBytes, "errors": res.Errors}); err != nil {
		return res, err
	}
	return res, nil
}

// call makes one delete request to arca's own handler, in process.
func (s *Service) call(ctx context.Context, as auth.Principal, r request) error {
	h := s.d.Main
	if r.s3 {
		h = s.d.S3
	}
	if h == nil || h() == nil {
		return errs.E(errs.Unavailable, "no handler for %s", r.path)
	}
	req, err := http.NewRequestWithContext(auth.WithInternal(ctx, as), r.method, "http://arca.local"+r.path, http.NoBody)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "building %s", r.path)
	}
	req.RemoteAddr = "127.0.0.1:0"
	rec := httptest.NewRecorder()
	h().ServeHTTP(rec, req)
	if rec.Code >= 300 {
		body, _ := io.ReadAll(io.LimitReader(rec.Body, 300))
		return fmt.Errorf("%s %s: %d %s", r.method, r.path, rec.Code, body)
	}
	return nil
}
