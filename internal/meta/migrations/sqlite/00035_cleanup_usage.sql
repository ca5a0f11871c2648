-- +goose Up
-- Every repository may name the owner (a person or team) its storage is
-- accounted to, and a quota in bytes (0: none) that uploads are checked
-- against, whatever its format.
ALTER TABLE repositories ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE repositories ADD COLUMN quota_bytes INTEGER NOT NULL DEFAULT 0;

-- Cleanup policies: of one repository (repository_id set) or of every
-- repository of a format (repository_id NULL). criteria is JSON
-- (internal/cleanup Criteria).
CREATE TABLE cleanup_policies (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    format        TEXT    NOT NULL,
    repository_id INTEGER REFERENCES repositories(id) ON DELETE CASCADE,
    criteria      TEXT    NOT NULL DEFAULT '{}',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    last_run_at   INTEGER NOT NULL DEFAULT 0,
    last_result   TEXT    NOT NULL DEFAULT ''
);

-- When content was last downloaded, by repository and the item's key (a
-- path, image@digest, module@version ...); written in batches.
CREATE TABLE cleanup_downloads (
    repository_id    INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    item             TEXT    NOT NULL,
    last_download_at INTEGER NOT NULL,
    PRIMARY KEY (repository_id, item)
);

-- Daily samples of storage use. scope is repository, owner, format or
-- total; name the repository, owner or format ('' for total).
CREATE TABLE usage_history (
    day          TEXT    NOT NULL, -- YYYY-MM-DD, UTC
    scope        TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    bytes        INTEGER NOT NULL,
    unique_bytes INTEGER NOT NULL,
    sampled_at   INTEGER NOT NULL,
    PRIMARY KEY (day, scope, name)
);

-- +goose Down
DROP TABLE usage_history;
DROP TABLE cleanup_downloads;
DROP TABLE cleanup_policies;
ALTER TABLE repositories DROP COLUMN quota_bytes;
ALTER TABLE repositories DROP COLUMN owner;
