-- +goose Up
-- npm packages of hosted repositories. etag changes with every change of
-- the package (publish, dist-tag, deprecate, unpublish), so that a
-- packument built once can be served again while it is current.
CREATE TABLE npm_packages (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    rev           BIGINT  NOT NULL DEFAULT 1,
    etag          TEXT    NOT NULL,
    description   TEXT    NOT NULL DEFAULT '',  -- of the latest version, for search
    keywords      TEXT    NOT NULL DEFAULT '',  -- of the latest version, space-separated, for search
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name)
);

-- Published versions. manifest is the version document as served, up to
-- and including `"tarball":"`: the tarball URL depends on the address the
-- client used, so it is appended when serving.
CREATE TABLE npm_versions (
    repository_id BIGINT  NOT NULL,
    name          TEXT    COLLATE "C" NOT NULL,
    version       TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          BIGINT  NOT NULL,
    manifest      TEXT    NOT NULL,
    abbreviated   TEXT    NOT NULL,
    published_by  TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, version),
    FOREIGN KEY (repository_id, name) REFERENCES npm_packages(repository_id, name) ON DELETE CASCADE
);
CREATE INDEX npm_versions_digest ON npm_versions(digest);

CREATE TABLE npm_dist_tags (
    repository_id BIGINT  NOT NULL,
    name          TEXT    COLLATE "C" NOT NULL,
    tag           TEXT    COLLATE "C" NOT NULL,
    version       TEXT    COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, name, tag),
    FOREIGN KEY (repository_id, name, version) REFERENCES npm_versions(repository_id, name, version) ON DELETE CASCADE
);
CREATE INDEX npm_dist_tags_version ON npm_dist_tags(repository_id, name, version);

-- A proxy's cached packuments, as the upstream sent them: form is 'full' or
-- 'abbreviated' (what the client asked for is what the upstream is asked).
CREATE TABLE npm_proxy_packuments (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    form          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    etag          TEXT    NOT NULL DEFAULT '',
    last_modified TEXT    NOT NULL DEFAULT '',
    fetched_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, form)
);
CREATE INDEX npm_proxy_packuments_digest ON npm_proxy_packuments(digest);

-- A proxy's cached tarballs; kept forever (a published tarball never changes).
CREATE TABLE npm_proxy_tarballs (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    file          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, file)
);
CREATE INDEX npm_proxy_tarballs_digest ON npm_proxy_tarballs(digest);

-- +goose Down
DROP TABLE npm_proxy_tarballs;
DROP TABLE npm_proxy_packuments;
DROP TABLE npm_dist_tags;
DROP TABLE npm_versions;
DROP TABLE npm_packages;
