-- +goose Up
-- Lineage: which artifact was made from which. A link goes from what was
-- used (upstream) to what was made of it (downstream); both ends are
-- lineage refs (internal/lineage/ref.go: oci:, mlflow-run:, model:,
-- logged-model:, dataset:, s3:, raw:, dvc-md5:), stored canonical. A link
-- names content by its address, not by a foreign key: a link outlives
-- neither end's permission check (every read filters by the caller) but
-- may outlive the artifact itself, which the walk then shows as it was.
CREATE TABLE lineage_links (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    from_ref   TEXT    NOT NULL,
    to_ref     TEXT    NOT NULL,
    relation   TEXT    NOT NULL,                -- e.g. input, produced, registered, packaged, stored_at, declares
    origin     TEXT    NOT NULL DEFAULT 'auto', -- auto (extracted from what arrived) | api (added by a user)
    created_by TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    UNIQUE (from_ref, to_ref, relation)
);
CREATE INDEX lineage_links_to ON lineage_links(to_ref, from_ref);

-- +goose Down
DROP TABLE lineage_links;
