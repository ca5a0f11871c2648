-- +goose Up
-- Assessments of traces (MLflow 3's feedback and expectations). body is the
-- Assessment message's JSON as arca answers it, without valid, which the
-- row keeps: creating an assessment that overrides another one makes the
-- other invalid, and deleting it makes the other valid again.
CREATE TABLE mlflow_assessments (
    assessment_id    TEXT    PRIMARY KEY,             -- "a-<32 hex>"
    trace_id         TEXT    NOT NULL REFERENCES mlflow_traces(trace_id) ON DELETE CASCADE,
    name             TEXT    NOT NULL,
    kind             TEXT    NOT NULL,                -- feedback | expectation | issue
    body             TEXT    NOT NULL,                -- JSON object
    create_time      BIGINT  NOT NULL,
    last_update_time BIGINT  NOT NULL,
    overrides        TEXT    NOT NULL DEFAULT '',
    valid            INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX mlflow_assessments_trace ON mlflow_assessments(trace_id, create_time);

-- +goose Down
DROP TABLE mlflow_assessments;
