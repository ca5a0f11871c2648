package npm

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/httpx"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// putPackage answers PUT /<name> and PUT /<name>/-rev/<rev>: a publish
// when the document carries attachments, otherwise a change of the
// package's document (npm deprecate, npm unpublish <name>@<version>).
func (h *Handler) putPackage(c *call, name Name, rev string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Write)
	if err != nil {
		return err
	}
	// base64 makes a tarball a third larger; the rest of a document is small.
	limit := h.maxTarball/3*4 + 16<<20
	doc, err := DecodeDocument(c.r.Body, limit)
	if err != nil {
		return err
	}
	if doc.Name != "" && doc.Name != name.String() {
		return errs.E(errs.Invalid, "the document names package %q, the URL %q", truncate(doc.Name, 100), name)
	}
	if doc.ID != "" && doc.ID != name.String() {
		return errs.E(errs.Invalid, "the document's _id %q is not the package %q", truncate(doc.ID, 100), name)
	}
	if len(doc.Attachments) > 0 {
		if rev != "" {
			return errs.E(errs.Invalid, "publish with PUT /<name>, not to a revision")
		}
		return h.publish(c, rp, name, doc)
	}
	return h.update(c, rp, name, doc, rev)
}

// publish stores the one new version of a publish document: its tarball
// (verified against dist.integrity and dist.shasum, and against the name
// and version in its package.json) into the blob store, then its rows.
func (h *Handler) publish(c *call, rp *repo.Repository, name Name, doc *Document) error {
	ctx := c.r.Context()
	if err := CheckNewName(name); err != nil {
		return err
	}
	if len(doc.Versions) != 1 {
		return errs.E(errs.Invalid, "a publish document must hold exactly one version, not %d", len(doc.Versions))
	}
	var version string
	var raw json.RawMessage
	for k, v := range doc.Versions {
		version, raw = k, v
	}
	v, err := ParseVersion(version)
	if err != nil {
		return err
	}
	if v.String() != version {
		return errs.E(errs.Invalid, "version %q is not in canonical form (%s)", version, v)
	}
	m, err := ParseManifest(raw)
	if err != nil {
		return err
	}
	if m.String("name") != name.String() || m.String("version") != version {
		return errs.E(errs.Invalid, "version %s of the document names %s@%s", version, truncate(m.String("name"), 100), truncate(m.String("version"), 100))
	}
	data, err := tarballAttachment(doc, name, version)
	if err != nil {
		return err
	}
	if int64(len(data)) > h.maxTarball {
		return errs.E(errs.TooLarge, "tarball of %d bytes exceeds the limit of %d", len(data), h.maxTarball)
	}
	dist := m.Dist()
	want, err := ParseIntegrity(dist)
	if err != nil {
		return err
	}
	if want.SHA1 == "" && want.SHA512 == "" {
		return errs.E(errs.Invalid, "dist.integrity (sha512) or dist.shasum is required")
	}
	tm, err := ReadTarballManifest(bytes.NewReader(data))
	if err != nil {
		return err
	}
	if tm.Name != name.String() || tm.Version != version {
		return errs.E(errs.Invalid, "the tarball's package.json is %s@%s, the document publishes %s@%s",
			truncate(tm.Name, 100), truncate(tm.Version, 100), name, version)
	}
	if _, err := h.store.version(ctx, h.db, rp.ID, name, version); err == nil {
		return errs.E(errs.Conflict, "cannot publish over the previously published version %s@%s", name, version)
	} else if !errs.Is(err, errs.NotFound) {
		return err
	}
	for tag, tv := range doc.DistTags {
		if err := checkTag(tag); err != nil {
			return err
		}
		if tv != version {
			if _, err := h.store.version(ctx, h.db, rp.ID, name, tv); err != nil {
				return err
			}
		}
	}
	if err := h.quota.Check(ctx, rp, "", int64(len(data))); err != nil {
		return err
	}
	info, err := h.blobs.Put(ctx, bytes.NewReader(data),
		blob.Expect{Size: int64(len(data)), SizeKnown: true, SHA1: want.SHA1, SHA512: want.SHA512}, blob.SHA1|blob.SHA512)
	if err != nil {
		if errs.CodeOf(err) == "DIGEST_INVALID" {
			return errs.E(errs.Invalid, "the tarball does not match dist.integrity or dist.shasum: %s", errs.Message(err))
		}
		return err
	}
	p := auth.From(ctx)
	m.Set("_id", name.String()+"@"+version)
	var email string
	if u, err := h.auth.GetUser(ctx, p.Name); err == nil {
		email = u.Email
	}
	m.Set("_npmUser", map[string]string{"name": p.Name, "email": email})
	delete(dist, "signatures")
	delete(dist, "npm-signature")
	dist["integrity"], _ = json.Marshal(SRI(info.SHA512))
	dist["shasum"], _ = json.Marshal(info.SHA1)
	m.Set("dist", dist)
	full, abbr := m.Render()
	var keywords []string
	json.Unmarshal(m.Fields["keywords"], &keywords)
	err = h.store.publish(ctx, rp.ID, name, newVersion{
		Version: version, Blob: info, Full: full, Abbr: abbr, Tags: doc.DistTags, PublishedBy: p.Name,
		Description: truncate(m.String("description"), 1000), Keywords: truncate(strings.ToLower(strings.Join(keywords, " ")), 1000),
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "npm.publish", Repository: rp.Name, Subject: name.String() + "@" + version,
		RemoteAddr: c.r.RemoteAddr, Detail: map[string]any{"digest": info.Digest, "size": info.Size, "tags": doc.DistTags}})
	return httpx.WriteJSON(c.w, http.StatusCreated, map[string]any{"ok": true, "id": name.String(), "success": true})
}

// tarballAttachment returns the decoded tarball of a publish document:
// its one .tgz attachment, named <name>-<version>.tgz (npm) or
// <base>-<version>.tgz. A provenance bundle (.sigstore) beside it is
// ignored.
func tarballAttachment(doc *Document, name Name, version string) ([]byte, error) {
	var att *Attachment
	for key, a := range doc.Attachments {
		switch {
		case strings.HasSuffix(key, ".sigstore"):
			continue
		case key == name.String()+"-"+version+".tgz", key == name.TarballFile(version):
			if att != nil {
				return nil, errs.E(errs.Invalid, "more than one tarball attached")
			}
			a := a
			att = &a
		default:
			return nil, errs.E(errs.Invalid, "unexpected attachment %q: want %s", truncate(key, 100), name.TarballFile(version))
		}
	}
	if att == nil {
		return nil, errs.E(errs.Invalid, "no tarball attached for %s@%s", name, version)
	}
	data, err := base64.StdEncoding.DecodeString(att.Data)
	if err != nil {
		return nil, errs.E(errs.Invalid, "the attachment is not valid base64")
	}
	if len(data) == 0 {
		return nil, errs.E(errs.Invalid, "the attached tarball is empty")
	}
	if att.Length != 0 && att.Length != int64(len(data)) {
		return nil, errs.E(errs.Invalid, "the attachment's length is %d, its data %d bytes", att.Length, len(data))
	}
	return data, nil
}

// checkTag validates a dist-tag name: URL-safe, and not something npm
// would read as a version or range.
func checkTag(tag string) error {
	if tag == "" || len(tag) > 100 {
		return errs.E(errs.Invalid, "a dist-tag has 1-100 characters")
	}
	for i := 0; i < len(tag); i++ {
		if !urlSafe(tag[i]) {
			return errs.E(errs.Invalid, "invalid dist-tag %q: only letters, digits and - . _ ~ ! ' ( ) *", truncate(tag, 100))
		}
	}
	if looksLikeRange(tag) {
		return errs.E(errs.Invalid, "invalid dist-tag %q: a tag must not look like a version or range", tag)
	}
	return nil
}

// update applies a changed packument without attachments: npm deprecate
// changes versions' "deprecated"; npm unpublish <name>@<version> leaves a
// version (and its tags) out. Leaving versions out needs the role that may
// delete. A version the document has that is not published needs a
// publish, with its tarball.
func (h *Handler) update(c *call, rp *repo.Repository, name Name, doc *Document, rev string) error {
	ctx := c.r.Context()
	if doc.Versions == nil {
		return errs.E(errs.Invalid, "the document has no versions and no tarball attachment")
	}
	wantRev, _ := parseRev(rev)
	if rev != "" && wantRev == 0 {
		return errs.E(errs.Invalid, "invalid revision %q", truncate(rev, 100))
	}
	if wantRev == 0 {
		wantRev, _ = parseRev(doc.Rev)
	}
	pkg, err := h.store.pkg(ctx, h.db, rp.ID, name)
	if err != nil {
		if errs.Is(err, errs.NotFound) {
			return errs.E(errs.Invalid, "package %s is not published; publishing needs the tarball attached", name)
		}
		return err
	}
	if wantRev > 0 && pkg.Rev != wantRev {
		return errs.E(errs.Conflict, "package %s changed since revision %d; fetch it again and retry", name, wantRev)
	}
	stored, err := h.store.versions(ctx, rp.ID, name, false)
	if err != nil {
		return err
	}
	have := map[string]versionRow{}
	for _, v := range stored {
		have[v.Version] = v
	}
	for v := range doc.Versions {
		if _, ok := have[v]; !ok {
			return errs.E(errs.Invalid, "version %s@%s is not published; publishing needs its tarball attached", name, truncate(v, 100))
		}
	}
	type change struct {
		version    string
		deprecated string
		full, abbr []byte
	}
	var removed []string
	var changes []change
	for _, sv := range stored {
		raw, ok := doc.Versions[sv.Version]
		if !ok {
			removed = append(removed, sv.Version)
			continue
		}
		var dv struct {
			Deprecated json.RawMessage `json:"deprecated"`
		}
		if err := json.Unmarshal(raw, &dv); err != nil {
			return errs.E(errs.Invalid, "version %s of the document is not a JSON object", sv.Version)
		}
		var msg string
		if len(dv.Deprecated) > 0 && string(dv.Deprecated) != "null" && string(dv.Deprecated) != "false" {
			if err := json.Unmarshal(dv.Deprecated, &msg); err != nil {
				return errs.E(errs.Invalid, "version %s: deprecated must be a string", sv.Version)
			}
		}
		if len(msg) > 1000 {
			return errs.E(errs.Invalid, "a deprecation message has at most 1000 characters")
		}
		m, err := headManifest(sv.Head)
		if err != nil {
			return err
		}
		if m.String("deprecated") == msg {
			continue
		}
		if msg == "" {
			m.Set("deprecated", nil)
		} else {
			m.Set("deprecated", msg)
		}
		full, abbr := m.Render()
		changes = append(changes, change{sv.Version, msg, full, abbr})
	}
	var tagSets map[string]string
	var tagDeletes []string
	if doc.DistTags != nil {
		current, err := h.store.tags(ctx, h.db, rp.ID, name)
		if err != nil {
			return err
		}
		tagSets = map[string]string{}
		for t, v := range doc.DistTags {
			if current[t] != v {
				if err := checkTag(t); err != nil {
					return err
				}
				if slices.Contains(removed, v) {
					return errs.E(errs.Invalid, "dist-tag %s points at version %s, which the document removes", t, v)
				}
				tagSets[t] = v
			}
		}
		for t, v := range current {
			if _, ok := doc.DistTags[t]; !ok && t != "latest" && !slices.Contains(removed, v) {
				tagDeletes = append(tagDeletes, t)
			}
		}
	}
	if len(removed) > 0 {
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.E(errs.KindOf(err), "unpublishing needs the maintainer role: %s", errs.Message(err))
		}
	}
	if len(tagDeletes) > 0 {
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.E(errs.KindOf(err), "removing dist-tags needs the maintainer role: %s", errs.Message(err))
		}
	}
	if len(removed) == 0 && len(changes) == 0 && len(tagSets) == 0 && len(tagDeletes) == 0 {
		return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true, "id": name.String()})
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := h.store.touch(ctx, tx, rp.ID, name, wantRev); err != nil {
			return err
		}
		for _, ch := range changes {
			if err := updateManifest(ctx, tx, rp.ID, name, ch.version, ch.full, ch.abbr); err != nil {
				return err
			}
		}
		for t, v := range tagSets {
			if err := setTag(ctx, tx, rp.ID, name, t, v); err != nil {
				return err
			}
		}
		for _, t := range tagDeletes {
			if _, err := tx.ExecContext(ctx, `DELETE FROM npm_dist_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`, rp.ID, name.String(), t); err != nil {
				return meta.Err(err)
			}
		}
		if len(removed) > 0 {
			_, err := h.store.deleteVersions(ctx, tx, rp.ID, name, removed)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, ch := range changes {
		action := "npm.deprecate"
		if ch.deprecated == "" {
			action = "npm.undeprecate"
		}
		h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: name.String() + "@" + ch.version,
			RemoteAddr: c.r.RemoteAddr, Detail: map[string]any{"message": ch.deprecated}})
	}
	for _, v := range removed {
		h.audit.Record(ctx, audit.Event{Action: "npm.unpublish", Repository: rp.Name, Subject: name.String() + "@" + v, RemoteAddr: c.r.RemoteAddr})
	}
	if len(tagSets) > 0 || len(tagDeletes) > 0 {
		h.audit.Record(ctx, audit.Event{Action: "npm.dist-tags", Repository: rp.Name, Subject: name.String(), RemoteAddr: c.r.RemoteAddr,
			Detail: map[string]any{"set": tagSets, "deleted": tagDeletes}})
	}
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true, "id": name.String()})
}

// unpublishPackage answers DELETE /<name>/-rev/<rev>: npm unpublish of a
// whole package.
func (h *Handler) unpublishPackage(c *call, name Name, rev string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Delete)
	if err != nil {
		return err
	}
	wantRev, ok := parseRev(rev)
	if !ok {
		return errs.E(errs.Invalid, "invalid revision %q", truncate(rev, 100))
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := h.store.touch(ctx, tx, rp.ID, name, wantRev); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM npm_packages WHERE repository_id = $1 AND name = $2`, rp.ID, name.String())
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "npm.unpublish", Repository: rp.Name, Subject: name.String(), RemoteAddr: c.r.RemoteAddr})
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true, "id": name.String()})
}

// deleteTarball answers DELETE /<name>/-/<file>/-rev/<rev>, the second
// step of npm unpublish <name>@<version>. The first step already removed
// the version, so this usually answers 404, which npm takes as done; a
// version still present is unpublished here.
func (h *Handler) deleteTarball(c *call, name Name, file, rev string) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Delete)
	if err != nil {
		return err
	}
	version := name.versionOfFile(file)
	if version == "" {
		return errs.E(errs.NotFound, "no tarball %s of package %s", truncate(file, 100), name)
	}
	wantRev, _ := parseRev(rev)
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if _, err := h.store.version(ctx, tx, rp.ID, name, version); err != nil {
			return err
		}
		if err := h.store.touch(ctx, tx, rp.ID, name, wantRev); err != nil {
			return err
		}
		_, err := h.store.deleteVersions(ctx, tx, rp.ID, name, []string{version})
		return err
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "npm.unpublish", Repository: rp.Name, Subject: name.String() + "@" + version, RemoteAddr: c.r.RemoteAddr})
	return httpx.WriteJSON(c.w, http.StatusOK, map[string]any{"ok": true})
}
