-- +goose Up
-- Parts of the search index to rebuild (internal/app/search.go): a change
-- records its repository and group here in its own transaction, and one
-- search_pending job per second of changes drains the table, instead of a
-- job per changed item. An empty group is the whole
-- repository. Derived data: backups leave it out.
CREATE TABLE search_pending (
    repository TEXT NOT NULL,
    grp        TEXT NOT NULL,
    queued_at  BIGINT NOT NULL, -- ms; a drain takes what was queued before it started
    PRIMARY KEY (repository, grp)
);
CREATE INDEX search_pending_queued ON search_pending(queued_at);

-- +goose Down
DROP TABLE search_pending;
