-- +goose Up
-- MLflow 3's evaluation datasets (mlflow.genai.datasets), apart from the
-- datasets runs log as inputs (mlflow_datasets). A dataset is linked to
-- experiments, whose permissions it follows; its records are unique by
-- the hash of their inputs (an upsert of the same inputs merges).
CREATE TABLE mlflow_eval_datasets (
    dataset_id       TEXT    PRIMARY KEY,         -- "d-<32 hex>"
    name             TEXT    NOT NULL,
    digest           TEXT    NOT NULL,
    data_schema      TEXT    NOT NULL DEFAULT '',     -- JSON object, '' before the first record
    profile          TEXT    NOT NULL DEFAULT '',     -- JSON object, '' when empty
    created_time     BIGINT  NOT NULL,
    last_update_time BIGINT  NOT NULL,
    created_by       TEXT    NOT NULL DEFAULT '',
    last_updated_by  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX mlflow_eval_datasets_created ON mlflow_eval_datasets(created_time);

CREATE TABLE mlflow_eval_dataset_tags (
    dataset_id TEXT NOT NULL REFERENCES mlflow_eval_datasets(dataset_id) ON DELETE CASCADE,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (dataset_id, key)
);

CREATE TABLE mlflow_eval_dataset_experiments (
    dataset_id    TEXT   NOT NULL REFERENCES mlflow_eval_datasets(dataset_id) ON DELETE CASCADE,
    experiment_id BIGINT NOT NULL REFERENCES mlflow_experiments(id) ON DELETE CASCADE,
    PRIMARY KEY (dataset_id, experiment_id)
);
CREATE INDEX mlflow_eval_dataset_experiments_exp ON mlflow_eval_dataset_experiments(experiment_id, dataset_id);

-- body is the record's JSON (inputs, outputs, expectations, tags, source,
-- who created and updated it), without its id and times.
CREATE TABLE mlflow_eval_dataset_records (
    record_id        TEXT   PRIMARY KEY,           -- "dr-<32 hex>"
    dataset_id       TEXT   NOT NULL REFERENCES mlflow_eval_datasets(dataset_id) ON DELETE CASCADE,
    input_hash       TEXT   NOT NULL,
    body             TEXT   NOT NULL,
    created_time     BIGINT NOT NULL,
    last_update_time BIGINT NOT NULL,
    UNIQUE (dataset_id, input_hash)
);
CREATE INDEX mlflow_eval_dataset_records_page ON mlflow_eval_dataset_records(dataset_id, created_time, record_id);

-- +goose Down
DROP TABLE mlflow_eval_dataset_records;
DROP TABLE mlflow_eval_dataset_experiments;
DROP TABLE mlflow_eval_dataset_tags;
DROP TABLE mlflow_eval_datasets;
