package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"

	"github.com/arcaproject/arca/internal/auth"
)

//go:embed templates static
var embedded embed.FS // read-only assets, not state

// Page is what every page template receives as dot. Handlers fill Title
// and Data (and Nav when the path does not say the section); render fills
// the rest.
type Page struct {
	Title string
	// Nav is the key of the highlighted navigation entry (see layout.html);
	// empty means derived from the path.
	Nav     string
	User    auth.Principal
	CSRF    string // the anti-forgery token forms must carry: {{template "csrf" $}}
	Flash   string // a one-time message from the previous request
	BaseURL string // this server's URL as clients reach it, no trailing slash
	Version string
	Path    string // the request's path
	Data    any    // the page's own data
}

// views holds the templates: one template set per page, each the layout
// and partials plus that page's file, parsed when the page is first
// rendered. Parsing all forty pages up front (each a clone of the layout
// and partials) took 9 ms of CPU at every start, on a core the start
// itself needed.
type views struct {
	pages  map[string]func() (*template.Template, error)
	assets map[string]string // static file name -> content hash, for cache busting
}

func loadViews() (*views, error) {
	v := &views{pages: map[string]func() (*template.Template, error){}, assets: map[string]string{}}
	err := fs.WalkDir(embedded, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v.assets[strings.TrimPrefix(p, "static/")] = hex.EncodeToString(sum[:6])
		return nil
	})
	if err != nil {
		return nil, err
	}
	base, err := template.New("").Funcs(v.funcs()).ParseFS(embedded, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("ui templates: %w", err)
	}
	files, err := fs.Glob(embedded, "templates/pages/*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		v.pages[strings.TrimSuffix(path.Base(f), ".html")] = sync.OnceValues(func() (*template.Template, error) {
			t, err := base.Clone() // base is never executed, so it can be cloned at any time
			if err != nil {
				return nil, err
			}
			if _, err := t.ParseFS(embedded, f); err != nil {
				return nil, fmt.Errorf("ui template %s: %w", f, err)
			}
			return t, nil
		})
	}
	return v, nil
}

// asset returns the URL of a static file, versioned by its content so that
// browsers may cache it for a year.
func (v *views) asset(name string) string {
	return "/ui/static/" + name + "?v=" + v.assets[name]
}

// render writes the page template name (templates/pages/<name>.html) in the
// layout with status. It renders into memory first, so a template error
// becomes a clean 500 page rather than half a page.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, p Page) error {
	page, ok := h.views().pages[name]
	if !ok {
		return fmt.Errorf("ui: no template %q", name)
	}
	t, err := page()
	if err != nil {
		return err
	}
	h.fillPage(w, r, &p)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return fmt.Errorf("ui: rendering %s: %w", name, err)
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
	return nil
}

// page renders a page with status 200.
func (h *Handler) page(w http.ResponseWriter, r *http.Request, name, title string, data any) error {
	return h.render(w, r, http.StatusOK, name, Page{Title: title, Data: data})
}

func (h *Handler) fillPage(w http.ResponseWriter, r *http.Request, p *Page) {
	p.User = auth.From(r.Context())
	p.CSRF = csrfToken(r)
	p.BaseURL = h.baseURL(r)
	p.Version = h.Version
	p.Path = r.URL.Path
	if p.Nav == "" {
		p.Nav = navOf(r.URL.Path)
	}
	if c, err := r.Cookie(flashCookie); err == nil {
		if msg, err := url.QueryUnescape(c.Value); err == nil {
			p.Flash = msg
		}
		setCookie(w, r, flashCookie, "", -1)
	}
}

// navOf names the navigation entry a path belongs to.
func navOf(p string) string {
	rest, ok := strings.CutPrefix(p, "/ui/")
	if !ok {
		return "dashboard"
	}
	section, _, _ := strings.Cut(rest, "/")
	return section
}

// renderError writes the error page. It is the last resort, so a failure
// to render it falls back to plain text.
func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	data := struct {
		Status     int
		StatusText string
		Message    string
	}{status, http.StatusText(status), msg}
	if err := h.render(w, r, status, "error", Page{Title: http.StatusText(status), Nav: "-", Data: data}); err != nil {
		h.log.ErrorContext(r.Context(), "rendering the error page failed", "err", err)
		http.Error(w, msg, status)
	}
}

// redirect answers a successful form post: 303 to target, with a message
// shown once on the next page.
func (h *Handler) redirect(w http.ResponseWriter, r *http.Request, target, flash string) error {
	if flash != "" {
		setCookie(w, r, flashCookie, url.QueryEscape(flash), 60)
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// baseURL is this server's URL as clients reach it: the configured public
// URL, else the scheme and Host of the request.
func (h *Handler) baseURL(r *http.Request) string {
	if h.PublicURL != "" {
		return h.PublicURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// static serves the embedded assets. A versioned URL (?v=<hash>, as asset
// writes them) may be cached for a year.
func (h *Handler) static(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("file")
	if _, ok := h.views().assets[name]; !ok {
		http.NotFound(w, r)
		return nil
	}
	if r.URL.Query().Get("v") == h.views().assets[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	http.ServeFileFS(w, r, embedded, "static/"+name)
	return nil
}

func (h *Handler) favicon(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Cache-Control", "public, max-age=86400")
	http.ServeFileFS(w, r, embedded, "static/favicon.svg")
	return nil
}

// crumb is one step of a breadcrumb trail ({{template "crumbs" ...}}); the
// last one, the current page, has no Href.
type crumb struct {
	Label string
	Href  string
}
