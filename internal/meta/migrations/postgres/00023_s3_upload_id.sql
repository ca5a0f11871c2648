-- +goose Up
-- The multipart upload an object was completed from ('' for other writes),
-- so that completing that upload again answers with the same result for
-- as long as the object is the one it made (S3 retries Complete).
ALTER TABLE s3_objects ADD COLUMN upload_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE s3_objects DROP COLUMN upload_id;
