-- +goose Up
-- Distribution files of hosted PyPI repositories.
CREATE TABLE pypi_files (
    repository_id   BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    project         TEXT    COLLATE "C" NOT NULL,  -- PEP 503 normalized name
    filename        TEXT    COLLATE "C" NOT NULL,
    name            TEXT    NOT NULL,  -- the name as its metadata spells it
    version         TEXT    NOT NULL,  -- PEP 440 normalized
    filetype        TEXT    NOT NULL,  -- bdist_wheel | sdist
    python_version  TEXT    NOT NULL DEFAULT '',
    requires_python TEXT    NOT NULL DEFAULT '',
    digest          TEXT    NOT NULL REFERENCES blobs(digest),
    size            BIGINT  NOT NULL,
    metadata_digest TEXT    REFERENCES blobs(digest),  -- a wheel's METADATA (PEP 658); NULL for sdists
    metadata        TEXT    NOT NULL DEFAULT '{}',     -- core metadata fields, JSON
    yanked          BOOLEAN NOT NULL DEFAULT FALSE,
    yanked_reason   TEXT    NOT NULL DEFAULT '',
    uploaded_by     TEXT    NOT NULL DEFAULT '',
    created_at      BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, project, filename),
    UNIQUE (repository_id, filename)
);
CREATE INDEX pypi_files_digest ON pypi_files(digest);
CREATE INDEX pypi_files_metadata_digest ON pypi_files(metadata_digest);

-- One row per project of a hosted repository. generation changes (to a
-- fresh random value) with every upload, yank and delete in the project, in
-- the same transaction, so that any arca process can tell whether a page it
-- rendered earlier is still current.
CREATE TABLE pypi_projects (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    project       TEXT    COLLATE "C" NOT NULL,
    name          TEXT    NOT NULL,
    generation    TEXT    NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, project)
);

-- Project pages a proxy repository fetched from its upstream: the page's
-- links as JSON, or status 404 (the negative cache).
CREATE TABLE pypi_proxy_pages (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    project       TEXT    COLLATE "C" NOT NULL,
    name          TEXT    NOT NULL DEFAULT '',
    status        INTEGER NOT NULL,
    etag          TEXT    NOT NULL DEFAULT '',
    page          TEXT    NOT NULL DEFAULT '',
    checked_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, project)
);

-- Files (and "<file>.metadata" files) a proxy repository has cached.
CREATE TABLE pypi_proxy_files (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    project       TEXT    COLLATE "C" NOT NULL,
    filename      TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, project, filename)
);
CREATE INDEX pypi_proxy_files_digest ON pypi_proxy_files(digest);

-- +goose Down
DROP TABLE pypi_proxy_files;
DROP TABLE pypi_proxy_pages;
DROP TABLE pypi_projects;
DROP TABLE pypi_files;
