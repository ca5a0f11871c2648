-- +goose Up
-- Webhook subscriptions: global (repository_id NULL, managed by global
-- admins) or of one repository (managed by its admins). events is a JSON
-- array of CloudEvents types or prefixes ending in '*'; empty means all.
-- secret is sealed under the server key webhook_secrets_key.
CREATE TABLE webhook_subscriptions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id  INTEGER REFERENCES repositories(id) ON DELETE CASCADE,
    url            TEXT    NOT NULL,
    secret         TEXT    NOT NULL DEFAULT '',
    events         TEXT    NOT NULL DEFAULT '[]',
    payload_format TEXT    NOT NULL DEFAULT 'cloudevents',
    enabled        INTEGER NOT NULL DEFAULT 1,
    description    TEXT    NOT NULL DEFAULT '',
    created_by     TEXT    NOT NULL DEFAULT '',
    created_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL
);
CREATE INDEX webhook_subscriptions_repository ON webhook_subscriptions(repository_id);

-- One row per event sent to one subscription (a redelivery is a new row
-- naming the one it repeats); payload is the CloudEvent as JSON.
CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id INTEGER NOT NULL REFERENCES webhook_subscriptions(id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    subject         TEXT    NOT NULL DEFAULT '',
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL,           -- queued, retrying, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT    NOT NULL DEFAULT '',
    redelivery_of   INTEGER,
    created_at      INTEGER NOT NULL,
    finished_at     INTEGER
);
CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, id DESC);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_at);

-- Every attempt of a delivery: the response's status and a bounded
-- excerpt of its body, or the error.
CREATE TABLE webhook_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries(id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    status_code INTEGER NOT NULL DEFAULT 0,
    response    TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts(delivery_id, attempt);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_subscriptions;
