-- Job runs, export records and API tokens. Keep in step with ../postgres/0002_jobs_exports_tokens.sql.

-- One row per run of a job. The partial unique index is the single-flight rule: at most one
-- queued or running run per job, enforced by the database itself, so it holds across tasks,
-- processes and (on PostgreSQL) instances.
-- AUTOINCREMENT: ids are never reused, so a stale run or export id cannot name a newer one
-- after the newest row was deleted (plain INTEGER PRIMARY KEY reuses the highest id).
CREATE TABLE job_runs (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    job         TEXT    NOT NULL,
    status      TEXT    NOT NULL CHECK (status IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'interrupted')),
    trigger     TEXT    NOT NULL,
    queued_at   INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    error       TEXT,
    export_id   INTEGER
) STRICT;
CREATE UNIQUE INDEX job_runs_single_flight ON job_runs (job) WHERE status IN ('queued', 'running');
CREATE INDEX job_runs_by_job ON job_runs (job, id);

-- What a run did per symbol.
CREATE TABLE job_run_items (
    run_id   INTEGER NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    symbol   TEXT    NOT NULL,
    status   TEXT    NOT NULL CHECK (status IN ('succeeded', 'failed')),
    bars     INTEGER NOT NULL,
    provider TEXT,
    error    TEXT,
    PRIMARY KEY (run_id, symbol)
) STRICT;

-- Export files. `ready` is set only after the file was fsynced and renamed into place; the file
-- name is ours (never a user's path) and lives in the configured export directory.
CREATE TABLE exports (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    created_at INTEGER NOT NULL,
    format     TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL CHECK (status IN ('writing', 'ready', 'failed')),
    file_name  TEXT    NOT NULL UNIQUE,
    rows       INTEGER,
    bytes      INTEGER,
    sha256     TEXT,
    run_id     INTEGER REFERENCES job_runs (id) ON DELETE SET NULL,
    error      TEXT
) STRICT;
CREATE INDEX exports_by_created ON exports (created_at);

-- API tokens: only a SHA-256 of the token is stored; the token is shown once at creation.
CREATE TABLE api_tokens (
    id           INTEGER NOT NULL PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    token_hash   TEXT    NOT NULL UNIQUE,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
) STRICT;
