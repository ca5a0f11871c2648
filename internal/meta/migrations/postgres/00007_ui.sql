-- +goose Up
-- Web UI sessions. The browser holds a random token in an HttpOnly cookie;
-- only its sha256 is stored, so a copy of the database signs nobody in.
-- csrf is the session's anti-forgery token, echoed by every form.
CREATE TABLE ui_sessions (
    hash         TEXT    PRIMARY KEY,   -- sha256 hex of the cookie's token
    user_id      BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf         TEXT    NOT NULL,
    remote_addr  TEXT    NOT NULL DEFAULT '',
    user_agent   TEXT    NOT NULL DEFAULT '',
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL
);
CREATE INDEX ui_sessions_user ON ui_sessions(user_id);
CREATE INDEX ui_sessions_expires ON ui_sessions(expires_at);

-- +goose Down
DROP TABLE ui_sessions;
