package pypi

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// redirectToSimple answers /pypi/<repo>/ and /pypi/<repo>/simple with a
// redirect to the index.
func (h *Handler) redirectToSimple(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.repository(r, auth.Read); err != nil {
		return err
	}
	http.Redirect(w, r, "/pypi/"+url.PathEscape(r.PathValue("repo"))+"/simple/", http.StatusMovedPermanently)
	return nil
}

// redirectToProject answers a project URL without its slash, or with a
// name that is not normalized, with a redirect to the normalized URL
// (PEP 503).
func (h *Handler) redirectToProject(w http.ResponseWriter, r *http.Request) error {
	if _, _, err := h.repository(r, auth.Read); err != nil {
		return err
	}
	http.Redirect(w, r, Normalize(r.PathValue("project"))+"/", http.StatusMovedPermanently)
	return nil
}

// index answers the project list: GET /pypi/<repo>/simple/.
func (h *Handler) index(w http.ResponseWriter, r *http.Request) error {
	typ := negotiate(r.Header.Get("Accept"))
	if typ == "" {
		return errs.E(errs.Invalid, "not acceptable: this index serves %s, %s and %s", typeJSON, typeHTMLv1, typeHTML).WithCode(codeNotAcceptable)
	}
	rp, _, err := h.repository(r, auth.Read)
	if err != nil {
		return err
	}
	names, err := h.readIndex(r.Context(), rp, 0)
	if err != nil {
		return err
	}
	body := renderIndexHTML(names)
	if typ == typeJSON {
		body = renderIndexJSON(names)
	}
	servePage(w, r, typ, newRenderedPage("", body))
	return nil
}

// projectPage answers a project page: GET /pypi/<repo>/simple/<project>/.
func (h *Handler) projectPage(w http.ResponseWriter, r *http.Request) error {
	rp, _, err := h.repository(r, auth.Read)
	if err != nil {
		return err
	}
	name := r.PathValue("project")
	if project := Normalize(name); project != name {
		http.Redirect(w, r, "../"+url.PathEscape(project)+"/", http.StatusMovedPermanently)
		return nil
	}
	typ := negotiate(r.Header.Get("Accept"))
	if typ == "" {
		return errs.E(errs.Invalid, "not acceptable: this index serves %s, %s and %s", typeJSON, typeHTMLv1, typeHTML).WithCode(codeNotAcceptable)
	}
	ctx := r.Context()
	var key pageKey
	var generation string
	if rp.Kind == repo.Hosted {
		if generation, err = h.store.generation(ctx, rp.ID, name); errs.Is(err, errs.NotFound) {
			return notFoundProject(rp, name)
		} else if err != nil {
			return err
		}
		key = pageKey{repoID: rp.ID, project: name, typ: typ}
		if pg, ok := h.pages.get(key, generation); ok {
			servePage(w, r, typ, pg)
			return nil
		}
	}
	p, err := h.readProject(ctx, rp, name, 0)
	if err != nil {
		return err
	}
	var body []byte
	if typ == typeJSON {
		body = renderProjectJSON(p)
	} else {
		body = renderProjectHTML(p)
	}
	pg := newRenderedPage(generation, body)
	if generation != "" {
		h.pages.put(key, pg)
	}
	servePage(w, r, typ, pg)
	return nil
}

// servePage serves an index page with an ETag, so that pip's cache
// revalidates it with a 304.
func servePage(w http.ResponseWriter, r *http.Request, typ string, pg *renderedPage) {
	hdr := w.Header()
	ct := typ
	if typ != typeJSON {
		ct += "; charset=utf-8"
	}
	hdr.Set("Content-Type", ct)
	hdr.Set("Cache-Control", "max-age=0, must-revalidate")
	body, etag := pg.body, pg.etag
	// Pages of big projects are large and compress about tenfold; pip and
	// uv accept gzip.
	if len(body) >= minGzipBytes && acceptsGzip(r) {
		body, etag = pg.gzipped(), strings.TrimSuffix(etag, `"`)+`-gzip"`
		hdr.Set("Content-Encoding", "gzip")
	}
	hdr.Set("Vary", "Accept, Accept-Encoding")
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// minGzipBytes is the size from which pages are sent compressed.
const minGzipBytes = 4096

// acceptsGzip reports whether the request's Accept-Encoding admits gzip.
func acceptsGzip(r *http.Request) bool {
	for _, item := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(item, ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			p := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return p != "q=0" && p != "q=0.0" && p != "q=0.00" && p != "q=0.000"
		}
	}
	return false
}

// file serves a distribution file, or a wheel's core metadata at
// <file>.metadata: GET /pypi/<repo>/files/<project>/<filename>.
func (h *Handler) file(w http.ResponseWriter, r *http.Request) error {
	rp, _, err := h.repository(r, auth.Read)
	if err != nil {
		return err
	}
	project, filename := r.PathValue("project"), r.PathValue("filename")
	if Normalize(project) != project {
		return errs.E(errs.NotFound, "no project %q: project names in file URLs are normalized", project)
	}
	ctx := r.Context()
	var ref fileRef
	contentType := "application/octet-stream"
	if dist, ok := strings.CutSuffix(filename, ".metadata"); ok {
		ref, err = h.openMetadata(ctx, rp, project, dist, 0)
		contentType = "text/plain; charset=utf-8"
	} else {
		ref, err = h.openFile(ctx, rp, project, filename, 0)
		if err == nil {
			err = repo.AllowDownload(ctx, h.gate, rp, repo.Download{Format: Format, Name: project, Digest: string(ref.Digest)})
		}
	}
	if err != nil {
		return err
	}
	rd, err := h.blobs.Open(ctx, ref.Digest)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.Wrap(err, errs.Internal, "stored file is missing its content")
		}
		return err
	}
	defer rd.Close()
	hdr := w.Header()
	hdr.Set("Content-Type", contentType)
	hdr.Set("ETag", `"`+ref.Digest.Hex()+`"`)
	hdr.Set("X-Checksum-Sha256", ref.Digest.Hex())
	hdr.Set("Accept-Ranges", "bytes")
	http.ServeContent(w, r, "", ref.Modified, rd)
	return nil
}

// fileRef is where a file's bytes are.
type fileRef struct {
	Digest   blob.Digest
	Modified time.Time
}
