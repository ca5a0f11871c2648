-- +goose Up
-- Small blobs kept in their row instead of the blob store (blob.Store's
-- inline writes, docs/architecture.md "Small blobs live in the database"):
-- the bytes of a blob whose data is not NULL are these, and no file of the
-- blob store holds them. Only the database's writers that are sure every
-- process reading it knows this column write it (SQLite: one server per
-- data directory); every release from this one reads it.
ALTER TABLE blobs ADD COLUMN data BLOB;

-- +goose Down
ALTER TABLE blobs DROP COLUMN data;
