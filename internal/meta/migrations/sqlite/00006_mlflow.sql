-- +goose Up
-- MLflow tracking server and model registry (internal/mlflow). Times are
-- Unix milliseconds, as MLflow sends and answers them.

CREATE TABLE mlflow_experiments (
    id                INTEGER PRIMARY KEY,            -- experiment_id; 0 is the Default experiment
    name              TEXT    NOT NULL UNIQUE,
    artifact_location TEXT    NOT NULL,
    lifecycle_stage   TEXT    NOT NULL DEFAULT 'active', -- active | deleted
    created_by        TEXT    NOT NULL DEFAULT '',
    creation_time     INTEGER NOT NULL,
    last_update_time  INTEGER NOT NULL
);

CREATE TABLE mlflow_experiment_tags (
    experiment_id INTEGER NOT NULL REFERENCES mlflow_experiments(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    value         TEXT    NOT NULL,
    PRIMARY KEY (experiment_id, key)
);

-- Runs. id is the internal key every run table joins on; run_uuid is the
-- 32-hex run_id clients see.
CREATE TABLE mlflow_runs (
    id              INTEGER PRIMARY KEY,
    run_uuid        TEXT    NOT NULL UNIQUE,
    experiment_id   INTEGER NOT NULL REFERENCES mlflow_experiments(id),
    name            TEXT    NOT NULL DEFAULT '',
    user_id         TEXT    NOT NULL DEFAULT '',
    status          TEXT    NOT NULL DEFAULT 'RUNNING', -- RUNNING | SCHEDULED | FINISHED | FAILED | KILLED
    start_time      INTEGER,
    end_time        INTEGER,
    lifecycle_stage TEXT    NOT NULL DEFAULT 'active',  -- active | deleted
    deleted_time    INTEGER,
    artifact_uri    TEXT    NOT NULL
);
CREATE INDEX mlflow_runs_experiment ON mlflow_runs(experiment_id, lifecycle_stage, start_time DESC, run_uuid);

CREATE TABLE mlflow_params (
    run_id INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX mlflow_params_key_value ON mlflow_params(key, value, run_id);

CREATE TABLE mlflow_run_tags (
    run_id INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    key    TEXT    NOT NULL,
    value  TEXT    NOT NULL,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX mlflow_run_tags_key_value ON mlflow_run_tags(key, value, run_id);

-- Every logged metric point, clustered by run and key so that a metric's
-- history is one range scan. A NaN is stored as value 0 with is_nan = 1
-- (SQLite cannot store NaN). A point logged twice is stored once.
CREATE TABLE mlflow_metrics (
    run_id         INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    key            TEXT    NOT NULL,
    step           INTEGER NOT NULL,
    timestamp      INTEGER NOT NULL,
    value          REAL    NOT NULL,
    is_nan         INTEGER NOT NULL DEFAULT 0,
    model_id       TEXT    NOT NULL DEFAULT '',      -- MLflow 3: the logged model the point belongs to
    dataset_name   TEXT    NOT NULL DEFAULT '',
    dataset_digest TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, key, step, timestamp, value, is_nan)
) WITHOUT ROWID;
CREATE INDEX mlflow_metrics_model ON mlflow_metrics(model_id) WHERE model_id <> '';

-- Each run's latest point per metric (greatest step, then timestamp, then
-- value), kept in the transaction that logs points: what searches filter
-- and order on, and what a run's data shows.
CREATE TABLE mlflow_latest_metrics (
    run_id    INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    key       TEXT    NOT NULL,
    step      INTEGER NOT NULL,
    timestamp INTEGER NOT NULL,
    value     REAL    NOT NULL,
    is_nan    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, key)
);
CREATE INDEX mlflow_latest_metrics_key_value ON mlflow_latest_metrics(key, value, run_id);

-- Datasets of an experiment (log-inputs), and which runs used them.
CREATE TABLE mlflow_datasets (
    id            INTEGER PRIMARY KEY,
    experiment_id INTEGER NOT NULL REFERENCES mlflow_experiments(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    digest        TEXT    NOT NULL,
    source_type   TEXT    NOT NULL DEFAULT '',
    source        TEXT    NOT NULL DEFAULT '',
    schema        TEXT    NOT NULL DEFAULT '',
    profile       TEXT    NOT NULL DEFAULT '',
    UNIQUE (experiment_id, name, digest)
);

CREATE TABLE mlflow_run_inputs (
    run_id     INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    dataset_id INTEGER NOT NULL REFERENCES mlflow_datasets(id) ON DELETE CASCADE,
    context    TEXT    NOT NULL DEFAULT '',          -- the mlflow.data.context tag (training, eval, ...)
    tags       TEXT    NOT NULL DEFAULT '[]',        -- JSON [{"key","value"}], all of the input's tags
    PRIMARY KEY (run_id, dataset_id)
);
CREATE INDEX mlflow_run_inputs_dataset ON mlflow_run_inputs(dataset_id);

-- Logged models used (direction 'input') or produced ('output') by runs.
CREATE TABLE mlflow_run_models (
    run_id    INTEGER NOT NULL REFERENCES mlflow_runs(id) ON DELETE CASCADE,
    model_id  TEXT    NOT NULL,
    direction TEXT    NOT NULL,                      -- input | output
    step      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, model_id, direction)
);

-- MLflow 3 logged models (ids "m-<32 hex>").
CREATE TABLE mlflow_logged_models (
    id                     TEXT    PRIMARY KEY,
    experiment_id          INTEGER NOT NULL REFERENCES mlflow_experiments(id),
    name                   TEXT    NOT NULL,
    artifact_location      TEXT    NOT NULL,
    status                 TEXT    NOT NULL DEFAULT 'LOGGED_MODEL_PENDING', -- _PENDING | _READY | _UPLOAD_FAILED
    status_message         TEXT    NOT NULL DEFAULT '',
    lifecycle_stage        TEXT    NOT NULL DEFAULT 'active',
    model_type             TEXT    NOT NULL DEFAULT '',
    source_run_id          TEXT    NOT NULL DEFAULT '',
    user_id                TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL
);
CREATE INDEX mlflow_logged_models_experiment ON mlflow_logged_models(experiment_id, creation_timestamp DESC);

CREATE TABLE mlflow_logged_model_tags (
    model_id TEXT NOT NULL REFERENCES mlflow_logged_models(id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_logged_model_params (
    model_id TEXT NOT NULL REFERENCES mlflow_logged_models(id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (model_id, key)
);

-- Model registry. Registered models have an internal id so that a rename
-- touches one row.
CREATE TABLE mlflow_registered_models (
    id                     INTEGER PRIMARY KEY,
    name                   TEXT    NOT NULL UNIQUE,
    description            TEXT    NOT NULL DEFAULT '',
    created_by             TEXT    NOT NULL DEFAULT '',
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL
);

CREATE TABLE mlflow_registered_model_tags (
    model_id INTEGER NOT NULL REFERENCES mlflow_registered_models(id) ON DELETE CASCADE,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (model_id, key)
);

CREATE TABLE mlflow_model_versions (
    model_id               INTEGER NOT NULL REFERENCES mlflow_registered_models(id) ON DELETE CASCADE,
    version                INTEGER NOT NULL,
    description            TEXT    NOT NULL DEFAULT '',
    user_id                TEXT    NOT NULL DEFAULT '',
    current_stage          TEXT    NOT NULL DEFAULT 'None', -- None | Staging | Production | Archived
    source                 TEXT    NOT NULL DEFAULT '',
    run_id                 TEXT    NOT NULL DEFAULT '',
    run_link               TEXT    NOT NULL DEFAULT '',
    logged_model_id        TEXT    NOT NULL DEFAULT '',
    storage_location       TEXT    NOT NULL DEFAULT '',
    status                 TEXT    NOT NULL DEFAULT 'READY',
    status_message         TEXT    NOT NULL DEFAULT '',
    deleted                INTEGER NOT NULL DEFAULT 0,  -- deleted versions keep their number
    creation_timestamp     INTEGER NOT NULL,
    last_updated_timestamp INTEGER NOT NULL,
    PRIMARY KEY (model_id, version)
);
CREATE INDEX mlflow_model_versions_run ON mlflow_model_versions(run_id);

CREATE TABLE mlflow_model_version_tags (
    model_id INTEGER NOT NULL,
    version  INTEGER NOT NULL,
    key      TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    PRIMARY KEY (model_id, version, key),
    FOREIGN KEY (model_id, version) REFERENCES mlflow_model_versions(model_id, version) ON DELETE CASCADE
);

CREATE TABLE mlflow_model_aliases (
    model_id INTEGER NOT NULL REFERENCES mlflow_registered_models(id) ON DELETE CASCADE,
    alias    TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    PRIMARY KEY (model_id, alias)
);

-- Traces (MLflow 3 trace info; span data is an artifact of the trace).
CREATE TABLE mlflow_traces (
    trace_id           TEXT    PRIMARY KEY,             -- "tr-<32 hex>"
    experiment_id      INTEGER NOT NULL REFERENCES mlflow_experiments(id) ON DELETE CASCADE,
    client_request_id  TEXT    NOT NULL DEFAULT '',
    request_time       INTEGER NOT NULL,
    execution_duration INTEGER NOT NULL DEFAULT 0,
    state              TEXT    NOT NULL DEFAULT 'IN_PROGRESS', -- OK | ERROR | IN_PROGRESS
    request_preview    TEXT    NOT NULL DEFAULT '',
    response_preview   TEXT    NOT NULL DEFAULT '',
    trace_metadata     TEXT    NOT NULL DEFAULT '{}',   -- JSON object
    assessments        TEXT    NOT NULL DEFAULT '[]'    -- JSON array
);
CREATE INDEX mlflow_traces_experiment ON mlflow_traces(experiment_id, request_time DESC);

CREATE TABLE mlflow_trace_tags (
    trace_id TEXT NOT NULL REFERENCES mlflow_traces(trace_id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (trace_id, key)
);

-- Per-experiment and per-registered-model permissions of users, as
-- MLflow's auth API sets them: READ, EDIT, MANAGE or NO_PERMISSIONS. Where
-- a user has none, the user's role on the mlflow repository applies.
CREATE TABLE mlflow_permissions (
    resource_kind TEXT    NOT NULL,                   -- experiment | registered_model
    resource_id   INTEGER NOT NULL,                   -- experiment id or registered model id
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    permission    TEXT    NOT NULL,
    PRIMARY KEY (resource_kind, resource_id, user_id)
);

-- +goose Down
DROP TABLE mlflow_permissions;
DROP TABLE mlflow_trace_tags;
DROP TABLE mlflow_traces;
DROP TABLE mlflow_model_aliases;
DROP TABLE mlflow_model_version_tags;
DROP TABLE mlflow_model_versions;
DROP TABLE mlflow_registered_model_tags;
DROP TABLE mlflow_registered_models;
DROP TABLE mlflow_logged_model_params;
DROP TABLE mlflow_logged_model_tags;
DROP TABLE mlflow_logged_models;
DROP TABLE mlflow_run_models;
DROP TABLE mlflow_run_inputs;
DROP TABLE mlflow_datasets;
DROP TABLE mlflow_latest_metrics;
DROP TABLE mlflow_metrics;
DROP TABLE mlflow_run_tags;
DROP TABLE mlflow_params;
DROP TABLE mlflow_runs;
DROP TABLE mlflow_experiment_tags;
DROP TABLE mlflow_experiments;
