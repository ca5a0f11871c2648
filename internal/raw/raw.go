// Package raw serves raw files at /raw/<repo>/<path>: upload with PUT or
// POST (streamed, any size, chunked encoding welcome — DVC's HTTP remote
// sends it), download with ranges and conditional requests, delete, and
// directory listings as JSON or HTML. A raw repository works as a DVC HTTP
// remote.
package raw

import (
	"encoding/base64"
	"encoding/hex"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
	"github.com/arcaproject/arca/internal/usage"
)

// Format is the repository format this package serves.
const Format = "raw"

// Handler serves the raw format.
type Handler struct {
	quota     *usage.Quota
	downloads *usage.Downloads
	repos     *repo.Store
	auth      *auth.Service
	blobs     *blob.Store
	files     files
	audit     *audit.Log
	surface   httpx.Surface
	maxUpload int64
}

// Deps are what the raw handler needs.
type Deps struct {
	// Quota checks uploads against the repository quota; Downloads
	// notes downloads for cleanup policies. Either may be nil.
	Quota     *usage.Quota
	Downloads *usage.Downloads
	DB        *meta.DB
	Repos     *repo.Store
	Auth      *auth.Service
	Blobs     *blob.Store
	Audit     *audit.Log
	Log       *slog.Logger
	MaxUpload int64 // bytes; 0 = unlimited
}

// New returns the raw handler.
func New(d Deps) *Handler {
	h := &Handler{repos: d.Repos, auth: d.Auth, blobs: d.Blobs, files: files{d.DB, d.Blobs}, audit: d.Audit, maxUpload: d.MaxUpload}
	h.quota, h.downloads = d.Quota, d.Downloads
	h.surface = httpx.Surface{Name: "raw", WriteError: httpx.WriteJSONError, Auth: d.Auth, Log: d.Log}
	return h
}

// resolve finds the repository and checks the principal may act on it.
func (h *Handler) resolve(r *http.Request, action auth.Action) (*repo.Repository, error) {
	rp, err := h.repos.Get(r.Context(), r.PathValue("repo"))
	if err != nil {
		return nil, err
	}
	if rp.Format != Format {
		return nil, errs.E(errs.NotFound, "repository %q is a %s repository, not raw", rp.Name, rp.Format)
	}
	return rp, h.auth.Authorize(r.Context(), auth.From(r.Context()), rp, action)
}

// filePath extracts and validates the path after /raw/<repo>/.
func filePath(r *http.Request) (string, bool, error) {
	if err := checkEscaped(r.URL.EscapedPath()); err != nil {
		return "", false, err
	}
	return CleanPath(r.PathValue("path"))
}

func (h *Handler) get(w http.ResponseWriter, r *http.Request) error {
	p, dir, err := filePath(r)
	if err != nil {
		return err
	}
	rp, err := h.resolve(r, auth.Read)
	if err != nil {
		return err
	}
	if dir {
		return h.listing(w, r, rp, p)
	}
	f, err := h.files.get(r.Context(), rp.ID, p)
	if err != nil {
		return err
	}
	d, err := blob.ParseDigest(f.Digest)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "corrupt metadata")
	}
	rd, err := h.blobs.Open(r.Context(), d)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.Wrap(err, errs.Internal, "stored file is missing its content")
		}
		return err
	}
	defer rd.Close()
	if r.Method == http.MethodGet {
		h.downloads.Touch(rp.ID, p)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", f.ContentType)
	hdr.Set("ETag", `"`+d.Hex()+`"`)
	hdr.Set("X-Checksum-Sha256", d.Hex())
	hdr.Set("Accept-Ranges", "bytes")
	// ServeContent answers Range, If-Match, If-None-Match, If-Modified-Since
	// and If-Unmodified-Since, and HEAD, from the headers set above.
	// A GET sends the blob's file itself (sendfile), a HEAD opens nothing.
	var content io.ReadSeeker = rd
	if r.Method != http.MethodHead {
		content = rd.Content()
	}
	http.ServeContent(w, r, "", time.UnixMilli(f.UpdatedAt), content)
	return nil
}

func (h *Handler) put(w http.ResponseWriter, r *http.Request) error {
	p, dir, err := filePath(r)
	if err != nil {
		return err
	}
	if dir {
		return errs.E(errs.Invalid, "cannot upload to a directory path (it ends in /)")
	}
	rp, err := h.resolve(r, auth.Write)
	if err != nil {
		return err
	}
	ctx := r.Context()
	existing, err := h.files.get(ctx, rp.ID, p)
	switch {
	case err == nil:
		if r.Header.Get("If-None-Match") == "*" {
			return errs.E(errs.Precondition, "file %q already exists", p)
		}
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.E(errs.KindOf(err), "file %q exists; replacing it needs the maintainer role", p)
		}
	case !errs.Is(err, errs.NotFound):
		return err
	}
	want, err := expectation(r)
	if err != nil {
		return err
	}
	var body io.Reader = r.Body
	if h.maxUpload > 0 {
		if want.SizeKnown && want.Size > h.maxUpload {
			return errs.E(errs.TooLarge, "file of %d bytes exceeds the limit of %d", want.Size, h.maxUpload)
		}
		body = &limitReader{r: r.Body, left: h.maxUpload}
	}
	if want.SizeKnown && want.Digest != "" { // refused before the bytes come
		if err := h.quota.Check(ctx, rp, string(want.Digest), want.Size); err != nil {
			return err
		}
	}
	info, err := h.blobs.Put(ctx, body, want, 0)
	if err != nil {
		return err
	}
	if err := h.quota.Check(ctx, rp, string(info.Digest), info.Size); err != nil {
		return err
	}
	contentType := r.Header.Get("Content-Type")
	if contentType == "" || contentType == "application/x-www-form-urlencoded" {
		contentType = mime.TypeByExtension(path.Ext(p))
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	now := meta.Now()
	f := &File{Path: p, Digest: string(info.Digest), Size: info.Size, ContentType: contentType,
		CreatedBy: auth.From(ctx).String(), CreatedAt: now, UpdatedAt: now}
	replaced, err := h.files.put(ctx, rp.ID, f, info.MD5, info.SHA1)
	if err != nil {
		return err
	}
	action := "raw.upload"
	if replaced || existing != nil {
		action = "raw.replace"
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: p, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"digest": info.Digest, "size": info.Size}})
	status := http.StatusCreated
	if replaced {
		status = http.StatusOK
	}
	w.Header().Set("ETag", `"`+info.Digest.Hex()+`"`)
	w.Header().Set("X-Checksum-Sha256", info.Digest.Hex())
	return httpx.WriteJSON(w, status, map[string]any{
		"repository": rp.Name, "path": p, "size": info.Size, "digest": info.Digest,
	})
}

// expectation reads the declared length and digests of an upload:
// Content-Length, X-Checksum-Sha256/-Sha1/-Md5 (hex), Content-MD5
// (base64) and Content-Digest (RFC 9530, sha-256 only).
func expectation(r *http.Request) (blob.Expect, error) {
	var c blob.Expect
	if r.ContentLength >= 0 {
		c.Size, c.SizeKnown = r.ContentLength, true
	}
	if v := r.Header.Get("X-Checksum-Sha256"); v != "" {
		d, err := blob.ParseDigest("sha256:" + strings.ToLower(v))
		if err != nil {
			return c, errs.E(errs.Invalid, "invalid X-Checksum-Sha256 header")
		}
		c.Digest = d
	}
	if v := r.Header.Get("Content-Digest"); v != "" {
		for _, item := range strings.Split(v, ",") {
			alg, val, ok := strings.Cut(strings.TrimSpace(item), "=")
			if !ok || alg != "sha-256" {
				continue
			}
			sum, err := base64.StdEncoding.DecodeString(strings.Trim(val, ":"))
			if err != nil || len(sum) != 32 {
				return c, errs.E(errs.Invalid, "invalid Content-Digest header")
			}
			if c.Digest != "" && c.Digest != blob.FromSum(sum) {
				return c, errs.E(errs.Invalid, "Content-Digest and X-Checksum-Sha256 disagree")
			}
			c.Digest = blob.FromSum(sum)
		}
	}
	if v := r.Header.Get("Content-MD5"); v != "" {
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != 16 {
			return c, errs.E(errs.Invalid, "invalid Content-MD5 header")
		}
		c.MD5 = hex.EncodeToString(sum)
	}
	if v := r.Header.Get("X-Checksum-Md5"); v != "" {
		if len(v) != 32 || !isHex(v) {
			return c, errs.E(errs.Invalid, "invalid X-Checksum-Md5 header")
		}
		c.MD5 = strings.ToLower(v)
	}
	if v := r.Header.Get("X-Checksum-Sha1"); v != "" {
		if len(v) != 40 || !isHex(v) {
			return c, errs.E(errs.Invalid, "invalid X-Checksum-Sha1 header")
		}
		c.SHA1 = strings.ToLower(v)
	}
	return c, nil
}

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil
}

// limitReader fails with errs.TooLarge once more than left bytes are read.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errs.E(errs.TooLarge, "upload exceeds the size limit")
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errs.E(errs.TooLarge, "upload exceeds the size limit")
	}
	return n, err
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request) error {
	p, dir, err := filePath(r)
	if err != nil {
		return err
	}
	if dir {
		return errs.E(errs.Invalid, "cannot delete a directory; delete its files")
	}
	rp, err := h.resolve(r, auth.Delete)
	if err != nil {
		return err
	}
	if err := h.files.delete(r.Context(), rp.ID, p); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "raw.delete", Repository: rp.Name, Subject: p, RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// listing answers GET of a directory: JSON by default, HTML for browsers.
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, rp *repo.Repository, dir string) error {
	limit := 1000
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errs.E(errs.Invalid, "limit must be 1-10000")
		}
		limit = n
	}
	after := r.URL.Query().Get("after")
	entries, more, err := h.files.list(r.Context(), rp.ID, dir, after, limit)
	if err != nil {
		return err
	}
	if len(entries) == 0 && after == "" {
		if ok, err := h.files.dirExists(r.Context(), rp.ID, dir); err != nil {
			return err
		} else if !ok {
			return errs.E(errs.NotFound, "directory %q not found", dir)
		}
	}
	resp := listingResponse{Repository: rp.Name, Path: dir, Entries: entries}
	if resp.Entries == nil {
		resp.Entries = []Entry{}
	}
	if more {
		resp.Next = entries[len(entries)-1].Name
		if entries[len(entries)-1].Type == "directory" {
			resp.Next += "/"
		}
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", "application/json")
		return nil
	}
	if prefersHTML(r) {
		return writeHTMLListing(w, resp)
	}
	return httpx.WriteJSON(w, http.StatusOK, resp)
}

type listingResponse struct {
	Repository string  `json:"repository"`
	Path       string  `json:"path"`
	Entries    []Entry `json:"entries"`
	// Next, when set, is the "after" value of the next page.
	Next string `json:"next,omitempty"`
}

// prefersHTML reports whether the client asked for HTML before JSON, as
// browsers do.
func prefersHTML(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	html := strings.Index(accept, "text/html")
	json := strings.Index(accept, "application/json")
	return html >= 0 && (json < 0 || html < json)
}

func (h *Handler) redirectToRoot(w http.ResponseWriter, r *http.Request) error {
	if _, err := h.resolve(r, auth.Read); err != nil {
		return err
	}
	http.Redirect(w, r, r.URL.Path+"/", http.StatusMovedPermanently)
	return nil
}
