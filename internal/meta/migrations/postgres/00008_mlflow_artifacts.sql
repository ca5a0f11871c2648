-- +goose Up
-- Traces linked to runs (MLflow's LinkTracesToRun), besides the run a trace
-- was logged in (its mlflow.sourceRun metadata): what a traces search on
-- run_id also finds.
CREATE TABLE mlflow_trace_runs (
    trace_id TEXT NOT NULL REFERENCES mlflow_traces(trace_id) ON DELETE CASCADE,
    run_uuid TEXT COLLATE "C" NOT NULL REFERENCES mlflow_runs(run_uuid) ON DELETE CASCADE,
    PRIMARY KEY (trace_id, run_uuid)
);
CREATE INDEX mlflow_trace_runs_run ON mlflow_trace_runs(run_uuid, trace_id);

-- +goose Down
DROP TABLE mlflow_trace_runs;
