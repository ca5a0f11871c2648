package pypi

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// ImportFile is a distribution file brought from another index or a
// package directory (arca import pypi).
type ImportFile struct {
	Filename string
	// Project is the normalized project the source lists the file under
	// ("" to take the file name's): it decides which prefix of an old
	// sdist's name with "-" in it is the name.
	Project string
	Body    io.Reader
	// Size is the body's length, or -1 when unknown.
	Size int64
	// SHA256 and MD5 (hex) are what the source says the file hashes to;
	// the bytes must agree. "" when the source does not say.
	SHA256, MD5 string
	// UploadTime is when the source says it was uploaded (Unix ms); 0
	// means now.
	UploadTime int64
	// Yanked and YankedReason carry the source's PEP 592 state.
	Yanked       bool
	YankedReason string
}

// hostedForImport resolves a hosted PyPI repository that the caller may
// write to.
func (h *Handler) hostedForImport(ctx context.Context, name string) (*repo.Repository, error) {
	rp, err := h.repos.Get(ctx, name)
	if err != nil {
		return nil, err
	}
	if rp.Format != Format {
		return nil, errs.E(errs.Invalid, "repository %q is a %s repository, not a PyPI repository", rp.Name, rp.Format)
	}
	if rp.Kind != repo.Hosted {
		return nil, errs.E(errs.Invalid, "%s is a %s repository: import into a hosted repository", rp.Name, rp.Kind)
	}
	if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Write); err != nil {
		return nil, err
	}
	return rp, nil
}

// HostedFile returns the sha256 (hex) of a file of a hosted repository,
// and whether the repository has a file of that name.
func (h *Handler) HostedFile(ctx context.Context, repository, project, filename string) (string, bool, error) {
	rp, err := h.hostedForImport(ctx, repository)
	if err != nil {
		return "", false, err
	}
	fn, err := ParseFilename(filename, project)
	if err != nil {
		return "", false, err
	}
	row, err := h.store.file(ctx, rp.ID, fn.Project, filename)
	if errs.Is(err, errs.NotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return strings.TrimPrefix(row.Digest, "sha256:"), true, nil
}

// Import stores a file in a hosted repository through the upload path's
// checks (the file name, the file's own core metadata, the declared
// hashes, the upload limit), keeping the source's upload time and yanked
// state. A file of the same name already there is not replaced: Import
// reports it present when its sha256 is the source's, and fails with a
// Conflict otherwise.
func (h *Handler) Import(ctx context.Context, repository string, f ImportFile) (present bool, err error) {
	rp, err := h.hostedForImport(ctx, repository)
	if err != nil {
		return false, err
	}
	if err := checkFilename(f.Filename); err != nil {
		return false, err
	}
	fn, err := ParseFilename(f.Filename, f.Project)
	if err != nil {
		return false, err
	}
	var want blob.Expect
	if f.SHA256 != "" {
		if want.Digest, err = blob.ParseDigest("sha256:" + strings.ToLower(f.SHA256)); err != nil {
			return false, errs.E(errs.Invalid, "the source's sha256 %q is not 64 hex characters", truncate(f.SHA256, 80))
		}
	}
	want.MD5 = strings.ToLower(f.MD5)
	if f.Size >= 0 {
		want.Size, want.SizeKnown = f.Size, true
	}
	row, err := h.store.file(ctx, rp.ID, fn.Project, f.Filename)
	if err == nil {
		if want.Digest != "" && row.Digest == string(want.Digest) {
			return true, nil
		}
		return false, errs.E(errs.Conflict, "%s is in %s already, with other content (sha256 %s)", f.Filename, rp.Name,
			strings.TrimPrefix(row.Digest, "sha256:"))
	} else if !errs.Is(err, errs.NotFound) {
		return false, err
	}
	body := f.Body
	if h.maxUpload > 0 {
		body = &limitReader{r: body, left: h.maxUpload}
	}
	var sp spool
	defer sp.close()
	bw, err := h.blobs.Create(ctx, blob.MD5)
	if err != nil {
		return false, err
	}
	defer func() {
		if bw != nil {
			bw.Cancel(context.WithoutCancel(ctx))
		}
	}()
	if _, err := io.Copy(io.MultiWriter(bw, &sp), body); err != nil {
		var e *errs.Error
		if errors.As(err, &e) {
			return false, err
		}
		return false, errs.Wrap(err, errs.Unavailable, "reading %s from the source: %v", f.Filename, err)
	}
	created := f.UploadTime
	if created <= 0 {
		created = meta.Now()
	}
	_, err = h.keep(ctx, rp, &bw, &sp, received{filename: f.Filename, fn: fn, version: fn.Version, want: want,
		createdAt: created, yanked: f.Yanked, yankReason: f.YankedReason, action: "pypi.import"})
	return false, err
}
