-- +goose Up
-- The search index (internal/search): one row per searchable item of every
-- format, rebuilt from the format tables by the search_index job. grp is
-- the unit the indexer refreshes at once (an image, a package, a key, an
-- MLflow run); scope_kind/scope_id name what a reader needs beyond the
-- repository: '' (the repository's own permission), 'experiment' or
-- 'registered_model' (MLflow's permission on that resource). tsv weighs
-- the name (A) over the version (B) over the rest (C); words are runs of
-- letters and digits, as internal/search splits queries.
CREATE TABLE search_docs (
    id            BIGSERIAL PRIMARY KEY,
    doc_key       TEXT    NOT NULL UNIQUE,
    format        TEXT    NOT NULL,
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    repository    TEXT    NOT NULL,
    grp           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    name_lc       TEXT    NOT NULL,
    version       TEXT    NOT NULL DEFAULT '',
    digests       TEXT    NOT NULL DEFAULT '',
    summary       TEXT    NOT NULL DEFAULT '',
    body          TEXT    NOT NULL DEFAULT '',
    scope_kind    TEXT    NOT NULL DEFAULT '',
    scope_id      BIGINT  NOT NULL DEFAULT 0,
    updated_at    BIGINT  NOT NULL,
    indexed_at    BIGINT  NOT NULL DEFAULT 0,  -- when the indexer last wrote it
    tsv tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('simple', regexp_replace(name, '[^[:alnum:]]+', ' ', 'g')), 'A') ||
        setweight(to_tsvector('simple', regexp_replace(version, '[^[:alnum:]]+', ' ', 'g')), 'B') ||
        setweight(to_tsvector('simple', regexp_replace(summary || ' ' || body, '[^[:alnum:]]+', ' ', 'g')), 'C')
    ) STORED
);
CREATE INDEX search_docs_group ON search_docs(repository_id, format, grp);
CREATE INDEX search_docs_name ON search_docs(name_lc);
CREATE INDEX search_docs_tsv ON search_docs USING GIN (tsv);

-- "Where is this content used": manifests by digest, for the digest search.
CREATE INDEX IF NOT EXISTS oci_manifests_digest ON oci_manifests(digest);

-- +goose Down
DROP INDEX IF EXISTS oci_manifests_digest;
DROP TABLE search_docs;
