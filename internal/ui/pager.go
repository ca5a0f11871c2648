package ui

import (
	"net/http"
	"net/url"
	"strconv"
)

// Pager paginates a list on the server: the page number comes from the
// query (?page=N, 1-based) and the query asks the database for one row more
// than a page, which tells whether a next page exists without counting.
//
//	pg := newPager(r, 50)
//	rows, err := query(..., pg.Limit(), pg.Offset())
//	rows = rows[:pg.Keep(len(rows))]
//	... Data{Rows: rows, Pager: pg} ... {{template "pager" .Data.Pager}}
type Pager struct {
	Page int
	Size int
	More bool // a next page exists (set by Keep)
	// Shown is how many rows this page shows (set by Keep).
	Shown int

	path  string
	query url.Values
}

// maxPage bounds the page number, so that a crafted URL cannot make the
// database skip an absurd number of rows.
const maxPage = 100000

// newPager reads ?page= (and ?size= within 10..200) from r.
func newPager(r *http.Request, size int) *Pager {
	q := r.URL.Query()
	p := &Pager{Page: 1, Size: size, path: r.URL.Path, query: q}
	if n, err := strconv.Atoi(q.Get("page")); err == nil && n > 1 {
		p.Page = min(n, maxPage)
	}
	if n, err := strconv.Atoi(q.Get("size")); err == nil && n >= 10 && n <= 200 {
		p.Size = n
	}
	return p
}

// Limit is the LIMIT to query: one more than a page.
func (p *Pager) Limit() int { return p.Size + 1 }

// Offset is the OFFSET to query.
func (p *Pager) Offset() int { return (p.Page - 1) * p.Size }

// Keep takes the number of rows the query returned and returns how many to
// show, recording whether there is a next page.
func (p *Pager) Keep(n int) int {
	p.More = n > p.Size
	p.Shown = min(n, p.Size)
	return p.Shown
}

// First is the 1-based position of the page's first row.
func (p *Pager) First() int { return p.Offset() + 1 }

// Last is the 1-based position of the page's last row.
func (p *Pager) Last() int { return p.Offset() + p.Shown }

// Prev is the URL of the previous page, or "" on the first.
func (p *Pager) Prev() string {
	if p.Page <= 1 {
		return ""
	}
	return p.url(p.Page - 1)
}

// Next is the URL of the next page, or "" on the last.
func (p *Pager) Next() string {
	if !p.More {
		return ""
	}
	return p.url(p.Page + 1)
}

func (p *Pager) url(page int) string {
	q := url.Values{}
	for k, v := range p.query {
		q[k] = v
	}
	if page <= 1 {
		q.Del("page")
	} else {
		q.Set("page", strconv.Itoa(page))
	}
	if len(q) == 0 {
		return p.path
	}
	return p.path + "?" + q.Encode()
}
