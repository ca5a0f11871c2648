package npm

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// SearchQuery is a parsed /-/v1/search text: words that must each appear
// in a package's name, description or keywords, and the qualifiers
// keywords:a,b (each keyword must be listed) and scope:s. Other qualifiers
// of the public registry (author:, maintainer:, is:, not:) are ignored.
type SearchQuery struct {
	Terms    []string
	Keywords []string
	Scope    string
}

// ParseSearchQuery parses npm search text (at most 64 words are read).
func ParseSearchQuery(text string) SearchQuery {
	var q SearchQuery
	for i, w := range strings.Fields(strings.ToLower(text)) {
		if i >= 64 {
			break
		}
		k, v, ok := strings.Cut(w, ":")
		switch {
		case !ok:
			q.Terms = append(q.Terms, truncate(w, 214))
		case k == "keywords":
			for _, kw := range strings.Split(v, ",") {
				if kw != "" {
					q.Keywords = append(q.Keywords, truncate(kw, 100))
				}
			}
		case k == "scope":
			q.Scope = strings.TrimPrefix(truncate(v, 214), "@")
		}
	}
	return q
}

// matches scores a package against q: 0 when it does not match.
func (q SearchQuery) matches(name, description, keywords string) float64 {
	lname, ldesc := strings.ToLower(name), strings.ToLower(description)
	kws := strings.Fields(keywords)
	if q.Scope != "" && !strings.HasPrefix(lname, "@"+q.Scope+"/") {
		return 0
	}
	for _, k := range q.Keywords {
		if !slices.Contains(kws, k) {
			return 0
		}
	}
	score := 1.0
	for _, t := range q.Terms {
		switch {
		case lname == t || strings.HasSuffix(lname, "/"+t):
			score += 10
		case strings.Contains(lname, t):
			score += 3
		case slices.Contains(kws, t):
			score += 2
		case strings.Contains(ldesc, t) || strings.Contains(keywords, t):
			score++
		default:
			return 0
		}
	}
	return score
}

type searchPackage struct {
	Name        string            `json:"name"`
	Scope       string            `json:"scope"`
	Version     string            `json:"version"`
	Description string            `json:"description,omitempty"`
	Keywords    []string          `json:"keywords,omitempty"`
	Date        string            `json:"date"`
	Links       map[string]string `json:"links"`
	Publisher   *searchUser       `json:"publisher,omitempty"`
	Maintainers []searchUser      `json:"maintainers"`
}

type searchUser struct {
	Username string `json:"username"`
	Email    string `json:"email,omitempty"`
}

// searchHit is one result: its package name (to merge groups' results),
// score and JSON object.
type searchHit struct {
	name   string
	score  float64
	object json.RawMessage
}

// search answers GET /-/v1/search?text=&size=&from= (npm search).
func (h *Handler) search(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Read)
	if err != nil {
		return err
	}
	qv := c.r.URL.Query()
	size, from := 20, 0
	if v := qv.Get("size"); v != "" {
		if size, err = strconv.Atoi(v); err != nil || size < 0 || size > 250 {
			return errs.E(errs.Invalid, "size must be 0-250")
		}
	}
	if v := qv.Get("from"); v != "" {
		if from, err = strconv.Atoi(v); err != nil || from < 0 || from > 10000 {
			return errs.E(errs.Invalid, "from must be 0-10000")
		}
	}
	text := qv.Get("text")
	hits, err := h.searchIn(ctx, rp, ParseSearchQuery(text), text, from+size, 0)
	if err != nil {
		return err
	}
	total := len(hits)
	objects := []json.RawMessage{}
	for i := from; i < len(hits) && i < from+size; i++ {
		objects = append(objects, hits[i].object)
	}
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{
		"objects": objects, "total": total, "time": time.Now().UTC().Format(time.RFC1123),
	})
}

// searchIn finds up to limit packages of rp, best first: a hosted
// repository's own, a proxy's upstream's answer (nothing while it is
// unavailable), a group's members' merged, each name once.
func (h *Handler) searchIn(ctx context.Context, rp *repo.Repository, q SearchQuery, text string, limit, depth int) ([]searchHit, error) {
	switch rp.Kind {
	case repo.Group:
		var all []searchHit
		seen := map[string]bool{}
		for _, m := range repo.Readable(h.members(ctx, rp, depth)) {
			hits, err := h.searchIn(ctx, m, q, text, limit, depth+1)
			if err != nil {
				return nil, err
			}
			for _, hit := range hits {
				if !seen[hit.name] {
					seen[hit.name] = true
					all = append(all, hit)
				}
			}
		}
		return all, nil
	case repo.Proxy:
		hits, err := h.upstreamSearch(ctx, rp, text, limit)
		if err != nil {
			h.log.WarnContext(ctx, "npm upstream search failed", "repository", rp.Name, "err", err)
			return nil, nil
		}
		return hits, nil
	}
	return h.hostedSearch(ctx, rp, q, limit)
}

// hostedSearch matches q against the packages of a hosted repository.
func (h *Handler) hostedSearch(ctx context.Context, rp *repo.Repository, q SearchQuery, limit int) ([]searchHit, error) {
	like := "%"
	if len(q.Terms) > 0 {
		like = "%" + escapeLike(q.Terms[0]) + "%"
	} else if q.Scope != "" {
		like = "%" + escapeLike("@"+q.Scope+"/") + "%"
	}
	rows, err := h.db.QueryContext(ctx, `SELECT p.name, p.description, p.keywords, p.updated_at, COALESCE(t.version, ''), COALESCE(v.published_by, '')
		FROM npm_packages p
		LEFT JOIN npm_dist_tags t ON t.repository_id = p.repository_id AND t.name = p.name AND t.tag = 'latest'
		LEFT JOIN npm_versions v ON v.repository_id = t.repository_id AND v.name = t.name AND v.version = t.version
		WHERE p.repository_id = $1 AND (lower(p.name) LIKE $2 ESCAPE '\' OR lower(p.description) LIKE $2 ESCAPE '\' OR p.keywords LIKE $2 ESCAPE '\')
		ORDER BY p.name LIMIT 10000`, rp.ID, like)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	var hits []searchHit
	for rows.Next() {
		var name, desc, keywords, version, publisher string
		var updated int64
		if err := rows.Scan(&name, &desc, &keywords, &updated, &version, &publisher); err != nil {
			return nil, meta.Err(err)
		}
		score := q.matches(name, desc, keywords)
		if score == 0 {
			continue
		}
		pkg := searchPackage{Name: name, Scope: "unscoped", Version: version, Description: desc, Keywords: strings.Fields(keywords),
			Date: isoTime(updated), Links: map[string]string{}, Maintainers: []searchUser{}}
		if n, err := ParseName(name); err == nil && n.Scope != "" {
			pkg.Scope = n.Scope
		}
		if publisher != "" {
			pkg.Publisher = &searchUser{Username: publisher}
			pkg.Maintainers = []searchUser{{Username: publisher}}
		}
		final := score / (score + 1)
		obj, _ := json.Marshal(map[string]any{
			"package":     pkg,
			"score":       map[string]any{"final": final, "detail": map[string]float64{"quality": 1, "popularity": 1, "maintenance": 1}},
			"searchScore": score,
		})
		hits = append(hits, searchHit{name: name, score: score, object: obj})
	}
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	slices.SortStableFunc(hits, func(a, b searchHit) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	return hits, nil
}

// escapeLike escapes the wildcards of a LIKE pattern (ESCAPE '\').
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// upstreamSearch passes a search to a proxy's upstream.
func (h *Handler) upstreamSearch(ctx context.Context, rp *repo.Repository, text string, limit int) ([]searchHit, error) {
	s, base, err := h.upstreamOf(rp)
	if err != nil {
		return nil, err
	}
	if down, _ := h.paused(rp.ID); down {
		return nil, errs.E(errs.Unavailable, "the upstream of %s is unavailable", rp.Name)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	q := url.Values{"text": {text}, "size": {strconv.Itoa(min(limit, 250))}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"-/v1/search?"+q.Encode(), nil)
	if err != nil {
		return nil, errs.Wrap(err, errs.Internal, "bad upstream URL")
	}
	req.Header.Set("Accept", "application/json")
	setAuth(req, s)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "the upstream of %s is unreachable", rp.Name)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errs.E(errs.Unavailable, "the upstream of %s answered %s to a search", rp.Name, resp.Status)
	}
	var body struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 16<<20)).Decode(&body); err != nil {
		return nil, errs.Wrap(err, errs.Unavailable, "the upstream of %s sent an invalid search result", rp.Name)
	}
	var hits []searchHit
	for _, o := range body.Objects {
		var obj struct {
			Package struct {
				Name string `json:"name"`
			} `json:"package"`
		}
		if json.Unmarshal(o, &obj) == nil && obj.Package.Name != "" {
			hits = append(hits, searchHit{name: obj.Package.Name, object: o})
		}
	}
	return hits, nil
}
