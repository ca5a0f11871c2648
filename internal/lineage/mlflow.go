package lineage

import (
	"context"
	"database/sql"
	"errors"
	"strconv"

	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// MLflow's links are read from the tables internal/mlflow writes (as the
// UI reads them): a model version's run, logged model and source; a run's
// dataset inputs (and their sources), and the logged models it used and
// produced.

// maxRows bounds what one extraction reads of a run.
const maxRows = 1000

// modelVersionLinks: the run and logged model a version was registered
// from, and that run's own links.
func (s *Service) modelVersionLinks(ctx context.Context, name, version string) ([]Link, error) {
	v, err := strconv.ParseInt(version, 10, 64)
	if err != nil || name == "" {
		return nil, nil
	}
	mv := Ref{Kind: KindModelVersion, Name: name, Version: v}
	var source, runID, loggedID string
	err = s.db.QueryRowContext(ctx, `SELECT v.source, v.run_id, v.logged_model_id FROM mlflow_model_versions v
		JOIN mlflow_registered_models m ON m.id = v.model_id WHERE m.name = $1 AND v.version = $2`, name, v).Scan(&source, &runID, &loggedID)
	if err != nil {
		return nil, meta.Err(err)
	}
	var links []Link
	from := map[Ref]bool{}
	if validID(runID) {
		from[Ref{Kind: KindRun, Name: runID}] = true
	}
	if validID(loggedID) {
		from[Ref{Kind: KindLoggedModel, Name: loggedID}] = true
	}
	if p, ok := ParsePointer(source); ok && p.Alias == "" && (p.Ref.Kind == KindRun || p.Ref.Kind == KindLoggedModel) {
		from[p.Ref] = true
	}
	runs := map[string]bool{}
	for r := range from {
		links = append(links, Link{From: r, To: mv, Relation: RelRegistered})
		switch r.Kind {
		case KindRun:
			runs[r.Name] = true
		case KindLoggedModel:
			var src string
			err := s.db.QueryRowContext(ctx, `SELECT source_run_id FROM mlflow_logged_models WHERE id = $1`, r.Name).Scan(&src)
			if err != nil && !errors.Is(err, sql.ErrNoRows) {
				return nil, meta.Err(err)
			}
			if validID(src) {
				runs[src] = true
			}
		}
	}
	for run := range runs {
		more, err := s.runLinks(ctx, run)
		if err != nil && !errs.Is(err, errs.NotFound) {
			return nil, err
		}
		links = append(links, more...)
	}
	return links, nil
}

// runLinks: the datasets a run used (each from its source, when that is
// arca's), the logged models it used and those it produced.
func (s *Service) runLinks(ctx context.Context, runID string) ([]Link, error) {
	if !validID(runID) {
		return nil, nil
	}
	run := Ref{Kind: KindRun, Name: runID}
	var id int64
	if err := s.db.QueryRowContext(ctx, `SELECT id FROM mlflow_runs WHERE run_uuid = $1`, runID).Scan(&id); err != nil {
		return nil, meta.Err(err)
	}
	var links []Link
	rows, err := s.db.QueryContext(ctx, `SELECT d.digest, d.source FROM mlflow_run_inputs i JOIN mlflow_datasets d ON d.id = i.dataset_id
		WHERE i.run_id = $1 ORDER BY d.id LIMIT $2`, id, maxRows)
	if err != nil {
		return nil, meta.Err(err)
	}
	for rows.Next() {
		var digest, source string
		if err := rows.Scan(&digest, &source); err != nil {
			rows.Close()
			return nil, meta.Err(err)
		}
		ds, err := ParseRef(KindDataset + ":" + digest)
		if err != nil {
			continue
		}
		links = append(links, Link{From: ds, To: run, Relation: RelInput})
		if src, ok := ParseDatasetSource(source); ok {
			links = append(links, Link{From: src, To: ds, Relation: RelSource})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, meta.Err(err)
	}
	rows, err = s.db.QueryContext(ctx, `SELECT model_id, direction FROM mlflow_run_models WHERE run_id = $1
		UNION SELECT id, 'output' FROM mlflow_logged_models WHERE source_run_id = $2 LIMIT $3`, id, runID, maxRows)
	if err != nil {
		return nil, meta.Err(err)
	}
	defer rows.Close()
	for rows.Next() {
		var model, direction string
		if err := rows.Scan(&model, &direction); err != nil {
			return nil, meta.Err(err)
		}
		lm := Ref{Kind: KindLoggedModel, Name: model}
		if !validID(model) {
			continue
		}
		if direction == "input" {
			links = append(links, Link{From: lm, To: run, Relation: RelInput})
		} else {
			links = append(links, Link{From: run, To: lm, Relation: RelOutput})
		}
	}
	return links, meta.Err(rows.Err())
}

// resolvePointer turns a pointer into a ref: a model alias or stage
// (models:/<name>@champion, models:/<name>/Production, .../latest) to the
// version it names now. ok is false when it names nothing.
func (s *Service) resolvePointer(ctx context.Context, p Pointer) (Ref, bool, error) {
	if p.Ref.Kind == "" {
		return Ref{}, false, nil
	}
	if p.Alias == "" {
		return p.Ref, true, nil
	}
	var v sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT a.version FROM mlflow_model_aliases a JOIN mlflow_registered_models m ON m.id = a.model_id
		WHERE m.name = $1 AND a.alias = $2`, p.Ref.Name, p.Alias).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		err = s.db.QueryRowContext(ctx, `SELECT MAX(v.version) FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id
			WHERE m.name = $1 AND v.deleted = 0 AND (LOWER(v.current_stage) = LOWER($2) OR LOWER($2) = 'latest')`, p.Ref.Name, p.Alias).Scan(&v)
	}
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Ref{}, false, meta.Err(err)
	}
	if !v.Valid {
		return Ref{}, false, nil
	}
	r := p.Ref
	r.Version = v.Int64
	return r, true, nil
}

// resolve names an OCI tag by the digest it points at now.
func (s *Service) resolve(ctx context.Context, r Ref) (Ref, error) {
	if r.Kind != KindImage || r.Digest != "" {
		return r, nil
	}
	rp, err := s.repos.Get(ctx, r.Repo)
	if err != nil {
		return r, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT digest FROM oci_tags WHERE repository_id = $1 AND name = $2 AND tag = $3`,
		rp.ID, r.Name, r.Tag).Scan(&r.Digest)
	if errors.Is(err, sql.ErrNoRows) {
		return r, errs.E(errs.NotFound, "no tag %s of %s/%s", r.Tag, r.Repo, r.Name)
	}
	r.Tag = ""
	return r, meta.Err(err)
}
