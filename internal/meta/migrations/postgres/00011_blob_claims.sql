-- +goose Up
-- The blob/GC boundary (docs/architecture.md, "Garbage collection").
--
-- touched_at: when a reference to the blob was last added or its bytes last
-- written (Unix ms). Garbage collection leaves a blob alone while it was
-- touched within the grace window, and writers touch the row in the
-- transaction that adds their reference.
ALTER TABLE blobs ADD COLUMN touched_at BIGINT NOT NULL DEFAULT 0;
UPDATE blobs SET touched_at = created_at;

-- A tombstone stands for a blob whose row garbage collection removed and
-- whose bytes it is deleting. Writers that store the same content wait
-- until the tombstone is gone; it goes only after the bytes are deleted.
CREATE TABLE blob_tombstones (
    digest     TEXT    PRIMARY KEY,
    created_at BIGINT NOT NULL
);

-- An upload session's writer lease: the request that may append to its
-- staged bytes now (a token), and until when (Unix ms). A chunk takes the
-- lease before it reads its body, so two concurrent chunks never write the
-- same staged bytes.
ALTER TABLE oci_uploads ADD COLUMN writer TEXT NOT NULL DEFAULT '';
ALTER TABLE oci_uploads ADD COLUMN writer_until BIGINT NOT NULL DEFAULT 0;

-- Every column that refers to blobs is indexed, so that the foreign key
-- check of a collection (and fsck) finds a blob's users without a scan.
CREATE INDEX oci_manifests_digest ON oci_manifests(digest);

-- +goose Down
DROP INDEX oci_manifests_digest;
ALTER TABLE oci_uploads DROP COLUMN writer_until;
ALTER TABLE oci_uploads DROP COLUMN writer;
DROP TABLE blob_tombstones;
ALTER TABLE blobs DROP COLUMN touched_at;
