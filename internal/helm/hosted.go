package helm

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/auth"
	"github.com/arcaproject/arca/internal/blob"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/gc"
	"github.com/arcaproject/arca/internal/meta"
	"github.com/arcaproject/arca/internal/repo"
)

// maxChart bounds an uploaded chart archive when the server sets no lower
// upload limit.
const maxChart = 256 << 20

func (h *Handler) chartLimit() int64 {
	if h.maxUpload > 0 && h.maxUpload < maxChart {
		return h.maxUpload
	}
	return maxChart
}

// chartRow is a stored chart version of a hosted repository.
type chartRow struct {
	Name, Version, Digest string
	Prov                  string // "" without a provenance file
	Meta                  string
	CreatedAt             int64
}

const chartColumns = `name, version, digest, COALESCE(prov_digest, ''), meta, created_at`

func scanChart(sc interface{ Scan(...any) error }) (chartRow, error) {
	var c chartRow
	err := sc.Scan(&c.Name, &c.Version, &c.Digest, &c.Prov, &c.Meta, &c.CreatedAt)
	return c, err
}

func (h *Handler) chart(ctx context.Context, q meta.Querier, repoID int64, name, version string) (chartRow, error) {
	c, err := scanChart(q.QueryRowContext(ctx, `SELECT `+chartColumns+` FROM helm_charts WHERE repository_id = $1 AND name = $2 AND version = $3`,
		repoID, name, version))
	if err == sql.ErrNoRows {
		return c, errs.E(errs.NotFound, "chart %s-%s not found", trunc(name), trunc(version))
	}
	return c, meta.Err(err)
}

// chartByFile finds a hosted chart by its archive name.
func (h *Handler) chartByFile(ctx context.Context, repoID int64, file string) (chartRow, error) {
	for _, nv := range splitFile(file) {
		c, err := h.chart(ctx, h.db, repoID, nv[0], nv[1])
		if !errs.Is(err, errs.NotFound) {
			return c, err
		}
	}
	return chartRow{}, errs.E(errs.NotFound, "%s not found", trunc(file))
}

// hasChart reports whether a hosted repository holds any version of one
// of the named charts.
func (h *Handler) hasChart(ctx context.Context, repoID int64, names ...string) (bool, error) {
	for _, n := range names {
		var k int
		err := h.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM helm_charts WHERE repository_id = $1 AND name = $2 LIMIT 1) x`,
			repoID, n).Scan(&k)
		if err != nil {
			return false, meta.Err(err)
		}
		if k > 0 {
			return true, nil
		}
	}
	return false, nil
}

// entry is a stored chart's index.yaml entry.
func (c chartRow) entry() Entry {
	e := Entry{}
	json.Unmarshal([]byte(c.Meta), &e)
	d, _ := blob.ParseDigest(c.Digest)
	e["name"], e["version"] = c.Name, c.Version
	e["digest"] = d.Hex()
	e["created"] = time.UnixMilli(c.CreatedAt).UTC().Format(time.RFC3339Nano)
	e["urls"] = []any{"charts/" + c.Name + "-" + c.Version + chartFileSuffix}
	return e
}

// hostedIndex builds a hosted repository's index from its rows.
func (h *Handler) hostedIndex(ctx context.Context, repoID int64) (*Index, error) {
	rows, err := h.db.QueryContext(ctx, `SELECT `+chartColumns+` FROM helm_charts WHERE repository_id = $1 ORDER BY name`, repoID)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	ix := newIndex()
	for rows.Next() {
		c, err := scanChart(rows)
		if err != nil {
			return nil, meta.Err(err)
		}
		ix.add(c.entry())
	}
	return ix, meta.Err(rows.Err())
}

// upload is one chart upload: the archive, and optionally its provenance.
type upload struct {
	chart *blob.Info
	meta  Chart // the archive's Chart.yaml, read while it was stored
	prov  []byte
}

// postChart answers ChartMuseum's POST api/charts: the body is the chart
// archive, or a multipart form with the archive in "chart" and optionally
// its provenance in "prov" (what helm cm-push sends).
func (h *Handler) postChart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Write)
	if err != nil {
		return err
	}
	var up upload
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		mr, err := r.MultipartReader()
		if err != nil {
			return errs.E(errs.Invalid, "reading the form: %v", err)
		}
		for {
			part, err := mr.NextPart()
			if err == io.EOF {
				break
			}
			if err != nil {
				return errs.E(errs.Invalid, "reading the form: %v", err)
			}
			switch part.FormName() {
			case "chart":
				info, meta, err := h.putChart(ctx, part, -1)
				if err != nil {
					return err
				}
				up.chart, up.meta = &info, meta
			case "prov":
				if up.prov, err = readProv(part); err != nil {
					return err
				}
			}
			part.Close()
		}
		if up.chart == nil {
			return errs.E(errs.Invalid, "the form has no chart field")
		}
	} else {
		info, meta, err := h.putChart(ctx, r.Body, r.ContentLength)
		if err != nil {
			return err
		}
		up.chart, up.meta = &info, meta
	}
	return h.save(w, r, rp, up, "")
}

// putFile answers PUT charts/<name>-<version>.tgz (a chart) and
// charts/<name>-<version>.tgz.prov (its provenance).
func (h *Handler) putFile(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Write)
	if err != nil {
		return err
	}
	file := r.PathValue("file")
	if err := checkFile(file); err != nil {
		return err
	}
	if tgz, ok := strings.CutSuffix(file, provenanceSuffix); ok {
		b, err := readProv(r.Body)
		if err != nil {
			return err
		}
		return h.saveProv(w, r, rp, tgz, b)
	}
	info, meta, err := h.putChart(ctx, r.Body, r.ContentLength)
	if err != nil {
		return err
	}
	return h.save(w, r, rp, upload{chart: &info, meta: meta}, file)
}

// postProv answers ChartMuseum's POST api/prov: a provenance file, which
// names the archive it signs.
func (h *Handler) postProv(w http.ResponseWriter, r *http.Request) error {
	rp, err := h.repository(r.Context(), r.PathValue("repo"), auth.Write)
	if err != nil {
		return err
	}
	b, err := readProv(r.Body)
	if err != nil {
		return err
	}
	file, err := provenanceFile(b)
	if err != nil {
		return err
	}
	return h.saveProv(w, r, rp, file, b)
}

func readProv(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxProvenance+1))
	if err != nil {
		return nil, errs.Wrap(err, errs.Invalid, "reading the provenance file")
	}
	if len(b) > maxProvenance {
		return nil, errs.E(errs.TooLarge, "a provenance file has at most %d bytes", maxProvenance)
	}
	if _, err := provenanceFile(b); err != nil {
		return nil, err
	}
	return b, nil
}

// putChart stores an uploaded archive's bytes (not yet referred to) and
// reads its Chart.yaml from the same stream as they pass. It does not read
// the archive back from the store: until the upload's transaction refers
// to them, bytes that another archive already stored may be collected
// (the transaction's gc.Record stores them again; a read in between would
// find nothing).
func (h *Handler) putChart(ctx context.Context, body io.Reader, length int64) (blob.Info, Chart, error) {
	limit := h.chartLimit()
	if length > limit {
		return blob.Info{}, Chart{}, errs.E(errs.TooLarge, "%d bytes exceed the chart limit of %d", length, limit)
	}
	want := blob.Expect{}
	if length >= 0 {
		want.Size, want.SizeKnown = length, true
	}
	pr, pw := io.Pipe()
	type parsed struct {
		c   Chart
		err error
	}
	done := make(chan parsed, 1)
	go func() {
		c, err := ParseChart(pr)
		io.Copy(io.Discard, pr) // the rest of the archive, so that the store's reads go on
		done <- parsed{c, err}
	}()
	info, err := h.blobs.Put(ctx, io.TeeReader(io.LimitReader(body, limit+1), pw), want, 0)
	pw.CloseWithError(err) // nil: EOF for the parser
	p := <-done
	if err != nil {
		return info, Chart{}, err
	}
	if info.Size > limit {
		return info, Chart{}, errs.E(errs.TooLarge, "the chart exceeds the limit of %d bytes", limit)
	}
	return info, p.c, p.err
}

// save records an uploaded chart (and its provenance). want is the archive
// name the client put it at ("" for POST). The same archive again changes
// nothing (or adds its provenance); another archive of a stored version,
// or another provenance file for one, is a change that needs a maintainer
// (and, for the archive, ?force); without ?force another archive is a
// conflict.
func (h *Handler) save(w http.ResponseWriter, r *http.Request, rp *repo.Repository, up upload, want string) error {
	ctx := r.Context()
	c := up.meta
	if want != "" && want != c.File() {
		return errs.E(errs.Invalid, "the archive holds %s, not %s", c.File(), trunc(want))
	}
	if up.prov != nil {
		if f, _ := provenanceFile(up.prov); f != c.File() {
			return errs.E(errs.Invalid, "the provenance file signs %s, not %s", trunc(f), c.File())
		}
	}
	if up.chart != nil {
		if err := h.quota.Check(ctx, rp, string(up.chart.Digest), up.chart.Size); err != nil {
			return err
		}
	}
	var provInfo *blob.Info
	provDigest := ""
	if up.prov != nil {
		info, err := h.blobs.Put(ctx, strings.NewReader(string(up.prov)), blob.Expect{}, 0)
		if err != nil {
			return err
		}
		provInfo, provDigest = &info, string(info.Digest)
	}
	// Decide what the upload changes, and whether the caller may.
	prev, err := h.chart(ctx, h.db, rp.ID, c.Name, c.Version)
	exists := err == nil
	if err != nil && !errs.Is(err, errs.NotFound) {
		return err
	}
	sameArchive := exists && prev.Digest == string(up.chart.Digest)
	action := "helm.upload"
	switch {
	case sameArchive && (provInfo == nil || prev.Prov == provDigest):
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"saved":true}`+"\n")
		return nil
	case sameArchive: // a provenance file for a stored archive
		action = "helm.provenance"
		if prev.Prov != "" {
			if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
				return errs.Wrap(err, errs.KindOf(err), "replacing a provenance file needs the maintainer role")
			}
		}
	case exists:
		if !r.URL.Query().Has("force") || r.URL.Query().Get("force") == "false" {
			return errs.E(errs.Conflict, "%s already exists; upload with ?force as a maintainer to replace it", c.File())
		}
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.Wrap(err, errs.KindOf(err), "replacing a chart version needs the maintainer role")
		}
		action = "helm.replace"
	}
	metaJSON, _ := json.Marshal(c.Meta)
	by := auth.From(ctx).Name
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		// What was decided on must still be what is stored.
		now, err := h.chart(ctx, tx, rp.ID, c.Name, c.Version)
		if (err == nil) != exists || (exists && (now.Digest != prev.Digest || now.Prov != prev.Prov)) {
			return errs.E(errs.Conflict, "%s changed while it was uploaded; upload again", c.File())
		}
		if err != nil && !errs.Is(err, errs.NotFound) {
			return err
		}
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(*up.chart)); err != nil {
			return err
		}
		var prov any // NULL: a replaced archive loses the old one's provenance
		if provInfo != nil {
			if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(*provInfo)); err != nil {
				return err
			}
			prov = provDigest
		}
		if exists {
			_, err = tx.ExecContext(ctx, `UPDATE helm_charts SET digest = $4, size = $5, prov_digest = $6, meta = $7, uploaded_by = $8, created_at = $9
				WHERE repository_id = $1 AND name = $2 AND version = $3`,
				rp.ID, c.Name, c.Version, string(up.chart.Digest), up.chart.Size, prov, string(metaJSON), by, meta.Now())
			return meta.Err(err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO helm_charts (repository_id, name, version, digest, size, prov_digest, meta, uploaded_by, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			rp.ID, c.Name, c.Version, string(up.chart.Digest), up.chart.Size, prov, string(metaJSON), by, meta.Now())
		if meta.IsUniqueViolation(err) {
			return errs.E(errs.Conflict, "%s was uploaded concurrently; upload again", c.File())
		}
		return meta.Err(err)
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: action, Repository: rp.Name, Subject: c.Name + "-" + c.Version, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"chart": c.Name, "version": c.Version, "digest": up.chart.Digest, "size": up.chart.Size, "provenance": provInfo != nil}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"saved":true}`+"\n")
	return nil
}

// saveProv stores a provenance file beside the stored chart it signs.
func (h *Handler) saveProv(w http.ResponseWriter, r *http.Request, rp *repo.Repository, file string, b []byte) error {
	ctx := r.Context()
	if signed, _ := provenanceFile(b); signed != file {
		return errs.E(errs.Invalid, "the provenance file signs %s, not %s", trunc(signed), trunc(file))
	}
	c, err := h.chartByFile(ctx, rp.ID, file)
	if err != nil {
		return errs.Wrap(err, errs.KindOf(err), "upload the chart %s before its provenance", trunc(file))
	}
	info, err := h.blobs.Put(ctx, strings.NewReader(string(b)), blob.Expect{}, 0)
	if err != nil {
		return err
	}
	if c.Prov == string(info.Digest) {
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, `{"saved":true}`+"\n")
		return nil
	}
	if c.Prov != "" {
		if err := h.auth.Authorize(ctx, auth.From(ctx), rp, auth.Delete); err != nil {
			return errs.Wrap(err, errs.KindOf(err), "replacing a provenance file needs the maintainer role")
		}
	}
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if err := gc.Record(ctx, tx, h.blobs, gc.BlobOf(info)); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE helm_charts SET prov_digest = $4 WHERE repository_id = $1 AND name = $2 AND version = $3 AND digest = $5`,
			rp.ID, c.Name, c.Version, string(info.Digest), c.Digest)
		if err != nil {
			return meta.Err(err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.E(errs.Conflict, "%s changed while its provenance was uploaded; upload again", file)
		}
		return nil
	})
	if err != nil {
		return err
	}
	h.audit.Record(ctx, audit.Event{Action: "helm.provenance", Repository: rp.Name, Subject: c.Name + "-" + c.Version, RemoteAddr: r.RemoteAddr,
		Detail: map[string]any{"chart": c.Name, "version": c.Version, "digest": info.Digest}})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, `{"saved":true}`+"\n")
	return nil
}

// deleteChart answers ChartMuseum's DELETE api/charts/<name>/<version>
// (maintainer): the version is gone and its blobs become garbage.
func (h *Handler) deleteChart(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	rp, err := h.repository(ctx, r.PathValue("repo"), auth.Delete)
	if err != nil {
		return err
	}
	name, version := r.PathValue("name"), r.PathValue("version")
	var digest, prov string
	var size int64
	err = h.db.QueryRowContext(ctx, `DELETE FROM helm_charts WHERE repository_id = $1 AND name = $2 AND version = $3
		RETURNING digest, COALESCE(prov_digest, ''), size`, rp.ID, name, version).Scan(&digest, &prov, &size)
	if err == sql.ErrNoRows {
		return errs.E(errs.NotFound, "chart %s-%s not found", trunc(name), trunc(version))
	} else if err != nil {
		return meta.Err(err)
	}
	detail := map[string]any{"chart": name, "version": version, "digest": digest, "size": size}
	if prov != "" {
		detail["provenance_digest"] = prov
	}
	h.audit.Record(ctx, audit.Event{Action: "helm.delete", Repository: rp.Name, Subject: name + "-" + version, RemoteAddr: r.RemoteAddr, Detail: detail})
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"deleted":true}`+"\n")
	return nil
}
