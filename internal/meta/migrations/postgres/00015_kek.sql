-- +goose Up
-- The keys in server_secrets are wrapped (AES-256-GCM) under a
-- key-encryption key kept outside the database (internal/keyring); kek_id
-- names the KEK that wrapped a row's value, '' for a key stored in the
-- clear by an older arca (wrapped at the next start).
ALTER TABLE server_secrets ADD COLUMN kek_id TEXT NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE server_secrets DROP COLUMN kek_id;
