package pypi

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/repo"
)

// Yank and delete, through arca's API at /api/v1/pypi/<repo>/... They
// need the maintainer role on a hosted repository.

type releaseResult struct {
	Repository   string   `json:"repository"`
	Project      string   `json:"project"`
	Version      string   `json:"version"`
	Files        []string `json:"files,omitempty"`
	Yanked       *bool    `json:"yanked,omitempty"`
	YankedReason string   `json:"yanked_reason,omitempty"`
	Deleted      []string `json:"deleted,omitempty"`
}

// release resolves the repository, project and version of a management
// request.
func (h *Handler) release(r *http.Request) (*repo.Repository, string, string, error) {
	rp, _, err := h.repository(r, auth.Delete)
	if err != nil {
		return nil, "", "", err
	}
	project := Normalize(r.PathValue("project"))
	want, err := ParseVersion(r.PathValue("version"))
	if err != nil {
		return nil, "", "", err
	}
	// The release's version as stored: 1.0 names the release 1.0.0 too.
	versions, err := h.store.versions(r.Context(), rp.ID, project)
	if err != nil {
		return nil, "", "", err
	}
	return rp, project, matchVersion(want, versions), nil
}

// matchVersion returns the first of versions equal to want (PEP 440
// equality: 1.0 == 1.0.0), or want's normalized form.
func matchVersion(want Version, versions []string) string {
	for _, s := range versions {
		if v, err := ParseVersion(s); err == nil && CompareVersions(v, want) == 0 {
			return s
		}
	}
	return want.String()
}

// yank answers POST /api/v1/pypi/<repo>/<project>/<version>/yank with an
// optional body {"reason": "..."}: every file of the release is marked
// yanked (PEP 592); pip then installs it only when pinned exactly.
func (h *Handler) yank(w http.ResponseWriter, r *http.Request) error {
	rp, project, version, err := h.release(r)
	if err != nil {
		return err
	}
	var body struct {
		Reason string `json:"reason"`
	}
	if r.ContentLength != 0 {
		dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && err != io.EOF {
			return errs.Wrap(err, errs.Invalid, "invalid JSON body: want {\"reason\": \"...\"}")
		}
	}
	return h.setYanked(w, r, rp, project, version, true, body.Reason)
}

// unyank answers DELETE /api/v1/pypi/<repo>/<project>/<version>/yank.
func (h *Handler) unyank(w http.ResponseWriter, r *http.Request) error {
	rp, project, version, err := h.release(r)
	if err != nil {
		return err
	}
	return h.setYanked(w, r, rp, project, version, false, "")
}

func (h *Handler) setYanked(w http.ResponseWriter, r *http.Request, rp *repo.Repository, project, version string, yanked bool, reason string) error {
	ctx := r.Context()
	n, err := h.store.setYanked(ctx, rp.ID, project, version, "", yanked, reason)
	if err != nil {
		return err
	}
	if n == 0 {
		return errs.E(errs.NotFound, "project %s has no release %s in repository %s", project, version, rp.Name)
	}
	action := "pypi.yank"
	if !yanked {
		action = "pypi.unyank"
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: project + "/" + version, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"reason": reason, "files": n}})
	return httpx.WriteJSON(w, http.StatusOK, releaseResult{Repository: rp.Name, Project: project, Version: version,
		Yanked: &yanked, YankedReason: reason})
}

// deleteRelease answers DELETE /api/v1/pypi/<repo>/<project>/<version>:
// every file of the release is deleted.
func (h *Handler) deleteRelease(w http.ResponseWriter, r *http.Request) error {
	return h.delete(w, r, "")
}

// deleteFile answers DELETE /api/v1/pypi/<repo>/<project>/<version>/<filename>.
func (h *Handler) deleteFile(w http.ResponseWriter, r *http.Request) error {
	return h.delete(w, r, r.PathValue("filename"))
}

func (h *Handler) delete(w http.ResponseWriter, r *http.Request, filename string) error {
	rp, project, version, err := h.release(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	deleted, err := h.store.deleteFiles(ctx, rp.ID, project, version, filename)
	if err != nil {
		return err
	}
	if len(deleted) == 0 {
		if filename != "" {
			return errs.E(errs.NotFound, "release %s %s has no file %s in repository %s", project, version, filename, rp.Name)
		}
		return errs.E(errs.NotFound, "project %s has no release %s in repository %s", project, version, rp.Name)
	}
	for _, fn := range deleted {
		h.audit.Record(ctx, audit.Event{Action: "pypi.delete", Repository: rp.Name, Subject: project + "/" + fn, RemoteAddr: r.RemoteAddr})
	}
	return httpx.WriteJSON(w, http.StatusOK, releaseResult{Repository: rp.Name, Project: project, Version: version, Deleted: deleted})
}
