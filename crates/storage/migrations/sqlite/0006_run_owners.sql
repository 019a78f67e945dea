-- Run ownership and typed run outputs. Keep in step with ../postgres/0006_run_owners.sql.
--
-- Several processes (a `serve`, a CLI `jobs trigger`, later several instances on PostgreSQL)
-- share one database. Each registers itself in `instances` and beats a heartbeat; runs, exports
-- and crew runs carry the instance that owns them. Start-up recovery then touches only the work
-- of owners that stopped or whose heartbeat went stale, never a live process's. Rows from before
-- this migration have the owner '' and count as dead.
CREATE TABLE instances (
    id           TEXT    NOT NULL PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   INTEGER NOT NULL,
    heartbeat_at INTEGER NOT NULL,
    stopped_at   INTEGER
) STRICT;

ALTER TABLE job_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE job_runs ADD COLUMN heartbeat_at INTEGER;
ALTER TABLE exports ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE crew_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX job_runs_active_by_owner ON job_runs (owner) WHERE status IN ('queued', 'running');

-- What a run produced, as typed references (an export, a research note, later an alert): the
-- engine stores them without knowing what they are. Replaces `job_runs.export_id`.
CREATE TABLE job_run_outputs (
    run_id INTEGER NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    kind   TEXT    NOT NULL,
    ref_id INTEGER NOT NULL,
    PRIMARY KEY (run_id, kind, ref_id)
) STRICT;
INSERT INTO job_run_outputs (run_id, kind, ref_id)
    SELECT id, 'export', export_id FROM job_runs WHERE export_id IS NOT NULL;
ALTER TABLE job_runs DROP COLUMN export_id;
