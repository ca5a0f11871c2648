-- +goose Up
-- S3 bucket tags (PutBucketTagging): a bucket's tag set as the JSON list
-- of {"Key", "Value"} in key order; no row when the bucket has none.
CREATE TABLE s3_bucket_tags (
    repository_id INTEGER PRIMARY KEY REFERENCES repositories(id) ON DELETE CASCADE,
    tags          TEXT   NOT NULL
);

-- +goose Down
DROP TABLE s3_bucket_tags;
