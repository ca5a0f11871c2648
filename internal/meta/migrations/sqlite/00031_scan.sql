-- +goose Up
-- Vulnerability data (OSV advisories, as imported) and scan results.
-- An advisory is kept whole as its OSV JSON; vuln_affected indexes which
-- (ecosystem, package) pairs it names, so that matching a component is
-- one index range plus the range evaluation of the few advisories found.
CREATE TABLE vuln_advisories (
    id          TEXT    PRIMARY KEY,
    modified    TEXT    NOT NULL DEFAULT '',
    aliases     TEXT    NOT NULL DEFAULT '[]',   -- JSON array
    summary     TEXT    NOT NULL DEFAULT '',
    severity    INTEGER NOT NULL DEFAULT 0,      -- scan.Severity
    score       REAL    NOT NULL DEFAULT 0,      -- CVSS base score, 0 when none
    doc         TEXT    NOT NULL,
    imported_at INTEGER NOT NULL
);

CREATE TABLE vuln_affected (
    ecosystem   TEXT NOT NULL,  -- as OSV names it, e.g. PyPI, npm, Debian:12, Alpine:v3.18
    base        TEXT NOT NULL,  -- the ecosystem without its release: Debian, Alpine
    package     TEXT NOT NULL,  -- normalised (PyPI: PEP 503)
    advisory_id TEXT NOT NULL REFERENCES vuln_advisories(id) ON DELETE CASCADE,
    PRIMARY KEY (base, package, ecosystem, advisory_id)
);
CREATE INDEX vuln_affected_advisory ON vuln_affected(advisory_id);

-- One row per source of data imported (an ecosystem's export or a file):
-- when, how many advisories, so that the UI and API can say how fresh the
-- data is.
CREATE TABLE vuln_sources (
    name        TEXT    PRIMARY KEY,
    advisories  INTEGER NOT NULL,
    imported_at INTEGER NOT NULL
);

-- The last scan of an artifact: an image manifest (kind oci, name = image,
-- ref = manifest digest), a PyPI file (pypi, project, filename) or an npm
-- version (npm, package, version). digest is the artifact's content (the
-- manifest, the file, the tarball) and is what download policies look up;
-- it is not a reference that keeps bytes alive (no foreign key to blobs).
CREATE TABLE scan_reports (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    repository_id  INTEGER NOT NULL REFERENCES repositories(id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    ref            TEXT    NOT NULL,
    digest         TEXT    NOT NULL,
    status         TEXT    NOT NULL,             -- ok | error
    error          TEXT    NOT NULL DEFAULT '',
    components     TEXT    NOT NULL DEFAULT '[]', -- JSON: what was found, for rescans without the layers
    counts         TEXT    NOT NULL DEFAULT '{}', -- JSON: findings per severity
    worst          INTEGER NOT NULL DEFAULT 0,
    worst_advisory TEXT    NOT NULL DEFAULT '',
    scanner        TEXT    NOT NULL DEFAULT 'arca',
    scanned_at     INTEGER NOT NULL,
    UNIQUE (repository_id, kind, name, ref)
);
CREATE INDEX scan_reports_digest ON scan_reports(digest);
CREATE INDEX scan_reports_worst ON scan_reports(worst);

CREATE TABLE scan_findings (
    report_id   INTEGER NOT NULL REFERENCES scan_reports(id) ON DELETE CASCADE,
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
CREATE INDEX scan_findings_severity ON scan_findings(severity);
