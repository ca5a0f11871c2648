-- +goose Up
-- S3 bucket versioning. A bucket's state: no row (never configured),
-- Enabled or Suspended.
CREATE TABLE s3_bucket_versioning (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    status        TEXT    NOT NULL
);

-- The current version of a key stays in s3_objects; version_id is '' for
-- the null version.
ALTER TABLE s3_objects ADD COLUMN version_id TEXT NOT NULL DEFAULT '';

-- Noncurrent versions and delete markers, newest with the highest seq.
-- A version names its blob like any object (the blob/GC rule: a foreign
-- key, added with gc.Claim when a current object becomes noncurrent); a
-- delete marker names none.
CREATE TABLE s3_object_versions (
    repository_id INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    key           TEXT    NOT NULL,
    version_id    TEXT    NOT NULL,            -- 'null' for the null version
    seq           INTEGER NOT NULL,
    delete_marker INTEGER NOT NULL DEFAULT 0,
    digest        TEXT    REFERENCES blobs(digest),
    size          INTEGER NOT NULL DEFAULT 0,
    etag          TEXT    NOT NULL DEFAULT '',
    content_type  TEXT    NOT NULL DEFAULT '',
    headers       TEXT    NOT NULL DEFAULT '',
    checksums     TEXT    NOT NULL DEFAULT '',
    part_sizes    TEXT    NOT NULL DEFAULT '',
    created_by    TEXT    NOT NULL DEFAULT '',
    modified_at   INTEGER NOT NULL,
    upload_id     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (repository_id, key, version_id)
);
-- Listings and promotions read a key's versions newest first.
CREATE UNIQUE INDEX s3_object_versions_seq ON s3_object_versions(repository_id, key, seq DESC);
CREATE INDEX s3_object_versions_digest ON s3_object_versions(digest);

-- +goose Down
DROP TABLE s3_object_versions;
ALTER TABLE s3_objects DROP COLUMN version_id;
DROP TABLE s3_bucket_versioning;
