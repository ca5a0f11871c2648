-- +goose Up
-- Files of hosted Maven repositories: artifacts, poms, sources, javadoc,
-- signatures, by their path below the repository. maven-metadata.xml and
-- checksum files are not stored: arca builds metadata from these rows and
-- answers checksums from the blobs' digests.
CREATE TABLE maven_files (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    COLLATE "C" NOT NULL,
    group_id      TEXT    COLLATE "C" NOT NULL,
    artifact_id   TEXT    COLLATE "C" NOT NULL,
    version       TEXT    COLLATE "C" NOT NULL,              -- the version directory: 1.0 or 1.0-SNAPSHOT
    classifier    TEXT    COLLATE "C" NOT NULL DEFAULT '',
    extension     TEXT    COLLATE "C" NOT NULL,
    snapshot_ts   TEXT    COLLATE "C" NOT NULL DEFAULT '',   -- yyyyMMdd.HHmmss of a timestamped snapshot file
    build         BIGINT  NOT NULL DEFAULT 0,    -- its build number
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          BIGINT  NOT NULL,
    deployed_by   TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX maven_files_digest ON maven_files(digest);
CREATE INDEX maven_files_version ON maven_files(repository_id, group_id, artifact_id, version);

-- A proxy's cache: files and maven-metadata.xml as the upstream sent them.
-- Release files are kept forever; metadata and non-timestamped snapshot
-- files are fetched again once older than metadata_max_age.
CREATE TABLE maven_proxy_files (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    path          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    fetched_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, path)
);
CREATE INDEX maven_proxy_files_digest ON maven_proxy_files(digest);

-- +goose Down
DROP TABLE maven_proxy_files;
DROP TABLE maven_files;
