package maven

import (
	"io"
	"net/http"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
)

// maxChecksumBody bounds an uploaded checksum file.
const maxChecksumBody = 4 << 10

// put answers PUT of a path: a file is stored; an uploaded checksum is
// verified against the stored file's digest; an uploaded
// maven-metadata.xml is checked and dropped, since arca maintains
// metadata itself.
//
// Roles: a new file needs developer; replacing a file with other bytes
// needs maintainer, and for a release also redeploy: allow. Deploying the
// same bytes again changes nothing and needs only developer.
func (h *Handler) put(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Write)
	if err != nil {
		return err
	}
	p, err := ParsePath(c.path)
	if err != nil {
		return err
	}
	s, err := settingsOf(rp.Settings)
	if err != nil {
		return err
	}
	if p.Kind != KindArtifactMeta {
		switch {
		case s.policy() == PolicyRelease && p.Snapshot():
			return errs.E(errs.Invalid, "%s is a release repository: it does not take snapshot version %s", rp.Name, p.Version)
		case s.policy() == PolicySnapshot && !p.Snapshot():
			return errs.E(errs.Invalid, "%s is a snapshot repository: it does not take release version %s", rp.Name, p.Version)
		}
	}
	if p.Checksum != "" {
		return h.putChecksum(c, rp.ID, p)
	}
	if p.Kind != KindFile {
		if _, err := ParseMetadata(c.r.Body); err != nil {
			return err
		}
		c.w.WriteHeader(http.StatusCreated)
		return nil
	}
	prev, err := h.file(ctx, h.db, rp.ID, p.Key)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	body := io.Reader(c.r.Body)
	if h.maxUpload > 0 {
		if c.r.ContentLength > h.maxUpload {
			return errs.E(errs.TooLarge, "%d bytes exceed the upload limit of %d", c.r.ContentLength, h.maxUpload)
		}
		body = io.LimitReader(body, h.maxUpload+1)
	}
	want := blob.Expect{}
	if c.r.ContentLength >= 0 {
		want.Size, want.SizeKnown = c.r.ContentLength, true
	}
	info, err := h.blobs.Put(ctx, body, want, blob.MD5|blob.SHA1|blob.SHA512)
	if err != nil {
		return err
	}
	if h.maxUpload > 0 && info.Size > h.maxUpload {
		return errs.E(errs.TooLarge, "the file exceeds the upload limit of %d bytes", h.maxUpload)
	}
	if prev.Digest == string(info.Digest) {
		c.w.WriteHeader(http.StatusOK) // the same bytes again: nothing changes
		return nil
	}
	if prev.Digest != "" {
		if !p.Snapshot() && !s.redeployAllowed() {
			return errs.E(errs.Conflict, "%s is already deployed and %s does not allow redeploying releases", p.Key, rp.Name)
		}
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.Wrap(err, errs.KindOf(err), "replacing %s needs the maintainer role", p.Key)
		}
	}
	by := auth.From(ctx).Name
	if err := h.quota.Check(ctx, rp, string(info.Digest), info.Size); err != nil {
		return err
	}
	pruned, err := h.deploy(ctx, rp.ID, p, info, prev.Digest, by, s.SnapshotKeep)
	if err != nil {
		if now, ferr := h.file(ctx, h.db, rp.ID, p.Key); errs.Is(err, errs.Conflict) && ferr == nil && now.Digest == string(info.Digest) {
			c.w.WriteHeader(http.StatusOK) // a concurrent deploy of the same bytes won
			return nil
		}
		return err
	}
	action := "maven.deploy"
	if prev.Digest != "" {
		action = "maven.redeploy"
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: p.Key, RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"digest": info.Digest, "size": info.Size, "gav": p.GroupID + ":" + p.ArtifactID + ":" + p.Version}})
	// What snapshot_keep removed is deleted like any file: audited, so that
	// webhooks and replication hear of it.
	for _, f := range pruned {
		h.audit.Record(ctx, audit.Event{Action: "maven.delete", Repository: rp.Name, Subject: f.Path, RemoteAddr: c.r.RemoteAddr,
			Detail: map[string]any{"digest": f.Digest, "size": f.Size, "reason": "snapshot_keep"}})
	}
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// putChecksum verifies an uploaded checksum of a stored file. Checksums of
// metadata are accepted unread: arca's metadata has its own.
func (h *Handler) putChecksum(c *call, repoID int64, p Path) error {
	ctx := c.r.Context()
	b, err := io.ReadAll(io.LimitReader(c.r.Body, maxChecksumBody+1))
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "reading the checksum")
	}
	if p.Kind != KindFile {
		c.w.WriteHeader(http.StatusCreated)
		return nil
	}
	if len(b) > maxChecksumBody {
		return errs.E(errs.Invalid, "a checksum file has at most %d bytes", maxChecksumBody)
	}
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return errs.E(errs.Invalid, "empty checksum")
	}
	claimed := strings.ToLower(fields[0])
	f, err := h.file(ctx, h.db, repoID, p.Key)
	if err != nil {
		return errs.Wrap(err, errs.KindOf(err), "deploy %s before its checksum", p.Key)
	}
	have, err := h.checksum(ctx, f.Digest, p.Checksum)
	if err != nil {
		return err
	}
	if claimed != have {
		return errs.E(errs.Invalid, "%s checksum mismatch for %s: uploaded %s, stored file has %s", p.Checksum, p.Key, trunc(claimed), have)
	}
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// remove answers DELETE of a hosted file, or of a version directory
// (<g...>/<a>/<v>/) with every file in it. It needs the maintainer role.
func (h *Handler) remove(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Delete)
	if err != nil {
		return err
	}
	if dir, ok := strings.CutSuffix(c.path, "/"); ok {
		segs := strings.Split(dir, "/")
		for _, s := range segs {
			if err := checkSegment(s); err != nil {
				return err
			}
		}
		if len(segs) < 3 {
			return errs.E(errs.Invalid, "DELETE a file or a version directory <groupId path>/<artifactId>/<version>/")
		}
		n := len(segs)
		g, a, v := strings.Join(segs[:n-2], "."), segs[n-2], segs[n-1]
		count, err := h.deleteVersion(ctx, rp.ID, g, a, v)
		if err != nil {
			return err
		}
		h.audit.Record(ctx, audit.Event{Action: "maven.delete", Repository: rp.Name, Subject: g + ":" + a + ":" + v,
			RemoteAddr: c.r.RemoteAddr, Detail: map[string]any{"files": count}})
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
	p, err := ParsePath(c.path)
	if err != nil {
		return err
	}
	if p.Kind != KindFile || p.Checksum != "" {
		return errs.E(errs.Invalid, "only files are deleted: metadata and checksums follow them")
	}
	f, err := h.deleteFile(ctx, rp.ID, p.Key)
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "maven.delete", Repository: rp.Name, Subject: p.Key, RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"digest": f.Digest, "size": f.Size}})
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
