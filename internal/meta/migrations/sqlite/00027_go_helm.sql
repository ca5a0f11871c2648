-- +goose Up
-- Versions of Go modules published to hosted Go repositories. The module
-- zip and its go.mod are blobs; .info is built from created_at. h1 is the
-- go.sum hash of the zip (golang.org/x/mod/sumdb/dirhash).
CREATE TABLE go_versions (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    module        TEXT    NOT NULL,              -- the module path, not case-encoded
    version       TEXT    NOT NULL,              -- canonical semver: v1.2.3, v2.0.0+incompatible, pseudo-versions
    zip_digest    TEXT    NOT NULL REFERENCES blobs(digest),
    mod_digest    TEXT    NOT NULL REFERENCES blobs(digest),
    h1            TEXT    NOT NULL,
    size          INTEGER NOT NULL,              -- of the zip
    published_by  TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, module, version)
);
CREATE INDEX go_versions_zip ON go_versions(zip_digest);
CREATE INDEX go_versions_mod ON go_versions(mod_digest);

-- A Go proxy's cache: what its upstream GOPROXY answered, by the
-- case-encoded path below the proxy (golang.org/x/mod/@v/v0.1.0.zip).
-- .info, .mod and .zip of a version are kept forever; @v/list and @latest
-- are fetched again once older than list_max_age.
CREATE TABLE go_proxy_files (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    fetched_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX go_proxy_files_digest ON go_proxy_files(digest);

-- Charts of hosted Helm chart repositories. meta is Chart.yaml as JSON
-- (what an index.yaml entry repeats); prov_digest is the provenance file
-- as uploaded, '' until one is.
CREATE TABLE helm_charts (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          INTEGER NOT NULL,
    prov_digest   TEXT    REFERENCES blobs(digest),
    meta          TEXT    NOT NULL,
    uploaded_by   TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, name, version)
);
CREATE INDEX helm_charts_digest ON helm_charts(digest);
CREATE INDEX helm_charts_prov ON helm_charts(prov_digest);

-- A Helm proxy's cache: the upstream's index.yaml (fetched again once
-- older than index_max_age) and the charts and provenance files it names
-- (kept forever), by their path below the proxy.
CREATE TABLE helm_proxy_files (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    fetched_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX helm_proxy_files_digest ON helm_proxy_files(digest);

-- +goose Down
DROP TABLE helm_proxy_files;
DROP TABLE helm_charts;
DROP TABLE go_proxy_files;
DROP TABLE go_versions;
