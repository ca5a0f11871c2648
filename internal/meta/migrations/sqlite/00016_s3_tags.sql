-- +goose Up
-- Object tags (S3 object tagging): up to 10 per object, kept in the order
-- the client gave them. They belong to the object row: an object's delete
-- (or its bucket's) deletes them, and every write of the key replaces them.
CREATE TABLE s3_object_tags (
    repository_id INTEGER NOT NULL,
    key           TEXT    NOT NULL,
    position      INTEGER NOT NULL,
    tag_key       TEXT    NOT NULL,
    tag_value     TEXT    NOT NULL,
    PRIMARY KEY (repository_id, key, tag_key),
    FOREIGN KEY (repository_id, key) REFERENCES s3_objects(repository_id, key) ON DELETE CASCADE
);

-- The tags a multipart upload gives its object at completion
-- (x-amz-tagging of CreateMultipartUpload, as sent: URL query encoding).
ALTER TABLE s3_uploads ADD COLUMN tagging TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE s3_uploads DROP COLUMN tagging;
DROP TABLE s3_object_tags;
