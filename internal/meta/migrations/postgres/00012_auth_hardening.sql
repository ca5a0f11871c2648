-- +goose Up
-- Authentication hardening (issue 22); see the SQLite migration of the
-- same number. Identity columns never reuse IDs, so users needs no change.
ALTER TABLE tokens ADD COLUMN manage_credentials BOOLEAN NOT NULL DEFAULT TRUE;
CREATE TABLE login_failures (
    name         TEXT    NOT NULL,   -- the user name as sent, existing or not
    client       TEXT    NOT NULL,   -- the client address
    failures     BIGINT  NOT NULL,
    locked_until BIGINT  NOT NULL DEFAULT 0,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (name, client)
);
CREATE INDEX login_failures_updated ON login_failures(updated_at);

-- +goose Down
DROP TABLE login_failures;
ALTER TABLE tokens DROP COLUMN manage_credentials;
