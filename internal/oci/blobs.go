package oci

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/repo"
)

// getBlob serves GET and HEAD of a blob, with ranges.
func (h *Handler) getBlob(w http.ResponseWriter, r *http.Request, v vars) error {
	n, err := parseName(v)
	if err != nil {
		return err
	}
	d, err := ParseDigest(v["digest"])
	if err != nil {
		return err
	}
	rp, err := h.authorize(r, n, auth.Read)
	if err != nil {
		return err
	}
	b, err := h.readBlob(r.Context(), rp, n.Image, d, 0)
	if err != nil {
		return err
	}
	if err := repo.AllowDownload(r.Context(), h.gate, rp, repo.Download{Format: Format, Name: n.Image, Digest: string(b.Digest), Blob: true}); err != nil {
		return err
	}
	rd, err := h.blobs.Open(r.Context(), b.Digest)
	if err != nil {
		return errs.Wrap(err, errs.Internal, "blob %s has metadata but no content", b.Digest)
	}
	defer rd.Close()
	hdr := w.Header()
	hdr.Set("Docker-Content-Digest", d.String())
	hdr.Set("Content-Type", "application/octet-stream")
	hdr.Set("ETag", `"`+d.String()+`"`)
	hdr.Set("Cache-Control", "max-age=31536000")
	http.ServeContent(w, r, "", rd.ModTime, content(r, rd))
	return nil
}

// content is what ServeContent sends of rd: its file for a GET, so that
// the kernel sends it (sendfile), the lazy reader for a HEAD, which opens
// nothing.
func content(r *http.Request, rd *blob.Reader) io.ReadSeeker {
	if r.Method == http.MethodHead {
		return rd
	}
	return rd.Content()
}

// deleteBlob unlinks a blob from an image; the bytes stay until garbage
// collection finds nothing referring to them.
func (h *Handler) deleteBlob(w http.ResponseWriter, r *http.Request, v vars) error {
	n, err := parseName(v)
	if err != nil {
		return err
	}
	d, err := ParseDigest(v["digest"])
	if err != nil {
		return err
	}
	rp, err := h.authorize(r, n, auth.Delete)
	if err != nil {
		return err
	}
	b, err := h.store.linkedBlob(r.Context(), rp.ID, n.Image, d)
	if err != nil {
		return err
	}
	if err := h.store.unlink(r.Context(), rp.ID, n.Image, b.Digest); err != nil {
		return err
	}
	h.audit.Record(r.Context(), audit.Event{Action: "oci.blob.delete", Repository: rp.Name, Subject: n.Image + "@" + d.String(), RemoteAddr: r.RemoteAddr})
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// startUpload answers POST .../blobs/uploads/: a cross-repository mount
// (?mount=&from=), a monolithic upload (?digest=), or a new session.
func (h *Handler) startUpload(w http.ResponseWriter, r *http.Request, v vars) error {
	n, rp, err := h.target(r, v, auth.Write)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	if m := q.Get("mount"); m != "" {
		if d, err := ParseDigest(m); err == nil {
			if ok, err := h.mount(r, rp, n, d, q.Get("from")); err != nil {
				return err
			} else if ok {
				return blobCreated(w, n, d)
			}
		}
		// An impossible mount falls back to a new upload session (202).
	} else if dg := q.Get("digest"); dg != "" {
		d, err := ParseDigest(dg)
		if err != nil {
			return err
		}
		w2, err := h.blobs.Create(r.Context(), 0)
		if err != nil {
			return err
		}
		if _, err := io.Copy(w2, r.Body); err != nil {
			w2.Cancel(context.WithoutCancel(r.Context()))
			return &errs.Error{Kind: errs.Invalid, Message: "reading blob body", Code: codeBlobUploadInvalid, Err: err}
		}
		if err := h.commit(r, rp, n, w2, d); err != nil {
			return err
		}
		return blobCreated(w, n, d)
	}
	wr, err := h.blobs.Create(r.Context(), 0)
	if err != nil {
		return err
	}
	st, err := wr.Suspend(r.Context())
	if err != nil {
		return err
	}
	if err := h.store.createUpload(r.Context(), rp.ID, n.Image, st); err != nil {
		return err
	}
	return uploadAccepted(w, n, st, http.StatusAccepted)
}

// mount links digest d into n when the caller may read an image that has
// it: the one named by from, or (with no from) any.
func (h *Handler) mount(r *http.Request, target *repo.Repository, n Name, d Digest, from string) (bool, error) {
	ctx := r.Context()
	b, err := h.store.resolve(ctx, h.db, d)
	if errs.Is(err, errs.NotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	readable := false
	if from != "" {
		fn, err := ParseName(from)
		if err != nil {
			return false, nil
		}
		src, err := h.authorize(r, fn, auth.Read)
		if errs.Is(err, errs.Unauthenticated) && auth.From(ctx).Scoped {
			// The client's token lacks pull on the source: ask for one that
			// has it (the challenge names both scopes) rather than
			// silently falling back to a full upload.
			return false, err
		}
		if err != nil {
			return false, nil
		}
		if _, err := h.store.linkedBlob(ctx, src.ID, fn.Image, d); err == nil {
			readable = true
		}
	} else {
		names, err := h.store.linkedAnywhere(ctx, b.Digest)
		if err != nil {
			return false, err
		}
		for _, name := range names {
			if rp, err := h.repos.Get(ctx, name); err == nil && h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Read) == nil {
				readable = true
				break
			}
		}
	}
	if !readable {
		return false, nil
	}
	if err := h.store.mountBlob(ctx, target.ID, n.Image, b.Digest); errs.CodeOf(err) == gc.CodeNotStored {
		return false, nil // collected meanwhile: the client uploads it
	} else if err != nil {
		return false, err
	}
	h.audit.Record(ctx, audit.Event{Action: "oci.blob.mount", Repository: target.Name, Subject: n.Image + "@" + d.String(), RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"from": from}})
	return true, nil
}

// commit verifies a finished write against the client's digest, publishes
// it and links it to the image. For sha512 digests the sha256-named blob is
// read back once to check its sha512; until then no metadata refers to it.
func (h *Handler) commit(r *http.Request, rp *repo.Repository, n Name, w *blob.Writer, d Digest) error {
	ctx := r.Context()
	want := blob.Expect{}
	if d.Algorithm == "sha256" {
		want.Digest = blob.Digest(d.String())
	}
	info, err := w.Commit(ctx, want)
	if err != nil {
		return asDigestError(err)
	}
	if d.Algorithm == "sha512" {
		sum, err := h.sha512Of(ctx, info.Digest)
		if err != nil {
			return err
		}
		if sum != d.Hex {
			return errs.E(errs.Invalid, "digest mismatch: declared %s", d).WithCode(codeDigestInvalid)
		}
		info.SHA512 = sum
	}
	if err := h.checkQuota(ctx, rp, info.Digest, info.Size); err != nil {
		return err // the committed blob stays unreferenced; GC collects it
	}
	if err := h.store.recordAndLink(ctx, rp.ID, n.Image, info); err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "oci.blob.push", Repository: rp.Name, Subject: n.Image + "@" + d.String(), RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"size": info.Size}})
	return nil
}

func (h *Handler) sha512Of(ctx context.Context, d blob.Digest) (string, error) {
	rd, err := h.blobs.Open(ctx, d)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	hs := sha512.New()
	if _, err := io.Copy(hs, rd); err != nil {
		return "", errs.Wrap(err, errs.Unavailable, "reading blob")
	}
	return hex.EncodeToString(hs.Sum(nil)), nil
}

// asDigestError gives the store's verification errors their OCI codes.
func asDigestError(err error) error {
	switch errs.CodeOf(err) {
	case "DIGEST_INVALID":
		return errs.E(errs.Invalid, "%s", errs.Message(err)).WithCode(codeDigestInvalid)
	case "SIZE_INVALID":
		return errs.E(errs.Invalid, "%s", errs.Message(err)).WithCode(codeSizeInvalid)
	}
	return err
}

func blobCreated(w http.ResponseWriter, n Name, d Digest) error {
	w.Header().Set("Location", location(n, "blobs", d.String()))
	w.Header().Set("Docker-Content-Digest", d.String())
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

func uploadAccepted(w http.ResponseWriter, n Name, st blob.WriterState, status int) error {
	hdr := w.Header()
	hdr.Set("Location", location(n, "blobs/uploads", st.ID))
	hdr.Set("Docker-Upload-UUID", st.ID)
	hdr.Set("Range", uploadRange(st.Size))
	hdr.Set("Content-Length", "0")
	w.WriteHeader(status)
	return nil
}

// uploadRange is the Range header of a session holding size bytes.
func uploadRange(size int64) string {
	if size == 0 {
		return "0-0"
	}
	return "0-" + strconv.FormatInt(size-1, 10)
}

// session loads the upload named in the path.
func (h *Handler) session(r *http.Request, v vars) (*repo.Repository, Name, upload, error) {
	n, rp, err := h.target(r, v, auth.Write)
	if err != nil {
		return nil, n, upload{}, err
	}
	u, err := h.store.getUpload(r.Context(), rp.ID, n.Image, v["id"])
	return rp, n, u, err
}

func (h *Handler) uploadStatus(w http.ResponseWriter, r *http.Request, v vars) error {
	_, n, u, err := h.session(r, v)
	if err != nil {
		return err
	}
	return uploadAccepted(w, n, u.State, http.StatusNoContent)
}

// patchUpload appends a chunk. A Content-Range that does not start where
// the session ends, or a chunk sent while another is being written, is 416.
func (h *Handler) patchUpload(w http.ResponseWriter, r *http.Request, v vars) error {
	_, n, u, err := h.session(r, v)
	if err != nil {
		return err
	}
	if err := checkContentRange(r, u.State.Size); err != nil {
		return err
	}
	wr, token, err := h.resume(r, u)
	if err != nil {
		return err
	}
	ctx := r.Context()
	st, err := wr.Suspend(ctx)
	if err != nil {
		h.store.releaseUpload(context.WithoutCancel(ctx), u.ID, token)
		return err
	}
	if err := h.store.advanceUpload(ctx, u.ID, token, st); err != nil {
		return err
	}
	return uploadAccepted(w, n, st, http.StatusAccepted)
}

// resume takes the session's writer lease and appends the request body to
// its staged bytes. On success the caller holds the lease and the writer;
// on failure both are given back, and what arrived is kept only up to the
// session's saved state (the client resumes from the Range it reads back).
func (h *Handler) resume(r *http.Request, u upload) (*blob.Writer, string, error) {
	ctx := r.Context()
	token, err := h.store.takeUpload(ctx, u.ID, u.State.Size)
	if err != nil {
		return nil, "", err
	}
	release := func() { h.store.releaseUpload(context.WithoutCancel(ctx), u.ID, token) }
	wr, err := h.blobs.Resume(ctx, u.State)
	if errs.Is(err, errs.Conflict) {
		release()
		return nil, "", errs.E(errs.Invalid, "another chunk of upload %s is being written", truncate(u.ID)).WithCode(codeRangeInvalid)
	} else if err != nil {
		release()
		return nil, "", err
	}
	body := &leasedBody{ctx: ctx, r: r.Body, store: h.store, id: u.ID, token: token, renewed: time.Now()}
	if _, err := io.Copy(wr, body); err != nil {
		wr.Suspend(context.WithoutCancel(ctx))
		release()
		if errs.CodeOf(err) == codeRangeInvalid { // the lease was lost
			return nil, "", err
		}
		return nil, "", &errs.Error{Kind: errs.Invalid, Message: "reading chunk", Code: codeBlobUploadInvalid, Err: err}
	}
	return wr, token, nil
}

// checkContentRange enforces in-order chunks: "start-end" must start at
// the session's size and match Content-Length when both are given.
func checkContentRange(r *http.Request, size int64) error {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return nil
	}
	cr = strings.TrimPrefix(cr, "bytes ")
	s, e, ok := strings.Cut(cr, "-")
	start, err1 := strconv.ParseInt(s, 10, 64)
	end, err2 := strconv.ParseInt(strings.Split(e, "/")[0], 10, 64)
	if !ok || err1 != nil || err2 != nil || end < start {
		return errs.E(errs.Invalid, "invalid Content-Range %q", truncate(cr)).WithCode(codeRangeInvalid)
	}
	if start != size {
		return errs.E(errs.Invalid, "chunk starts at %d, upload has %d bytes", start, size).WithCode(codeRangeInvalid)
	}
	if r.ContentLength >= 0 && r.ContentLength != end-start+1 {
		return errs.E(errs.Invalid, "Content-Range %s does not match Content-Length %d", cr, r.ContentLength).WithCode(codeRangeInvalid)
	}
	return nil
}

// finishUpload answers PUT ...?digest=: the last chunk (maybe empty), then
// verification and publication.
func (h *Handler) finishUpload(w http.ResponseWriter, r *http.Request, v vars) error {
	rp, n, u, err := h.session(r, v)
	if err != nil {
		return err
	}
	d, err := ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return err
	}
	if err := checkContentRange(r, u.State.Size); err != nil {
		return err
	}
	ctx := r.Context()
	wr, token, err := h.resume(r, u)
	if err != nil {
		return err
	}
	// The session ends whatever the outcome: a failed verification
	// discards the bytes, as the client must start over.
	if err := h.store.endUpload(ctx, u.ID, token); err != nil {
		wr.Suspend(context.WithoutCancel(ctx)) // another request owns them now
		return err
	}
	if err := h.commit(r, rp, n, wr, d); err != nil {
		return err
	}
	return blobCreated(w, n, d)
}

func (h *Handler) cancelUpload(w http.ResponseWriter, r *http.Request, v vars) error {
	_, _, u, err := h.session(r, v)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if err := h.store.deleteUpload(ctx, u.ID); err != nil {
		return err
	}
	if wr, err := h.blobs.Resume(ctx, u.State); err == nil {
		wr.Cancel(ctx)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
