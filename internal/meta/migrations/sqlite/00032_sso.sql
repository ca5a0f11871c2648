-- +goose Up
-- Single sign-on (issue 19): accounts from LDAP and OpenID Connect.
--
-- users.source says where an account comes from: '' (a local account, with
-- or without a password), 'ldap' or 'oidc'. external_id is the identity at
-- the provider (the LDAP entry's DN; the OIDC issuer and subject), the only
-- thing an external sign-in is matched by: names never merge accounts.
-- synced_at is when the provider last described the account; sync_state
-- is 'removed' when a sync disabled it (the provider no longer knows it,
-- or it left the allowed groups), so that a later sync may enable it again
-- but never an account an administrator disabled.
ALTER TABLE users ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN synced_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN sync_state TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX users_external ON users(source, external_id) WHERE external_id <> '';

-- The groups an external account was in at its last sync; roles follow
-- from them by configuration (auth.ldap.group_roles, auth.oidc.group_roles).
CREATE TABLE user_groups (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name    TEXT    NOT NULL,
    PRIMARY KEY (user_id, name)
);

-- Sign-ins in progress: a browser's OIDC authorization request (state,
-- nonce, PKCE verifier) or a CLI's device authorization. id is the sha256
-- of the secret the browser or the CLI holds; data is JSON.
CREATE TABLE sso_pending (
    id         TEXT    PRIMARY KEY,
    kind       TEXT    NOT NULL,
    data       TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
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
