package s3api

import (
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// deleteOne deletes key, or one version of it (vid), as DeleteObject and
// each key of DeleteObjects do. Conditions apply to the current object;
// with a version ID they are refused, since they could not be checked
// against the version deleted.
func (h *Handler) deleteOne(r *http.Request, rp *repo.Repository, key, vid string, cond deleteCond) (deleteOutcome, error) {
	ctx := r.Context()
	var out deleteOutcome
	var err error
	if vid != "" {
		if cond.set() {
			return out, notImplemented("conditions on the deletion of a version")
		}
		out, err = h.objects.deleteVersion(ctx, rp.ID, key, vid)
	} else {
		out, err = h.objects.deleteIf(ctx, rp.ID, key, cond)
	}
	if err != nil {
		return out, err
	}
	switch {
	case out.MarkerID != "":
		h.record(r, "s3.delete", rp.Name, key, map[string]any{"delete_marker": out.MarkerID})
	case out.Deleted && vid != "":
		h.record(r, "s3.delete", rp.Name, key, map[string]any{"version": vid})
	case out.Deleted:
		h.record(r, "s3.delete", rp.Name, key, nil)
	}
	return out, nil
}

// deleteObject is DeleteObject: deleting a missing key succeeds; in a
// versioned bucket it adds a delete marker, and with versionId it deletes
// that version for good.
func (h *Handler) deleteObject(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Delete)
	if err != nil {
		return err
	}
	cond, err := parseDeleteCond(r.Header.Get("If-Match"), r.Header.Get("X-Amz-If-Match-Size"), r.Header.Get("X-Amz-If-Match-Last-Modified-Time"))
	if err != nil {
		return err
	}
	out, err := h.deleteOne(r, rp, q.key, q.query.Get("versionId"), cond)
	if err != nil {
		return err
	}
	switch {
	case out.MarkerID != "":
		w.Header().Set("x-amz-delete-marker", "true")
		w.Header().Set("x-amz-version-id", out.MarkerID)
	case out.VersionID != "":
		w.Header().Set("x-amz-version-id", out.VersionID)
		if out.Marker {
			w.Header().Set("x-amz-delete-marker", "true")
		}
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// deleteObjects is DeleteObjects: up to 1000 keys (or versions) in one
// request, each with its own conditions. The body is verified against
// Content-MD5 or an x-amz-checksum-* header when the client sends one;
// neither is demanded.
func (h *Handler) deleteObjects(w http.ResponseWriter, r *http.Request, q *request) error {
	rp, err := h.bucket(r.Context(), q, auth.Delete)
	if err != nil {
		return err
	}
	body, err := h.readBody(r, q)
	if err != nil {
		return err
	}
	var req deleteRequest
	if err := decodeXML(strings.NewReader(string(body)), &req); err != nil {
		return err
	}
	if len(req.Objects) == 0 || len(req.Objects) > 1000 {
		return s3Error("MalformedXML", "DeleteObjects takes 1 to 1000 keys")
	}
	res := deleteResult{NS: s3NS}
	fail := func(key, vid string, err error) {
		code, _ := errorCode(err)
		res.Errors = append(res.Errors, deleteErrorEntry{Key: key, VersionID: vid, Code: code, Message: errs.Message(err)})
	}
	for _, o := range req.Objects {
		if err := validateKey(o.Key); err != nil || o.Key == "" {
			fail(o.Key, o.VersionID, s3Error("InvalidArgument", "invalid key"))
			continue
		}
		cond, err := parseDeleteCond(o.ETag, o.Size, o.LastModifiedTime)
		if err != nil {
			fail(o.Key, o.VersionID, err)
			continue
		}
		out, err := h.deleteOne(r, rp, o.Key, o.VersionID, cond)
		if err != nil {
			fail(o.Key, o.VersionID, err)
			continue
		}
		if !req.Quiet {
			e := deletedEntry{Key: o.Key, VersionID: o.VersionID}
			if out.MarkerID != "" {
				e.DeleteMarker, e.DeleteMarkerVersionID = true, out.MarkerID
			} else if out.Marker {
				e.DeleteMarker, e.DeleteMarkerVersionID = true, o.VersionID
			}
			res.Deleted = append(res.Deleted, e)
		}
	}
	return writeXML(w, res)
}
