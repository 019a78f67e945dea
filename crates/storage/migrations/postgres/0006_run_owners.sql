-- Run ownership and typed run outputs. Keep in step with ../sqlite/0006_run_owners.sql, which
-- says why.
CREATE TABLE instances (
    id           TEXT   NOT NULL PRIMARY KEY,
    host         TEXT   NOT NULL,
    pid          BIGINT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL,
    stopped_at   BIGINT
);

ALTER TABLE job_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE job_runs ADD COLUMN heartbeat_at BIGINT;
ALTER TABLE exports ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE crew_runs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
CREATE INDEX job_runs_active_by_owner ON job_runs (owner) WHERE status IN ('queued', 'running');

CREATE TABLE job_run_outputs (
    run_id BIGINT NOT NULL REFERENCES job_runs (id) ON DELETE CASCADE,
    kind   TEXT   NOT NULL,
    ref_id BIGINT NOT NULL,
    PRIMARY KEY (run_id, kind, ref_id)
);
INSERT INTO job_run_outputs (run_id, kind, ref_id)
    SELECT id, 'export', export_id FROM job_runs WHERE export_id IS NOT NULL;
ALTER TABLE job_runs DROP COLUMN export_id;
