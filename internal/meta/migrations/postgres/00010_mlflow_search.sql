-- +goose Up
-- Indexes of MLflow searches (internal/mlflow/search).
--
-- A run's latest metrics carry the run's experiment, so that the runs of
-- one experiment ordered (and filtered) by a metric are a walk of this
-- index in value order that stops after one page, instead of a sort of
-- every run. The column is derived: the trigger fills it when a row is
-- inserted without it (runs never change experiments); writers may also
-- set it themselves.
ALTER TABLE mlflow_latest_metrics ADD COLUMN experiment_id BIGINT;
UPDATE mlflow_latest_metrics SET experiment_id = (SELECT r.experiment_id FROM mlflow_runs r WHERE r.id = mlflow_latest_metrics.run_id);
CREATE INDEX mlflow_latest_metrics_experiment ON mlflow_latest_metrics(experiment_id, key, is_nan, value, run_id);

-- +goose StatementBegin
CREATE FUNCTION mlflow_latest_metrics_experiment() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.experiment_id IS NULL THEN
        SELECT r.experiment_id INTO NEW.experiment_id FROM mlflow_runs r WHERE r.id = NEW.run_id;
    END IF;
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER mlflow_latest_metrics_experiment BEFORE INSERT ON mlflow_latest_metrics
    FOR EACH ROW EXECUTE FUNCTION mlflow_latest_metrics_experiment();

-- The default order of runs is start_time DESC with NULLs last (as SQLite
-- sorts them); a DESC index puts NULLs first on PostgreSQL, so this one
-- replaces 00006's.
DROP INDEX mlflow_runs_experiment;
CREATE INDEX mlflow_runs_experiment ON mlflow_runs(experiment_id, lifecycle_stage, start_time DESC NULLS LAST, run_uuid);

-- Runs with a param or tag value. A value can be longer than a B-tree
-- entry may be (6000 and 8000 characters), so these index its first 200
-- characters, which the searches look up before comparing whole values.
CREATE INDEX mlflow_params_key_prefix ON mlflow_params(key, substr(value, 1, 200), run_id);
CREATE INDEX mlflow_run_tags_key_prefix ON mlflow_run_tags(key, substr(value, 1, 200), run_id);

-- Runs of an experiment by name (attributes.run_name = '...').
CREATE INDEX mlflow_runs_name ON mlflow_runs(experiment_id, name);

-- +goose Down
DROP INDEX mlflow_runs_name;
DROP INDEX mlflow_run_tags_key_prefix;
DROP INDEX mlflow_params_key_prefix;
DROP INDEX mlflow_runs_experiment;
CREATE INDEX mlflow_runs_experiment ON mlflow_runs(experiment_id, lifecycle_stage, start_time DESC, run_uuid);
DROP TRIGGER mlflow_latest_metrics_experiment ON mlflow_latest_metrics;
DROP FUNCTION mlflow_latest_metrics_experiment();
DROP INDEX mlflow_latest_metrics_experiment;
ALTER TABLE mlflow_latest_metrics DROP COLUMN experiment_id;
