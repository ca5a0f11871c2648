-- +goose Up
-- Files of hosted Maven repositories: artifacts, poms, sources, javadoc,
-- signatures, by their path below the repository. maven-metadata.xml and
-- checksum files are not stored: arca builds metadata from these rows and
-- answers checksums from the blobs' digests.
CREATE TABLE maven_files (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    group_id      TEXT    NOT NULL,
    artifact_id   TEXT    NOT NULL,
    version       TEXT    NOT NULL,              -- the version directory: 1.0 or 1.0-SNAPSHOT
    classifier    TEXT    NOT NULL DEFAULT '',
    extension     TEXT    NOT NULL,
    snapshot_ts   TEXT    NOT NULL DEFAULT '',   -- yyyyMMdd.HHmmss of a timestamped snapshot file
    build         INTEGER NOT NULL DEFAULT 0,    -- its build number
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          INTEGER NOT NULL,
    deployed_by   TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX maven_files_digest ON maven_files(digest);
CREATE INDEX maven_files_version ON maven_files(repository_id, group_id, artifact_id, version);

-- A proxy's cache: files and maven-metadata.xml as the upstream sent them.
-- Release files are kept forever; metadata and non-timestamped snapshot
-- files are fetched again once older than metadata_max_age.
CREATE TABLE maven_proxy_files (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    fetched_at    INTEGER NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX maven_proxy_files_digest ON maven_proxy_files(digest);

-- +goose Down
DROP TABLE maven_proxy_files;
DROP TABLE maven_files;
