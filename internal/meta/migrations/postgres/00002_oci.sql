-- +goose Up
-- Server-wide secrets shared by every arca process (e.g. the key that signs
-- registry tokens).
CREATE TABLE server_secrets (
    name       TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

-- Blob upload sessions; any process may continue one.
CREATE TABLE oci_uploads (
    id            TEXT    PRIMARY KEY,
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    state         TEXT    NOT NULL,   -- blob.WriterState as JSON
    size          BIGINT  NOT NULL DEFAULT 0,
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

-- Blobs an image may serve (pushed, mounted, or referenced by its manifests).
CREATE TABLE oci_blobs (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, digest)
);
CREATE INDEX oci_blobs_digest ON oci_blobs(digest);

-- Manifests; their bytes are a blob named by digest.
CREATE TABLE oci_manifests (
    repository_id BIGINT  NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    name          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    media_type    TEXT    NOT NULL,
    artifact_type TEXT    NOT NULL DEFAULT '',
    subject       TEXT    NOT NULL DEFAULT '',  -- the subject's digest as written in the manifest
    pushed_as     TEXT    NOT NULL DEFAULT '',  -- the digest the client pushed it by, when not sha256
    size          BIGINT  NOT NULL,
    annotations   TEXT    NOT NULL DEFAULT '',  -- JSON, served by the referrers API
    created_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, digest)
);
CREATE INDEX oci_manifests_subject ON oci_manifests(repository_id, name, subject);

-- What each manifest references (config, layers, child manifests), by sha256.
CREATE TABLE oci_manifest_refs (
    repository_id BIGINT  NOT NULL,
    name          TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL,
    child         TEXT    NOT NULL,
    PRIMARY KEY (repository_id, name, digest, child),
    FOREIGN KEY (repository_id, name, digest) REFERENCES oci_manifests(repository_id, name, digest) ON DELETE CASCADE
);
CREATE INDEX oci_manifest_refs_child ON oci_manifest_refs(child);

CREATE TABLE oci_tags (
    repository_id BIGINT  NOT NULL,
    name          TEXT    COLLATE "C" NOT NULL,
    tag           TEXT    COLLATE "C" NOT NULL,
    digest        TEXT    NOT NULL,
    updated_at    BIGINT  NOT NULL,
    PRIMARY KEY (repository_id, name, tag),
    FOREIGN KEY (repository_id, name, digest) REFERENCES oci_manifests(repository_id, name, digest) ON DELETE CASCADE
);

-- Finds a blob by its sha512, for clients that name content that way.
CREATE INDEX blobs_sha512 ON blobs(sha512) WHERE sha512 <> '';

-- +goose Down
DROP INDEX blobs_sha512;
DROP TABLE oci_tags;
DROP TABLE oci_manifest_refs;
DROP TABLE oci_manifests;
DROP TABLE oci_blobs;
DROP TABLE oci_uploads;
DROP TABLE server_secrets;
