-- +goose Up
-- Spans of traces exported over OTLP (/mlflow/v1/traces), stored in the
-- tracking store as MLflow's server stores them (the trace's
-- mlflow.trace.spansLocation tag is TRACKING_STORE). content is the span
-- as OTLP protobuf JSON, what GetTrace and BatchGetTraces answer with.
CREATE TABLE mlflow_trace_spans (
    trace_id       TEXT    NOT NULL REFERENCES mlflow_traces(trace_id) ON DELETE CASCADE,
    span_id        TEXT    NOT NULL,             -- 16 hex digits
    parent_span_id TEXT    NOT NULL DEFAULT '',  -- '' for the root span
    name           TEXT    NOT NULL DEFAULT '',
    start_time_ns  INTEGER NOT NULL,
    end_time_ns    INTEGER NOT NULL DEFAULT 0,
    status         TEXT    NOT NULL DEFAULT 'UNSET', -- OK | ERROR | UNSET
    content        TEXT    NOT NULL,
    PRIMARY KEY (trace_id, span_id)
);

-- Prompt versions a trace used (LinkPromptsToTrace), which a traces search
-- finds with prompt = "name/version". The prompt need not exist, as in MLflow.
CREATE TABLE mlflow_trace_prompts (
    trace_id       TEXT NOT NULL REFERENCES mlflow_traces(trace_id) ON DELETE CASCADE,
    prompt_name    TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    PRIMARY KEY (trace_id, prompt_name, prompt_version)
);
CREATE INDEX mlflow_trace_prompts_prompt ON mlflow_trace_prompts(prompt_name, prompt_version);

-- +goose Down
DROP TABLE mlflow_trace_prompts;
DROP TABLE mlflow_trace_spans;
