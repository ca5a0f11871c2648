-- +goose NO TRANSACTION
-- +goose Up
-- Authentication hardening (issue 22):
--
-- 1. users.id becomes AUTOINCREMENT, so SQLite never hands a deleted
--    user's ID to a new user (plain INTEGER PRIMARY KEY reuses the largest
--    ID once its row is gone). PostgreSQL identity columns never reuse.
--    SQLite cannot add AUTOINCREMENT in place: the table is rebuilt with
--    foreign keys off (the documented 12-step procedure), because dropping
--    the old table with them on would cascade-delete every token, role,
--    access key and session. PRAGMA foreign_keys cannot change inside a
--    transaction, hence NO TRANSACTION; goose runs these statements on one
--    connection, and the rebuild itself is one explicit transaction.
-- 2. tokens.manage_credentials: whether a token may create tokens and
--    access keys or change a password.
-- 3. login_failures: failed logins per (user name, client address), for
--    lockout. Keyed by the name as sent, so unknown names lock exactly as
--    existing ones do, and one address cannot lock an account for others.
--    users.failed_logins and users.locked_until are no longer used.
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
CREATE TABLE users_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL DEFAULT 'user',  -- user | robot
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',      -- global role on every repository; '' = none
    disabled      INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,       -- unused since 00012 (login_failures)
    locked_until  INTEGER NOT NULL DEFAULT 0,       -- unused since 00012 (login_failures)
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
INSERT INTO users_new (id, name, kind, email, password_hash, role, disabled, failed_logins, locked_until, created_at, updated_at)
    SELECT id, name, kind, email, password_hash, role, disabled, failed_logins, locked_until, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
ALTER TABLE tokens ADD COLUMN manage_credentials INTEGER NOT NULL DEFAULT 1;
CREATE TABLE login_failures (
    name         TEXT    NOT NULL,   -- the user name as sent, existing or not
    client       TEXT    NOT NULL,   -- the client address
    failures     INTEGER NOT NULL,
    locked_until INTEGER NOT NULL DEFAULT 0,
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (name, client)
);
CREATE INDEX login_failures_updated ON login_failures(updated_at);
COMMIT;
PRAGMA foreign_keys = ON;

-- +goose Down
PRAGMA foreign_keys = OFF;
BEGIN IMMEDIATE;
DROP TABLE login_failures;
ALTER TABLE tokens DROP COLUMN manage_credentials;
CREATE TABLE users_old (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    kind          TEXT    NOT NULL DEFAULT 'user',
    email         TEXT    NOT NULL DEFAULT '',
    password_hash TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL DEFAULT '',
    disabled      INTEGER NOT NULL DEFAULT 0,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
INSERT INTO users_old SELECT id, name, kind, email, password_hash, role, disabled, failed_logins, locked_until, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_old RENAME TO users;
COMMIT;
PRAGMA foreign_keys = ON;
