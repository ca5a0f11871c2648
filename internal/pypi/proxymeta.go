package pypi

import (
	"context"
	"encoding/json"
	"io"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/repo"
)

// proxyReleaseMetadata returns the core metadata fields (as
// metadataJSON) of a proxied release, for the JSON API's info block: read
// from the PEP 658 metadata file of one of the release's files that the
// upstream offers one for, fetched through the proxy's cache like any
// file. These are the fields the upstream's own JSON API is built from
// (summary, requires_dist, ...). It is "" when no file of the release has
// a metadata file, or when it cannot be had now: the rest of the answer
// does not depend on it.
func (h *Handler) proxyReleaseMetadata(ctx context.Context, rp *repo.Repository, project, version string) (string, error) {
	row, err := h.proxyPage(ctx, rp, project)
	if err != nil {
		return "", err
	}
	var files []File
	if err := json.Unmarshal([]byte(row.Page), &files); err != nil {
		return "", errs.Wrap(err, errs.Internal, "corrupt cached page of %s", project)
	}
	var pick *File
	for i := range files {
		f := &files[i]
		if f.Version != version || !f.Metadata {
			continue
		}
		if _, err := ParseWheelFilename(f.Filename); err == nil {
			pick = f // a wheel's metadata is what was built; prefer it
			break
		}
		if pick == nil {
			pick = f
		}
	}
	if pick == nil {
		return "", nil
	}
	ref, err := h.proxyFile(ctx, rp, project, pick.Filename, true)
	if err != nil {
		h.log.DebugContext(ctx, "no core metadata for the JSON API", "repository", rp.Name, "file", pick.Filename, "err", err)
		return "", nil
	}
	rd, err := h.blobs.Open(ctx, ref.Digest)
	if err != nil {
		return "", err
	}
	defer rd.Close()
	b, err := io.ReadAll(io.LimitReader(rd, maxMetadataBytes+1))
	if err != nil {
		return "", errs.Wrap(err, errs.Internal, "reading the metadata of %s", pick.Filename)
	}
	m, err := ParseMetadata(b)
	if err != nil || len(b) > maxMetadataBytes {
		h.log.DebugContext(ctx, "unreadable upstream core metadata", "repository", rp.Name, "file", pick.Filename, "err", err)
		return "", nil
	}
	return metadataJSON(m), nil
}
