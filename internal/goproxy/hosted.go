package goproxy

import (
	"archive/zip"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
	"golang.org/x/mod/sumdb/dirhash"
	modzip "golang.org/x/mod/zip"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
)

// versionRow is a published version of a hosted repository.
type versionRow struct {
	ZipDigest, ModDigest, H1 string
	Size, CreatedAt          int64
}

// Info is a version's .info document.
type Info struct {
	Version string
	Time    time.Time
}

func infoJSON(version string, at time.Time) []byte {
	b, _ := json.Marshal(Info{Version: version, Time: at.UTC().Truncate(time.Second)})
	return append(b, '\n')
}

func notFoundModule(mod string) error {
	return errs.E(errs.NotFound, "not found: module %s is not in this repository", trunc(mod))
}

func (h *Handler) version(ctx context.Context, q meta.Querier, repoID int64, mod, version string) (versionRow, error) {
	var v versionRow
	err := q.QueryRowContext(ctx, `SELECT zip_digest, mod_digest, h1, size, created_at FROM go_versions
		WHERE repository_id = $1 AND module = $2 AND version = $3`, repoID, mod, version).
		Scan(&v.ZipDigest, &v.ModDigest, &v.H1, &v.Size, &v.CreatedAt)
	if err == sql.ErrNoRows {
		return v, errs.E(errs.NotFound, "not found: %s@%s", trunc(mod), trunc(version))
	}
	return v, meta.Err(err)
}

// versions lists a hosted module's versions, in semver order.
func (h *Handler) versions(ctx context.Context, repoID int64, mod string) ([]string, error) {
	vs, err := meta.QueryStrings(ctx, h.db, `SELECT version FROM go_versions WHERE repository_id = $1 AND module = $2`, repoID, mod)
	if err != nil {
		return nil, err
	}
	SortVersions(vs)
	return vs, nil
}

// hasModule reports whether a hosted repository holds any version of mod.
func (h *Handler) hasModule(ctx context.Context, repoID int64, mod string) (bool, error) {
	var n int
	err := h.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM go_versions WHERE repository_id = $1 AND module = $2 LIMIT 1) x`,
		repoID, mod).Scan(&n)
	return n > 0, meta.Err(err)
}

// hostedRead answers p from a hosted repository's rows.
func (h *Handler) hostedRead(ctx context.Context, repoID int64, p Path) (content, error) {
	switch p.Kind {
	case KindList, KindLatest:
		vs, err := h.versions(ctx, repoID, p.Module)
		if err != nil {
			return content{}, err
		}
		if len(vs) == 0 {
			return content{}, notFoundModule(p.Module)
		}
		if p.Kind == KindList {
			return content{body: []byte(strings.Join(vs, "\n") + "\n")}, nil
		}
		latest := Latest(vs)
		v, err := h.version(ctx, h.db, repoID, p.Module, latest)
		if err != nil {
			return content{}, err
		}
		return content{body: infoJSON(latest, time.UnixMilli(v.CreatedAt))}, nil
	}
	if !p.Canonical() {
		return content{}, errs.E(errs.NotFound, "not found: %s@%s: a hosted repository answers canonical versions only", trunc(p.Module), trunc(p.Version))
	}
	v, err := h.version(ctx, h.db, repoID, p.Module, p.Version)
	if err != nil {
		return content{}, err
	}
	at := time.UnixMilli(v.CreatedAt)
	switch p.Kind {
	case KindInfo:
		return content{body: infoJSON(p.Version, at), modified: at}, nil
	case KindMod:
		return content{digest: v.ModDigest, modified: at}, nil
	}
	h.downloads.Touch(repoID, p.Module+"@"+p.Version)
	return content{digest: v.ZipDigest, modified: at}, nil
}

// zipLimit is the largest module zip taken: the go command's limit, or
// the server's upload limit when lower.
func (h *Handler) zipLimit() int64 {
	if h.maxUpload > 0 && h.maxUpload < modzip.MaxZipFile {
		return h.maxUpload
	}
	return modzip.MaxZipFile
}

// publish answers PUT <module>/@v/<version>.zip: a new version of a
// module in a hosted repository (developer). The zip is checked as the go
// command checks module zips (golang.org/x/mod/zip.CheckZip: paths under
// <module>@<version>/, sizes, no duplicates); go.mod is taken from it
// (for a module without one, arca writes "module <path>", as the go
// command does), and its module path must be the one published. Versions
// never change: the same zip again is a no-op (200); another one is a
// conflict until a maintainer deletes the version.
func (h *Handler) publish(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Write)
	if err != nil {
		return err
	}
	p, err := ParsePath(c.path)
	if err != nil {
		return err
	}
	if p.Kind != KindZip {
		return errs.E(errs.Invalid, "publish a version with PUT <module>/@v/<version>.zip: its go.mod comes from the zip and arca writes .info")
	}
	if err := CheckVersion(p.Module, p.Version); err != nil {
		return err
	}
	limit := h.zipLimit()
	if c.r.ContentLength > limit {
		return errs.E(errs.TooLarge, "%d bytes exceed the module zip limit of %d", c.r.ContentLength, limit)
	}
	tmp, err := os.CreateTemp("", "arca-gomod-*.zip")
	if err != nil {
		return errs.Wrap(err, errs.Unavailable, "no room for the upload")
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	n, err := io.Copy(tmp, io.LimitReader(c.r.Body, limit+1))
	if err != nil {
		return errs.Wrap(err, errs.Invalid, "reading the module zip")
	}
	if n > limit {
		return errs.E(errs.TooLarge, "the module zip exceeds the limit of %d bytes", limit)
	}
	if c.r.ContentLength >= 0 && n != c.r.ContentLength {
		return errs.E(errs.Invalid, "the body has %d bytes, Content-Length said %d", n, c.r.ContentLength)
	}
	mv := module.Version{Path: p.Module, Version: p.Version}
	gomod, h1, err := checkZip(mv, tmp.Name())
	if err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return errs.Wrap(err, errs.Internal, "rewinding the upload")
	}
	zipInfo, err := h.blobs.Put(ctx, tmp, blob.Expect{Size: n, SizeKnown: true}, 0)
	if err != nil {
		return err
	}
	if err := h.quota.Check(ctx, rp, string(zipInfo.Digest), zipInfo.Size); err != nil {
		return err
	}
	modInfo, err := h.blobs.Put(ctx, strings.NewReader(gomod), blob.Expect{}, 0)
	if err != nil {
		return err
	}
	by := auth.From(ctx).Name
	created := true
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		prev, err := h.version(ctx, tx, rp.ID, p.Module, p.Version)
		if err == nil {
			if prev.ZipDigest == string(zipInfo.Digest) {
				created = false
				return nil
			}
			return errs.E(errs.Conflict, "%s@%s is already published with other content (%s); versions do not change: publish a new version", p.Module, p.Version, prev.H1)
		}
		if !errs.Is(err, errs.NotFound) {
			return err
		}
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(zipInfo)); err != nil {
			return err
		}
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(modInfo)); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO go_versions (repository_id, module, version, zip_digest, mod_digest, h1, size, published_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			rp.ID, p.Module, p.Version, string(zipInfo.Digest), string(modInfo.Digest), h1, zipInfo.Size, by, meta.Now())
		if meta.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "%s@%s was published concurrently; publish again", p.Module, p.Version).WithCode(meta.CodeRetry)
		}
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !created {
		c.w.WriteHeader(http.StatusOK)
		io.WriteString(c.w, p.Module+" "+p.Version+" "+h1+"\n")
		return nil
	}
	h.audit.Record(ctx, audit.Event{Action: "go.publish", Repository: rp.Name, Subject: p.Module + "@" + p.Version, RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"digest": zipInfo.Digest, "size": zipInfo.Size, "h1": h1}})
	c.w.WriteHeader(http.StatusCreated)
	io.WriteString(c.w, p.Module+" "+p.Version+" "+h1+"\n")
	return nil
}

// checkZip checks a module zip as the go command does and returns its
// go.mod and its go.sum hash (h1:...).
func checkZip(mv module.Version, file string) (gomod, h1 string, err error) {
	cf, err := modzip.CheckZip(mv, file)
	if err == nil {
		err = cf.Err()
	}
	if err != nil {
		return "", "", errs.E(errs.Invalid, "not a valid module zip of %s@%s: %v", mv.Path, mv.Version, err)
	}
	h1, err = dirhash.HashZip(file, dirhash.Hash1)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "hashing the module zip: %v", err)
	}
	zr, err := zip.OpenReader(file)
	if err != nil {
		return "", "", errs.E(errs.Invalid, "reading the module zip: %v", err)
	}
	defer zr.Close()
	name := mv.Path + "@" + mv.Version + "/go.mod"
	for _, f := range zr.File {
		if f.Name != name {
			continue
		}
		rd, err := f.Open()
		if err != nil {
			return "", "", errs.E(errs.Invalid, "reading go.mod: %v", err)
		}
		b, err := io.ReadAll(io.LimitReader(rd, modzip.MaxGoMod+1))
		rd.Close()
		if err != nil || len(b) > modzip.MaxGoMod {
			return "", "", errs.E(errs.Invalid, "go.mod is unreadable or larger than %d bytes", modzip.MaxGoMod)
		}
		if strings.HasSuffix(mv.Version, "+incompatible") {
			return "", "", errs.E(errs.Invalid, "%s is +incompatible but the module has a go.mod: publish it under a /v%s module path",
				mv.Version, strings.TrimPrefix(semver.Major(mv.Version), "v"))
		}
		if got := modfile.ModulePath(b); got != mv.Path {
			return "", "", errs.E(errs.Invalid, "go.mod declares module %q, not %q", trunc(got), mv.Path)
		}
		return string(b), h1, nil
	}
	return "module " + modfile.AutoQuote(mv.Path) + "\n", h1, nil
}

// remove answers DELETE <module>/@v/<version> (maintainer): the version
// is gone and its blobs become garbage.
func (h *Handler) remove(c *call) error {
	ctx := c.r.Context()
	rp, err := h.repository(ctx, c.repo, auth.Delete)
	if err != nil {
		return err
	}
	path := c.path
	if !strings.HasSuffix(path, ".zip") {
		path += ".zip"
	}
	p, err := ParsePath(path)
	if err != nil || p.Kind != KindZip {
		return errs.E(errs.Invalid, "DELETE <module>/@v/<version>")
	}
	var v versionRow
	err = h.db.QueryRowContext(ctx, `DELETE FROM go_versions WHERE repository_id = $1 AND module = $2 AND version = $3
		RETURNING zip_digest, mod_digest, h1, size`, rp.ID, p.Module, p.Version).Scan(&v.ZipDigest, &v.ModDigest, &v.H1, &v.Size)
	if err == sql.ErrNoRows {
		return errs.E(errs.NotFound, "not found: %s@%s", trunc(p.Module), trunc(p.Version))
	} else if err != nil {
		return meta.Err(err)
	}
	h.audit.Record(ctx, audit.Event{Action: "go.delete", Repository: rp.Name, Subject: p.Module + "@" + p.Version, RemoteAddr: c.r.RemoteAddr,
		Detail: map[string]any{"digest": v.ZipDigest, "mod_digest": v.ModDigest, "h1": v.H1, "size": v.Size}})
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
