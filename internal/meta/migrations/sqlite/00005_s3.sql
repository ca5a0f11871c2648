-- +goose Up
-- S3 access keys of users and robots. The secret is sealed with AES-256-GCM
-- under a key in server_secrets (SigV4 needs the secret itself, so it
-- cannot be stored as a one-way hash).
CREATE TABLE access_keys (
    id            INTEGER PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    access_key_id TEXT    NOT NULL UNIQUE,
    secret        TEXT    NOT NULL,            -- base64(nonce || AES-GCM ciphertext)
    description   TEXT    NOT NULL DEFAULT '',
    last_used_at  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL
);
CREATE INDEX access_keys_user ON access_keys(user_id);

-- Objects of S3 buckets (repositories of format s3): key -> blob.
CREATE TABLE s3_objects (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    digest        TEXT    NOT NULL REFERENCES blobs(digest),
    size          INTEGER NOT NULL,
    etag          TEXT    NOT NULL,            -- md5 hex, or md5 of the parts' md5s + "-N"
    content_type  TEXT    NOT NULL DEFAULT '',
    headers       TEXT    NOT NULL DEFAULT '', -- JSON: stored content headers and x-amz-meta-*
    checksums     TEXT    NOT NULL DEFAULT '', -- JSON: algorithm -> base64 value, and the checksum type
    part_sizes    TEXT    NOT NULL DEFAULT '', -- JSON array of part sizes of a multipart object
    created_by    TEXT    NOT NULL DEFAULT '',
    modified_at   INTEGER NOT NULL,
    PRIMARY KEY (repository_id, key)
);
CREATE INDEX s3_objects_digest ON s3_objects(digest);

-- Multipart uploads in progress; any process may continue one.
CREATE TABLE s3_uploads (
    id            TEXT    PRIMARY KEY,
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    content_type  TEXT    NOT NULL DEFAULT '',
    headers       TEXT    NOT NULL DEFAULT '',
    checksum_algorithm TEXT NOT NULL DEFAULT '',
    checksum_type TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);
CREATE INDEX s3_uploads_key ON s3_uploads(repository_id, key, id);

-- Each uploaded part is a blob of its own until the upload completes.
CREATE TABLE s3_parts (
    upload_id   TEXT    NOT NULL REFERENCES s3_uploads(id) ON DELETE CASCADE,
    part_number INTEGER NOT NULL,
    digest      TEXT    NOT NULL REFERENCES blobs(digest),
    size        INTEGER NOT NULL,
    etag        TEXT    NOT NULL,              -- md5 hex
    checksums   TEXT    NOT NULL DEFAULT '',
    modified_at INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
CREATE INDEX s3_parts_digest ON s3_parts(digest);

-- +goose Down
DROP TABLE s3_parts;
DROP TABLE s3_uploads;
DROP TABLE s3_objects;
DROP TABLE access_keys;
