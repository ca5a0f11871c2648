-- +goose Up
-- Indexes of MLflow searches (internal/mlflow/search).
--
-- A run's latest metrics carry the run's experiment, so that the runs of
-- one experiment ordered (and filtered) by a metric are a walk of this
-- index in value order that stops after one page, instead of a sort of
-- every run. The column is derived: the trigger fills it when a row is
-- inserted without it (runs never change experiments); writers may also
-- set it themselves, which saves the trigger's update.
ALTER TABLE mlflow_latest_metrics ADD COLUMN experiment_id INTEGER;
UPDATE mlflow_latest_metrics SET experiment_id = (SELECT r.experiment_id FROM mlflow_runs r WHERE r.id = mlflow_latest_metrics.run_id);
CREATE INDEX mlflow_latest_metrics_experiment ON mlflow_latest_metrics(experiment_id, key, is_nan, value, run_id);

-- +goose StatementBegin
CREATE TRIGGER mlflow_latest_metrics_experiment AFTER INSERT ON mlflow_latest_metrics
WHEN NEW.experiment_id IS NULL
BEGIN
    UPDATE mlflow_latest_metrics
       SET experiment_id = (SELECT r.experiment_id FROM mlflow_runs r WHERE r.id = NEW.run_id)
     WHERE run_id = NEW.run_id AND key = NEW.key;
END;
-- +goose StatementEnd

-- Runs with a param or tag value: the same index as PostgreSQL's (see
-- its 00010), so that one SQL text reads a value's 200-character
-- prefix on both engines, from the index alone.
CREATE INDEX mlflow_params_key_prefix ON mlflow_params(key, substr(value, 1, 200), run_id);
CREATE INDEX mlflow_run_tags_key_prefix ON mlflow_run_tags(key, substr(value, 1, 200), run_id);

-- Runs of an experiment by name (attributes.run_name = '...').
CREATE INDEX mlflow_runs_name ON mlflow_runs(experiment_id, name);

-- +goose Down
DROP INDEX mlflow_runs_name;
DROP INDEX mlflow_run_tags_key_prefix;
DROP INDEX mlflow_params_key_prefix;
DROP TRIGGER mlflow_latest_metrics_experiment;
DROP INDEX mlflow_latest_metrics_experiment;
ALTER TABLE mlflow_latest_metrics DROP COLUMN experiment_id;
