-- +goose Up
-- External scanners that speak Harbor's Pluggable Scanner API, registered
-- by admins (internal/scan/adapter.go). credential is sealed under the
-- server key scanner_credentials_key; metadata is the adapter's last
-- answer to GET /api/v1/metadata.
CREATE TABLE scanner_adapters (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    url             TEXT    NOT NULL,
    auth            TEXT    NOT NULL DEFAULT 'none', -- none | basic | bearer | apikey
    credential      TEXT    NOT NULL DEFAULT '',
    skip_tls_verify INTEGER NOT NULL DEFAULT 0,
    enabled         INTEGER NOT NULL DEFAULT 1,
    metadata        TEXT    NOT NULL DEFAULT '{}',
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- The last report of each adapter on each artifact, beside arca's own in
-- scan_reports (which keeps one row per artifact, so adapters' reports
-- live here). status: ok | pending | error.
CREATE TABLE scan_adapter_reports (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    ref            TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    scanner        TEXT    NOT NULL,
    status         TEXT    NOT NULL,
    error          TEXT    NOT NULL DEFAULT '',
    counts         TEXT    NOT NULL DEFAULT '{}',
    worst          INTEGER NOT NULL DEFAULT 0,
    worst_advisory TEXT    NOT NULL DEFAULT '',
    attempts       INTEGER NOT NULL DEFAULT 0,
    scanned_at     INTEGER NOT NULL,
    UNIQUE (repository_id, kind, name, ref, scanner)
);
CREATE INDEX scan_adapter_reports_digest ON scan_adapter_reports(digest);

CREATE TABLE scan_adapter_findings (
    report_id   INTEGER NOT NULL REFERENCES scan_adapter_reports(id) ON DELETE CASCADE,
    component   TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    ecosystem   TEXT    NOT NULL,
    advisory_id TEXT    NOT NULL,
    aliases     TEXT    NOT NULL DEFAULT '[]',
    summary     TEXT    NOT NULL DEFAULT '',
    severity    INTEGER NOT NULL,
    score       REAL    NOT NULL DEFAULT 0,
    fixed       TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (report_id, component, version, advisory_id)
);
