-- +goose Up
-- The search index (internal/search): one row per searchable item of every
-- format, rebuilt from the format tables by the search_index job. grp is
-- the unit the indexer refreshes at once (an image, a package, a key, an
-- MLflow run); scope_kind/scope_id name what a reader needs beyond the
-- repository: '' (the repository's own permission), 'experiment' or
-- 'registered_model' (MLflow's permission on that resource).
CREATE TABLE search_docs (
    id            INTEGER PRIMARY KEY,
    doc_key       TEXT    NOT NULL UNIQUE,
    format        TEXT    NOT NULL,
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    repository    TEXT    NOT NULL,
    grp           TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    name_lc       TEXT    NOT NULL,
    version       TEXT    NOT NULL DEFAULT '',
    digests       TEXT    NOT NULL DEFAULT '',  -- space-separated sha256 digests
    summary       TEXT    NOT NULL DEFAULT '',  -- shown with a result
    body          TEXT    NOT NULL DEFAULT '',  -- further searchable text (tags, labels, keywords)
    scope_kind    TEXT    NOT NULL DEFAULT '',
    scope_id      INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL,
    indexed_at    INTEGER NOT NULL DEFAULT 0   -- when the indexer last wrote it
);
CREATE INDEX search_docs_group ON search_docs(repository_id, format, grp);
CREATE INDEX search_docs_name ON search_docs(name_lc);

-- Full text over name, version and summary + body, kept in step with
-- search_docs by the triggers below (an external-content FTS5 table).
CREATE VIRTUAL TABLE search_fts USING fts5(name, version, body, content='search_docs', content_rowid='id',
    tokenize='unicode61 remove_diacritics 0', prefix='2 3');

-- +goose StatementBegin
CREATE TRIGGER search_docs_ai AFTER INSERT ON search_docs BEGIN
    INSERT INTO search_fts(rowid, name, version, body) VALUES (new.id, new.name, new.version, new.summary || ' ' || new.body);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER search_docs_ad AFTER DELETE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, name, version, body) VALUES ('delete', old.id, old.name, old.version, old.summary || ' ' || old.body);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER search_docs_au AFTER UPDATE ON search_docs BEGIN
    INSERT INTO search_fts(search_fts, rowid, name, version, body) VALUES ('delete', old.id, old.name, old.version, old.summary || ' ' || old.body);
    INSERT INTO search_fts(rowid, name, version, body) VALUES (new.id, new.name, new.version, new.summary || ' ' || new.body);
END;
-- +goose StatementEnd

-- "Where is this content used": manifests by digest, for the digest search.
CREATE INDEX IF NOT EXISTS oci_manifests_digest ON oci_manifests(digest);

-- +goose Down
DROP INDEX IF EXISTS oci_manifests_digest;
DROP TRIGGER search_docs_au;
DROP TRIGGER search_docs_ad;
DROP TRIGGER search_docs_ai;
DROP TABLE search_fts;
DROP TABLE search_docs;
