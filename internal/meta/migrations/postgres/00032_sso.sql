-- +goose Up
-- Single sign-on (issue 19); see the SQLite migration of the same number.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN synced_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN sync_state TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external ON users(source, external_id) WHERE external_id <> '';

CREATE TABLE user_groups (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name    TEXT   NOT NULL,
    PRIMARY KEY (user_id, name)
);

CREATE TABLE sso_pending (
    id         TEXT   PRIMARY KEY,
    kind       TEXT   NOT NULL,
    data       TEXT   NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sso_pending_expires ON sso_pending(expires_at);

-- +goose Down
DROP TABLE sso_pending;
DROP TABLE user_groups;
DROP INDEX users_external;
ALTER TABLE users DROP COLUMN sync_state;
ALTER TABLE users DROP COLUMN synced_at;
ALTER TABLE users DROP COLUMN external_id;
ALTER TABLE users DROP COLUMN source;
