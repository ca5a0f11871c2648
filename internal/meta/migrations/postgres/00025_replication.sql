-- +goose Up
-- Replication policies: a local repository copied to (push) or from (pull)
-- a remote one. config is the policy's JSON (remote, filters, triggers);
-- its credentials are sealed under a server key, bound to the policy name.
CREATE TABLE replication_policies (
    id            BIGSERIAL PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    direction     TEXT    NOT NULL,            -- push or pull
    on_event      BOOLEAN NOT NULL DEFAULT FALSE,  -- push policies: replicate each change as it happens
    enabled       BOOLEAN NOT NULL DEFAULT TRUE,
    config        TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);
CREATE INDEX replication_policies_repository ON replication_policies(repository_id);

-- One execution of a policy, and what it did to each item.
CREATE TABLE replication_runs (
    id          BIGSERIAL PRIMARY KEY,
    policy_id   BIGINT  NOT NULL REFERENCES replication_policies(id) ON DELETE CASCADE,
    job_id      BIGINT  NOT NULL DEFAULT 0,
    attempt     BIGINT  NOT NULL DEFAULT 1,
    cause       TEXT    NOT NULL,            -- what started it: event, schedule, manual
    state       TEXT    NOT NULL,            -- running, succeeded, failed
    started_at  BIGINT  NOT NULL,
    finished_at BIGINT  NOT NULL DEFAULT 0,
    copied      BIGINT  NOT NULL DEFAULT 0,
    skipped     BIGINT  NOT NULL DEFAULT 0,
    deleted     BIGINT  NOT NULL DEFAULT 0,
    failed      BIGINT  NOT NULL DEFAULT 0,
    bytes       BIGINT  NOT NULL DEFAULT 0,
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX replication_runs_policy ON replication_runs(policy_id, id);

CREATE TABLE replication_items (
    id      BIGSERIAL PRIMARY KEY,
    run_id  BIGINT  NOT NULL REFERENCES replication_runs(id) ON DELETE CASCADE,
    item    TEXT    NOT NULL,   -- image:tag, object key, path, project/file, package@version
    outcome TEXT    NOT NULL,   -- copied, skipped, deleted, failed
    bytes   BIGINT  NOT NULL DEFAULT 0,
    error   TEXT    NOT NULL DEFAULT '',
    at      BIGINT  NOT NULL
);
CREATE INDEX replication_items_run ON replication_items(run_id, id);

-- +goose Down
DROP TABLE replication_items;
DROP TABLE replication_runs;
DROP TABLE replication_policies;
