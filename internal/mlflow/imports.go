package mlflow

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/arcaproject/arca/internal/audit"
	"github.com/arcaproject/arca/internal/errs"
	"github.com/arcaproject/arca/internal/meta"
)

// Importer writes history brought from another MLflow server (arca import
// mlflow, internal/importer) into the MLflow space, keeping what the
// source says: identifiers where they are free, timestamps, lifecycle
// stages, version numbers. It does not authorize (the import runs as an
// administrator of the process) and writes only through the same tables,
// and artifacts only through the same object store, as the API does.
//
// Every method is idempotent: writing what is already there changes
// nothing, so that an interrupted import is resumed by running it again.
type Importer struct{ h *Handler }

// Importer returns the import writer of the space.
func (h *Handler) Importer() *Importer { return &Importer{h: h} }

// ImportedExperiment is an experiment as the source has it.
type ImportedExperiment struct {
	// ID is the source's experiment_id; it is kept when it is a number
	// that no arca experiment has.
	ID             string
	Name           string
	LifecycleStage string
	CreationTime   int64
	LastUpdateTime int64
	Tags           []ExperimentTag
}

// Experiment returns the arca experiment of e: the one of e's name when
// there is one (created false), else a new one, with e's ID when that is
// free. Its tags are written either way.
func (im *Importer) Experiment(ctx context.Context, e ImportedExperiment) (id int64, created bool, err error) {
	h := im.h
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		q := h.tx(tx)
		have, err := experimentByName(ctx, tx, e.Name)
		if err != nil {
			return err
		}
		if have != nil {
			id = have.ID
		} else {
			created = true
			stage := e.LifecycleStage
			if stage != stageDeleted {
				stage = stageActive
			}
			want, perr := strconv.ParseInt(e.ID, 10, 64)
			free := perr == nil && want >= 0
			if free {
				var n int
				if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mlflow_experiments WHERE id = $1`, want).Scan(&n); err != nil {
					return meta.Err(err)
				}
				free = n == 0
			}
			if free {
				id = want
				_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_experiments (id, name, artifact_location, lifecycle_stage, created_by, creation_time, last_update_time)
					VALUES ($1, $2, $3, $4, $5, $6, $7)`, id, e.Name, experimentArtifactLocation(id), stage, creatorName(ctx), e.CreationTime, e.LastUpdateTime)
				if err != nil {
					return meta.Err(err)
				}
				if err := im.advanceIdentity(ctx, tx, "mlflow_experiments"); err != nil {
					return err
				}
			} else {
				err = tx.QueryRowContext(ctx, `INSERT INTO mlflow_experiments (name, artifact_location, lifecycle_stage, created_by, creation_time, last_update_time)
					VALUES ($1, '', $2, $3, $4, $5) RETURNING id`, e.Name, stage, creatorName(ctx), e.CreationTime, e.LastUpdateTime).Scan(&id)
				if err != nil {
					return meta.Err(err)
				}
				if _, err := tx.ExecContext(ctx, `UPDATE mlflow_experiments SET artifact_location = $1 WHERE id = $2`,
					experimentArtifactLocation(id), id); err != nil {
					return meta.Err(err)
				}
			}
		}
		if len(e.Tags) == 0 {
			return nil
		}
		tags := dedupeExperimentTags(e.Tags)
		return q.insertRows(ctx, `INSERT INTO mlflow_experiment_tags (experiment_id, key, value) VALUES`,
			`ON CONFLICT (experiment_id, key) DO UPDATE SET value = excluded.value`, 3, len(tags),
			func(i int, args []any) []any { return append(args, id, tags[i].Key, tags[i].Value) })
	})
	if err == nil && created {
		h.audit.Record(ctx, audit.Event{Action: "mlflow.experiment.import", Repository: h.space, Subject: e.Name,
			Detail: map[string]any{"experiment_id": id, "source_id": e.ID}})
	}
	return id, created, err
}

// advanceIdentity moves a PostgreSQL identity sequence past the largest id
// of table after a row was inserted with an id of its own, so that the
// next generated id does not collide with it. SQLite needs nothing (its
// INTEGER PRIMARY KEY takes the largest id plus one).
func (im *Importer) advanceIdentity(ctx context.Context, tx *sql.Tx, table string) error {
	if im.h.db.Dialect == meta.SQLite {
		return nil
	}
	var seq sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT pg_get_serial_sequence($1, 'id')`, table).Scan(&seq); err != nil {
		return meta.Err(err)
	}
	if !seq.Valid {
		return errs.E(errs.Internal, "%s has no identity sequence", table)
	}
	// setval never moves a sequence back: another writer may have taken
	// ids past the largest row's meanwhile.
	_, err := tx.ExecContext(ctx, `SELECT setval($1::regclass, GREATEST(
		(SELECT COALESCE(MAX(id), 0) FROM `+table+`),
		(SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM `+seq.String+`)), true)`, seq.String)
	return meta.Err(err)
}

// ExperimentLocation returns an experiment's artifact location.
func (im *Importer) ExperimentLocation(ctx context.Context, id int64) (string, error) {
	e, err := experimentByID(ctx, im.h.db, id)
	if err != nil {
		return "", err
	}
	return e.ArtifactLocation, nil
}

// RunState is what arca has of a run.
type RunState struct {
	Exists         bool
	ExperimentID   int64
	Status         string
	EndTime        int64 // 0 when the run has none
	LifecycleStage string
	ArtifactURI    string
}

// Run returns what arca has of the run with that run_id.
func (im *Importer) Run(ctx context.Context, uuid string) (RunState, error) {
	r, err := runByUUID(ctx, im.h.db, uuid)
	if errs.Is(err, errs.NotFound) {
		return RunState{}, nil
	}
	if err != nil {
		return RunState{}, err
	}
	return RunState{Exists: true, ExperimentID: r.ExperimentID, Status: r.Status, EndTime: r.EndTime.Int64,
		LifecycleStage: r.LifecycleStage, ArtifactURI: r.ArtifactURI}, nil
}

// RunByTag returns the run_id of a run of the experiment with the tag key
// set to value ("" when there is none): how a run imported under a new
// run_id is found again.
func (im *Importer) RunByTag(ctx context.Context, experimentID int64, key, value string) (string, error) {
	var id string
	err := im.h.db.QueryRowContext(ctx, `SELECT r.run_uuid FROM mlflow_runs r JOIN mlflow_run_tags t ON t.run_id = r.id
		WHERE r.experiment_id = $1 AND t.key = $2 AND t.value = $3 ORDER BY r.id LIMIT 1`, experimentID, key, value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, meta.Err(err)
}

// ImportedRun is the row of a run as the source has it.
type ImportedRun struct {
	UUID         string
	ExperimentID int64 // arca's
	Name         string
	UserID       string
	StartTime    int64
}

// BeginRun creates the run, RUNNING and without an end time until
// FinishRun, unless it exists; it returns the run's artifact URI.
func (im *Importer) BeginRun(ctx context.Context, r ImportedRun) (string, error) {
	h := im.h
	var uri string
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		if have, err := runByUUID(ctx, tx, r.UUID); err == nil {
			uri = have.ArtifactURI
			return nil
		} else if !errs.Is(err, errs.NotFound) {
			return err
		}
		e, err := experimentByID(ctx, tx, r.ExperimentID)
		if err != nil {
			return err
		}
		uri = runArtifactURI(e.ArtifactLocation, r.UUID)
		_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_runs (run_uuid, experiment_id, name, user_id, status, start_time, lifecycle_stage, artifact_uri)
			VALUES ($1, $2, $3, $4, 'RUNNING', $5, $6, $7)`, r.UUID, r.ExperimentID, r.Name, r.UserID, r.StartTime, stageActive, uri)
		return meta.Err(err)
	})
	return uri, err
}

// RunData writes a run's params, tags, dataset inputs and logged model
// inputs and outputs.
func (im *Importer) RunData(ctx context.Context, uuid string, params []Param, tags []RunTag, datasets []DatasetInput,
	modelInputs []ModelInput, modelOutputs []ModelOutput) error {
	h := im.h
	run, err := runByUUID(ctx, h.db, uuid)
	if err != nil {
		return err
	}
	return h.db.WithTx(ctx, func(tx *sql.Tx) error {
		q := h.tx(tx)
		if err := writeParams(ctx, q, run, dedupeBy(params, func(p Param) string { return p.Key })); err != nil {
			return err
		}
		if err := insertRunTags(ctx, q, run.ID, dedupeRunTags(tags)); err != nil {
			return err
		}
		if len(datasets) > 0 {
			in := make([]datasetInputIn, len(datasets))
			for i := range datasets {
				d := &datasets[i].Dataset
				in[i].Dataset = &datasetIn{Name: &d.Name, Digest: &d.Digest, SourceType: &d.SourceType, Source: &d.Source,
					Schema: d.Schema, Profile: d.Profile}
				for j := range datasets[i].Tags {
					t := &datasets[i].Tags[j]
					in[i].Tags = append(in[i].Tags, inputTagIn{Key: &t.Key, Value: &t.Value})
				}
			}
			if err := writeDatasetInputs(ctx, q, run, dedupeDatasetInputs(in)); err != nil {
				return err
			}
		}
		for _, m := range modelInputs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_run_models (run_id, model_id, direction, step) VALUES ($1, $2, $3, 0)
				ON CONFLICT DO NOTHING`, run.ID, m.ModelID, directionInput); err != nil {
				return meta.Err(err)
			}
		}
		for _, m := range modelOutputs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_run_models (run_id, model_id, direction, step) VALUES ($1, $2, $3, $4)
				ON CONFLICT DO NOTHING`, run.ID, m.ModelID, directionOutput, int64(m.Step)); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
}

// MetricCounts returns how many points of each metric the run has.
func (im *Importer) MetricCounts(ctx context.Context, uuid string) (map[string]int64, error) {
	out := map[string]int64{}
	err := eachRow(ctx, im.h.db, `SELECT m.key, COUNT(*) FROM mlflow_metrics m JOIN mlflow_runs r ON r.id = m.run_id
		WHERE r.run_uuid = $1 GROUP BY m.key`, []any{uuid}, func(rs *sql.Rows) error {
		var k string
		var n int64
		err := rs.Scan(&k, &n)
		out[k] = n
		return err
	})
	return out, err
}

// Metrics writes metric points of a run as given (timestamps, steps, the
// logged model and dataset of each); points already there are ignored.
func (im *Importer) Metrics(ctx context.Context, uuid string, ms []Metric) error {
	h := im.h
	run, err := runByUUID(ctx, h.db, uuid)
	if err != nil {
		return err
	}
	in := make([]metricIn, len(ms))
	for i := range ms {
		m := &ms[i]
		in[i] = metricIn{Key: m.Key, Value: &m.Value, Timestamp: &m.Timestamp, Step: m.Step, ModelID: m.ModelID,
			DatasetName: m.DatasetName, DatasetDigest: m.DatasetDigest}
	}
	pts := pointsOf(in)
	return h.db.WithTx(ctx, func(tx *sql.Tx) error { return writeMetrics(ctx, h.tx(tx), run.ID, pts) })
}

// FinishRun sets a run's status, end time (0 for none) and lifecycle
// stage: the last write of an imported run, so that a run with the
// source's end time is complete.
func (im *Importer) FinishRun(ctx context.Context, uuid, status string, endTime int64, lifecycle string) error {
	h := im.h
	if lifecycle != stageDeleted {
		lifecycle = stageActive
	}
	end := sql.NullInt64{Int64: endTime, Valid: endTime != 0}
	var deleted sql.NullInt64
	if lifecycle == stageDeleted {
		deleted = sql.NullInt64{Int64: meta.Now(), Valid: true}
	}
	res, err := h.db.ExecContext(ctx, `UPDATE mlflow_runs SET status = $1, end_time = $2, lifecycle_stage = $3, deleted_time = $4
		WHERE run_uuid = $5`, status, end, lifecycle, deleted, uuid)
	if err != nil {
		return meta.Err(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notExist("run with id=%s not found", uuid)
	}
	h.audit.Record(ctx, audit.Event{Action: "mlflow.run.import", Repository: h.space, Subject: uuid})
	return nil
}

// ImportedLoggedModel is an MLflow 3 logged model as the source has it.
type ImportedLoggedModel struct {
	ID            string
	ExperimentID  int64 // arca's
	Name          string
	Status        string
	StatusMessage string
	ModelType     string
	SourceRunID   string // arca's
	Created       int64
	Updated       int64
	Tags          []LoggedModelTag
	Params        []LoggedModelParameter
}

// LoggedModelExperiment returns the experiment of the logged model with
// that id, and whether there is one.
func (im *Importer) LoggedModelExperiment(ctx context.Context, id string) (int64, bool, error) {
	m, err := modelByID(ctx, im.h.db, id)
	if errs.Is(err, errs.NotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	return m.ExperimentID, true, nil
}

// LoggedModel creates the logged model unless it exists (created false)
// and writes its tags and params; it returns its artifact location.
func (im *Importer) LoggedModel(ctx context.Context, m ImportedLoggedModel) (location string, created bool, err error) {
	h := im.h
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		q := h.tx(tx)
		if have, err := modelByID(ctx, tx, m.ID); err == nil {
			location = have.ArtifactLocation
		} else if !errs.Is(err, errs.NotFound) {
			return err
		} else {
			e, err := experimentByID(ctx, tx, m.ExperimentID)
			if err != nil {
				return err
			}
			created = true
			location = loggedModelArtifactLocation(e.ArtifactLocation, m.ID)
			_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_logged_models (id, experiment_id, name, artifact_location, status, status_message,
				lifecycle_stage, model_type, source_run_id, user_id, creation_timestamp, last_updated_timestamp)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, m.ID, m.ExperimentID, m.Name, location, m.Status, m.StatusMessage,
				stageActive, m.ModelType, m.SourceRunID, creatorName(ctx), m.Created, m.Updated)
			if err != nil {
				return meta.Err(err)
			}
		}
		if err := writeModelTags(ctx, q, m.ID, dedupeBy(m.Tags, modelTagKey)); err != nil {
			return err
		}
		return writeModelParams(ctx, q, m.ID, dedupeBy(m.Params, modelParamKey))
	})
	return location, created, err
}

// RegisteredModel creates the registered model unless it exists (created
// false), and writes its tags.
func (im *Importer) RegisteredModel(ctx context.Context, name, description string, createdAt, updatedAt int64,
	tags []RegisteredModelTag) (created bool, err error) {
	h := im.h
	err = h.db.WithTx(ctx, func(tx *sql.Tx) error {
		m, err := lookupRegisteredModel(ctx, tx, name)
		if errs.Is(err, errs.NotFound) {
			created = true
			err = tx.QueryRowContext(ctx, `INSERT INTO mlflow_registered_models (name, description, created_by, creation_timestamp, last_updated_timestamp)
				VALUES ($1, $2, $3, $4, $5) RETURNING id`, name, description, creatorName(ctx), createdAt, updatedAt).Scan(&m.ID)
			err = meta.Err(err)
		}
		if err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_registered_model_tags (model_id, key, value) VALUES ($1, $2, $3)
				ON CONFLICT (model_id, key) DO UPDATE SET value = excluded.value`, m.ID, t.Key, t.Value); err != nil {
				return meta.Err(err)
			}
		}
		return nil
	})
	if err == nil && created {
		h.audit.Record(ctx, audit.Event{Action: "mlflow.registered_model.import", Repository: h.space, Subject: name})
	}
	return created, err
}

// ImportedVersion is a model version as the source has it, with its run,
// logged model, source and storage location already arca's.
type ImportedVersion struct {
	Model           string
	Version         int64
	Description     string
	UserID          string
	Stage           string
	Source          string
	StorageLocation string
	RunID           string
	RunLink         string
	LoggedModelID   string
	Status          string
	StatusMessage   string
	Created         int64
	Updated         int64
	Tags            []ModelVersionTag
}

// VersionSource returns the source of a model's version, and whether the
// version exists (deleted versions too: their numbers stay taken).
func (im *Importer) VersionSource(ctx context.Context, model string, version int64) (string, bool, error) {
	var source string
	err := im.h.db.QueryRowContext(ctx, `SELECT v.source FROM mlflow_model_versions v JOIN mlflow_registered_models m ON m.id = v.model_id
		WHERE m.name = $1 AND v.version = $2`, model, version).Scan(&source)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	return source, err == nil, meta.Err(err)
}

// VersionByTag returns the number of the model's version with tag key set
// to value, or 0.
func (im *Importer) VersionByTag(ctx context.Context, model, key, value string) (int64, error) {
	var v int64
	err := im.h.db.QueryRowContext(ctx, `SELECT t.version FROM mlflow_model_version_tags t JOIN mlflow_registered_models m ON m.id = t.model_id
		WHERE m.name = $1 AND t.key = $2 AND t.value = $3 ORDER BY t.version LIMIT 1`, model, key, value).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, meta.Err(err)
}

// NextVersion is the number a new version of the model would get.
func (im *Importer) NextVersion(ctx context.Context, model string) (int64, error) {
	var v int64
	err := im.h.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(v.version), 0) + 1 FROM mlflow_model_versions v
		JOIN mlflow_registered_models m ON m.id = v.model_id WHERE m.name = $1`, model).Scan(&v)
	return v, meta.Err(err)
}

// ModelVersion creates a version with its number, stage and timestamps;
// the registered model must exist and the number be free.
func (im *Importer) ModelVersion(ctx context.Context, v ImportedVersion) error {
	h := im.h
	stage := v.Stage
	if stage == "" {
		stage = stageNone
	}
	status := v.Status
	if status == "" {
		status = versionReady
	}
	err := h.db.WithTx(ctx, func(tx *sql.Tx) error {
		m, err := lookupRegisteredModel(ctx, tx, v.Model)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO mlflow_model_versions (model_id, version, description, user_id, current_stage, source,
			run_id, run_link, logged_model_id, storage_location, status, status_message, creation_timestamp, last_updated_timestamp)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			m.ID, v.Version, v.Description, v.UserID, stage, v.Source, v.RunID, v.RunLink, v.LoggedModelID, v.StorageLocation,
			status, v.StatusMessage, v.Created, v.Updated)
		if meta.IsUniqueViolation(err) {
			return alreadyExists("version %d of model %s already exists", v.Version, v.Model)
		}
		if err != nil {
			return meta.Err(err)
		}
		for _, t := range v.Tags {
			if _, err := tx.ExecContext(ctx, `INSERT INTO mlflow_model_version_tags (model_id, version, key, value) VALUES ($1, $2, $3, $4)
				ON CONFLICT (model_id, version, key) DO UPDATE SET value = excluded.value`, m.ID, v.Version, t.Key, t.Value); err != nil {
				return meta.Err(err)
			}
		}
		if v.LoggedModelID != "" {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM mlflow_logged_models WHERE id = $1`, v.LoggedModelID).Scan(&n); err != nil {
				return meta.Err(err)
			}
			if n > 0 {
				return noteVersionOnLoggedModel(ctx, tx, v.LoggedModelID, m.Name, v.Version)
			}
		}
		return nil
	})
	if err == nil {
		h.audit.Record(ctx, audit.Event{Action: "mlflow.model_version.import", Repository: h.space,
			Subject: versionSubject(v.Model, v.Version), Detail: map[string]any{"source": v.Source}})
	}
	return err
}

// Alias points a model's alias at a version.
func (im *Importer) Alias(ctx context.Context, model, alias string, version int64) error {
	_, err := im.h.db.ExecContext(ctx, `INSERT INTO mlflow_model_aliases (model_id, alias, version)
		SELECT id, $2, $3 FROM mlflow_registered_models WHERE name = $1
		ON CONFLICT (model_id, alias) DO UPDATE SET version = excluded.version`, model, alias, version)
	return meta.Err(err)
}

// ArtifactKey returns the artifact bucket's key of an mlflow-artifacts:
// URI, and whether uri is one.
func ArtifactKey(uri string) (string, bool) { return proxiedKey(uri) }

// ArtifactSize returns the size of the artifact stored at key, and
// whether there is one.
func (im *Importer) ArtifactSize(ctx context.Context, key string) (int64, bool, error) {
	bucket, err := im.h.artifactBucket(ctx)
	if err != nil {
		return 0, false, err
	}
	page, err := im.h.objects.List(ctx, bucket, key, "", "", 1)
	if err != nil {
		return 0, false, objectError(err, bucket)
	}
	if len(page.Objects) == 0 || page.Objects[0].Key != key {
		return 0, false, nil
	}
	return page.Objects[0].Size, true, nil
}

// PutArtifact streams an artifact into the artifact bucket at key.
func (im *Importer) PutArtifact(ctx context.Context, key string, body io.Reader, size int64, contentType string) error {
	if err := checkImportedKey(key); err != nil {
		return err
	}
	bucket, err := im.h.artifactBucket(ctx)
	if err != nil {
		return err
	}
	if _, err := im.h.objects.Put(ctx, bucket, key, body, size, contentType); err != nil {
		return objectError(err, bucket)
	}
	return nil
}

// checkImportedKey refuses keys that the artifact proxy would not serve.
func checkImportedKey(key string) error {
	clean, err := cleanArtifactPath(key)
	if err != nil {
		return err
	}
	if clean != key || strings.HasPrefix(key, "/") {
		return invalidParam("invalid artifact path %q", key)
	}
	return nil
}

// ExperimentID returns the id of the experiment of that name, and whether
// there is one.
func (im *Importer) ExperimentID(ctx context.Context, name string) (int64, bool, error) {
	e, err := experimentByName(ctx, im.h.db, name)
	if err != nil || e == nil {
		return 0, false, err
	}
	return e.ID, true, nil
}
